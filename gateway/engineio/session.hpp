#pragma once
// The implementation behind engineio::Socket (private to the engineio library).
// A session is in one of three states (open, closing: a server-side close waiting for the
// next long-polling GET to deliver the close packet, closed) and has one current transport,
// long-polling or WebSocket, plus at most one WebSocket being probed for an upgrade.

#include "gateway/engineio/packet.hpp"
#include "gateway/engineio/server.hpp"
#include "gateway/engineio/socket.hpp"
#include "gateway/engineio/timer.hpp"
#include "gateway/transport/listener.hpp"

#include <memory>
#include <string>
#include <vector>

namespace nospace::engineio {

class ServerImpl;

class Session final : public Socket,
                      public transport::WsObserver,
                      public std::enable_shared_from_this<Session> {
public:
  Session(ServerImpl &server, std::string id, Handshake &&handshake);
  ~Session() override;

  // Socket
  const std::string &id() const override { return id_; }
  const std::string &remote_address() const override { return handshake_.address; }
  const Handshake &handshake() const override { return handshake_; }
  const char *transport_name() const override;
  void send(std::string data, bool binary) override;
  void close() override;
  bool is_open() const override { return state_ == State::open; }
  std::size_t buffered_amount() const override;
  void on_message(std::function<void(std::string, bool)> handler) override;
  void on_close(std::function<void(const std::string &)> handler) override;
  void on_drain(std::function<void()> handler) override;
  void set_observer(std::weak_ptr<SocketObserver> observer) override;

  // Used by the server.
  void start_polling(std::shared_ptr<transport::HttpExchange> handshake_request);
  void start_websocket(std::shared_ptr<transport::WsConnection> ws);
  bool is_polling() const { return !ws_; }
  bool can_upgrade() const { return is_polling() && !probe_ && state_ == State::open; }
  void handle_poll(std::shared_ptr<transport::HttpExchange> exchange);
  void handle_post(std::shared_ptr<transport::HttpExchange> exchange);
  void begin_upgrade(std::shared_ptr<transport::WsConnection> ws);
  void shutdown(const char *reason); // close now, without waiting for a GET
  bool check_drained();              // drain watch: true when no longer waiting

private:
  enum class State : std::uint8_t { open, closing, closed };

  std::string open_packet(bool upgrades) const;
  void queue(PacketType type, std::string data, bool binary);
  void schedule_flush();
  void flush();
  void respond_poll(const char *trailer);
  void release_queue();
  void maybe_drained();

  // transport::WsObserver: the current WebSocket, or the one being probed for an upgrade.
  void on_ws_message(transport::WsConnection &from, std::string &&data, bool binary) override;
  void on_ws_close(transport::WsConnection &from) override;
  void on_ws_frame(std::string &&data, bool binary);
  void on_packet(Packet &&packet);
  void on_probe_frame(std::string &&data, bool binary);
  void finish_upgrade();
  void abort_upgrade();

  void do_ping_wait();
  void on_ping_due();
  void on_pong();
  void fail(const std::string &reason); // transport-side close
  void finalize(const std::string &reason);

  ServerImpl &server_;
  std::string id_;
  Handshake handshake_;
  State state_ = State::open;
  bool flush_scheduled_ = false;
  bool awaiting_pong_ = false;
  bool upgrading_ = false; // the probe answered: GETs are answered at once
  bool draining_ = false;  // bytes were queued since the last on_drain
  bool in_drain_watch_ = false;
  const char *close_reason_ = "forced close"; // reported when a closing session ends
  std::vector<Packet> queue_;
  std::size_t queued_bytes_ = 0;                  // message bytes in queue_
  std::shared_ptr<transport::HttpExchange> poll_; // the held long-polling GET
  std::shared_ptr<transport::WsConnection> ws_;   // current transport when WebSocket
  std::shared_ptr<transport::WsConnection> probe_;
  Timer timer_; // heartbeat, or the closing deadline
  std::unique_ptr<Timer> upgrade_timer_;
  // The application's callbacks, allocated only when one is set (the Socket.IO layer uses
  // the observer instead).
  struct Callbacks {
    std::function<void(std::string, bool)> on_message;
    std::function<void(const std::string &)> on_close;
    std::function<void()> on_drain;
  };
  Callbacks &callbacks();
  std::unique_ptr<Callbacks> callbacks_;
  std::weak_ptr<SocketObserver> observer_;
};

} // namespace nospace::engineio
