#pragma once
// One Engine.IO v4 session: its id, handshake, current transport (long-polling or WebSocket,
// possibly mid-upgrade), send queue and heartbeat. Lives in a shared_ptr owned by the Server
// while open; every callback runs on the Server's single io_context thread.

#include "gateway/engineio/handshake.hpp"

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <utility>

namespace nospace::engineio {

class Session;

// What a layer built on a Socket is told, as one object instead of the three callbacks below:
// the Socket holds one weak pointer rather than three std::function objects whose captures
// (a weak_ptr is not trivially copyable) each take a heap block. The Socket.IO layer uses it;
// at 10,000 connections that is about 170 B each.
class SocketObserver {
public:
  virtual void on_engine_message(std::string &&data, bool binary) = 0;
  virtual void on_engine_close(const std::string &reason) = 0;
  virtual void on_engine_drain() = 0;

protected:
  ~SocketObserver() = default;
};

class Socket {
public:
  virtual ~Socket() = default;

  virtual const std::string &id() const = 0;
  virtual const std::string &remote_address() const = 0; // client IP, for per-IP limits
  virtual const Handshake &handshake() const = 0;        // url, query parameters, headers
  virtual const char *transport_name() const = 0;        // "polling" or "websocket"

  // Queues a message packet; `binary` sends it as binary (base64 over long-polling).
  // Ignored once the socket is closing or closed.
  virtual void send(std::string data, bool binary) = 0;
  // Server-side close: flushes what is queued, sends a close packet, then on_close("forced close").
  virtual void close() = 0;
  virtual bool is_open() const = 0;

  // Bytes accepted by send() not yet written to the network (for long-polling: queued
  // packets not yet taken by a GET).
  virtual std::size_t buffered_amount() const = 0;

  virtual void on_message(std::function<void(std::string data, bool binary)> handler) = 0;
  // Reasons: "transport close", "transport error", "ping timeout", "parse error",
  // "forced close", "server shutting down".
  virtual void on_close(std::function<void(const std::string &reason)> handler) = 0;
  virtual void on_drain(std::function<void()> handler) = 0; // buffered_amount() back to 0
  // The same three events for an observer held weakly. With an observer set, the callbacks
  // above are not called.
  virtual void set_observer(std::weak_ptr<SocketObserver> observer) = 0;

  // Sessions currently alive in this process (a leak check for the tests).
  static std::size_t live_count();
};

} // namespace nospace::engineio
