// websocketpp-floor-server: websocketpp alone, configured exactly as the gateway configures it
// (gateway/transport/websocketpp_config.hpp), accepting WebSocket connections and doing nothing
// else with them. bench/socketio/bench.mjs measures its memory per idle connection next to
// ours, in the same run: the part of our figure that the mandated library itself takes.
//   websocketpp-floor-server [--port N]        (prints "listening PORT"; port 0 = any)
#include "gateway/transport/websocketpp_config.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include <csignal>
#include <cstdio>
#include <string>

int main(int argc, char **argv) {
  using namespace nospace::transport;
  std::uint16_t port = 0;
  if (argc == 3 && std::string(argv[1]) == "--port") {
    port = static_cast<std::uint16_t>(std::stoul(argv[2]));
  } else if (argc != 1) {
    std::fprintf(stderr, "usage: websocketpp-floor-server [--port N]\n");
    return 2;
  }

  boost::asio::io_context io;
  Endpoint endpoint;
  configure_endpoint(endpoint, io, Limits{});
  // What the gateway's open handler does before handing the connection up; nothing more.
  endpoint.set_open_handler([&endpoint](websocketpp::connection_hdl hdl) {
    release_handshake(*endpoint.get_con_from_hdl(hdl));
  });

  websocketpp::lib::error_code ec;
  endpoint.listen(boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port),
                  ec);
  if (!ec)
    endpoint.start_accept(ec);
  if (ec) {
    std::fprintf(stderr, "websocketpp-floor-server: listen: %s\n", ec.message().c_str());
    return 1;
  }
  boost::system::error_code bec;
  std::printf("listening %u\n", unsigned(endpoint.get_local_endpoint(bec).port()));
  std::fflush(stdout);

  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code &, int) { io.stop(); });
  io.run();
  return 0;
}
