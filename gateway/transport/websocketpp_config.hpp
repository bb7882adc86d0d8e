#pragma once
// websocketpp's configuration for the gateway, in one place so that the bare-websocketpp
// server of the benchmark (bench/socketio/websocketpp_floor_server.cpp) measures exactly the
// library the gateway runs. Include only from C++17 translation units (websocketpp 0.8.2).

#include <websocketpp/concurrency/none.hpp>
#include <websocketpp/config/asio_no_tls.hpp>
#include <websocketpp/server.hpp>

#include "gateway/transport/listener.hpp"

#include <boost/asio/io_context.hpp>

namespace nospace::transport {

class WsConnectionImpl;

// Extra fields websocketpp stores inside each of its connection objects: the handle that
// owns this connection, so messages reach it without a lookup table.
struct ConnectionData {
  WsConnectionImpl *owner = nullptr;
};

// websocketpp's asio config, single-threaded (no locks: one io_context thread) and with a
// 1 KiB read buffer instead of 16 KiB, which sits inside every connection object:
// per-connection memory matters at 10,000 idle connections, and events are small.
// (Each connection object also carries two 1 KiB handler_allocator buffers for its pending
// read and write; their size is a constant of websocketpp's asio transport, not of the
// config.)
struct ServerConfig : websocketpp::config::asio {
  using type = ServerConfig;
  using base = websocketpp::config::asio;

  typedef websocketpp::concurrency::none concurrency_type;
  typedef base::request_type request_type;
  typedef base::response_type response_type;
  typedef base::message_type message_type;
  typedef base::con_msg_manager_type con_msg_manager_type;
  typedef base::endpoint_msg_manager_type endpoint_msg_manager_type;
  typedef websocketpp::log::basic<concurrency_type, websocketpp::log::elevel> elog_type;
  typedef websocketpp::log::basic<concurrency_type, websocketpp::log::alevel> alog_type;
  typedef base::rng_type rng_type;

  struct transport_config : base::transport_config {
    typedef type::concurrency_type concurrency_type;
    typedef type::alog_type alog_type;
    typedef type::elog_type elog_type;
    typedef type::request_type request_type;
    typedef type::response_type response_type;
    typedef websocketpp::transport::asio::basic_socket::endpoint socket_type;
    static const bool enable_multithreading = false;
  };
  typedef websocketpp::transport::asio::endpoint<transport_config> transport_type;

  typedef ConnectionData connection_base;
  static const size_t connection_read_buffer_size = 1024;
  static const bool enable_multithreading = false;
};

using Endpoint = websocketpp::server<ServerConfig>;
using ConnectionPtr = Endpoint::connection_ptr;

// Everything the gateway sets on its endpoint before listening, except the handlers.
inline void configure_endpoint(Endpoint &endpoint, boost::asio::io_context &io,
                               const Limits &limits) {
  endpoint.clear_access_channels(websocketpp::log::alevel::all);
  // websocketpp reports peer resets and the like as errors on its own log; they reach us
  // as closed connections, which is where they are handled.
  endpoint.clear_error_channels(websocketpp::log::elevel::all);
  endpoint.init_asio(&io);
  endpoint.set_reuse_addr(true);
  endpoint.set_user_agent("nospace-gateway");
  endpoint.set_max_message_size(limits.max_message);
  endpoint.set_max_http_body_size(limits.max_body);
  endpoint.set_open_handshake_timeout(limits.request_timeout.count());
  // Events are small writes that often follow one another (a status, then the program's
  // first line): with Nagle the second waits for the client's delayed ACK, about 40 ms.
  // websocketpp's socket_init hook runs before accept, on a socket not yet open; this one
  // runs on the accepted socket.
  endpoint.set_tcp_pre_init_handler([](websocketpp::connection_hdl hdl) {
    if (auto con = std::static_pointer_cast<Endpoint::connection_type>(hdl.lock())) {
      boost::system::error_code ec;
      con->get_socket().set_option(boost::asio::ip::tcp::no_delay(true), ec);
    }
  });
}

// For an open connection's lifetime websocketpp keeps the parsed opening handshake (the
// request and response, two header maps) and the request's URI, and never reads them again
// on a server connection (only its access log would print the URI, and it checks for null).
// Called from the open handler, once the upper layer has taken what it needs.
inline void release_handshake(Endpoint::connection_type &con) {
  const_cast<ServerConfig::request_type &>(con.get_request()) = ServerConfig::request_type{};
  const_cast<ServerConfig::response_type &>(con.get_response()) = ServerConfig::response_type{};
  con.set_uri(nullptr);
}

} // namespace nospace::transport
