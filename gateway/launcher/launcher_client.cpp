#include "gateway/launcher/launcher_client.hpp"

#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>

#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <deque>
#include <map>

namespace nospace::gateway {

namespace asio = boost::asio;
using namespace nospace::launch;

struct LauncherClient::Impl : std::enable_shared_from_this<Impl> {
  Impl(asio::io_context &io, UniqueFd socket) : io(io), stream(io, socket.release()) {}

  struct Pending {
    StartedHandler on_started;
    FinishedHandler on_finished;
    bool started = false;
  };
  struct Outgoing {
    Bytes bytes;
    UniqueFd fd; // the program memfd of a Run, else invalid
  };

  asio::io_context &io;
  asio::posix::stream_descriptor stream;
  std::map<std::uint64_t, Pending> pending;
  std::deque<Outgoing> queue;
  bool writing = false;
  bool closed = false;
  bool destroyed = false;
  std::uint64_t next_id = 1;
  std::function<void(const std::string &)> on_disconnect;

  void do_read() {
    stream.async_wait(
        asio::posix::stream_descriptor::wait_read,
        [self = shared_from_this()](const boost::system::error_code &ec) { self->on_read(ec); });
  }

  void on_read(const boost::system::error_code &ec) {
    if (destroyed || closed)
      return;
    if (ec)
      return fail("reading the launcher socket: " + ec.message());
    for (;;) {
      Received msg = receive_message(stream.native_handle(), MSG_DONTWAIT);
      if (msg.error == EAGAIN || msg.error == EWOULDBLOCK)
        break;
      // ECONNRESET: it closed with requests of ours still unread.
      if (msg.closed || msg.error == ECONNRESET)
        return fail("the launcher closed the connection");
      if (msg.error)
        return fail(std::string("reading the launcher socket: ") + std::strerror(msg.error));
      if (msg.truncated)
        return fail("oversize message from the launcher");
      auto decoded = decode_to_gateway(msg.bytes.data(), msg.bytes.size(), msg.fds.size());
      if (!decoded.value)
        return fail("malformed message from the launcher: " + decoded.error);
      if (!dispatch(*decoded.value, msg.fds) || closed)
        return;
    }
    do_read();
  }

  // A message about a request this client did not send, or out of order, means the two sides
  // disagree about state: treat the connection as broken rather than guess.
  bool dispatch(ToGateway &message, std::vector<UniqueFd> &fds) {
    if (auto *s = std::get_if<StartedMessage>(&message)) {
      auto it = pending.find(s->id);
      if (it == pending.end() || it->second.started)
        return fail("launcher sent started for unknown request " + std::to_string(s->id)), false;
      it->second.started = true;
      Started started{s->id, std::move(fds[0]), std::move(fds[1]), std::move(fds[2])};
      auto handler = it->second.on_started; // may call start(), which inserts into `pending`
      handler({}, std::move(started));
    } else if (auto *f = std::get_if<FinishedMessage>(&message)) {
      auto it = pending.find(f->id);
      if (it == pending.end() || !it->second.started)
        return fail("launcher sent finished for unknown run " + std::to_string(f->id)), false;
      auto handler = std::move(it->second.on_finished);
      pending.erase(it);
      handler(f->result);
    } else if (auto *r = std::get_if<RejectedMessage>(&message)) {
      auto it = pending.find(r->id);
      if (it == pending.end() || it->second.started)
        return fail("launcher rejected unknown request " + std::to_string(r->id)), false;
      auto handler = std::move(it->second.on_started);
      pending.erase(it);
      handler(r->message, Started{});
    }
    return !destroyed;
  }

  void send(Outgoing out) {
    queue.push_back(std::move(out));
    if (!writing)
      flush();
  }

  // Sends what is queued; on a full socket buffer, waits for room (the launcher reads fast,
  // so this is rare: it bounds nothing by itself, the gateway's run limits bound the queue).
  void flush() {
    while (!queue.empty() && !closed) {
      auto &front = queue.front();
      std::vector<int> fds;
      if (front.fd)
        fds.push_back(front.fd.get());
      int err = send_message(stream.native_handle(), front.bytes, fds, MSG_DONTWAIT);
      if (err == EAGAIN || err == EWOULDBLOCK) {
        writing = true;
        stream.async_wait(asio::posix::stream_descriptor::wait_write,
                          [self = shared_from_this()](const boost::system::error_code &ec) {
                            self->writing = false;
                            if (self->destroyed || self->closed)
                              return;
                            if (ec)
                              return self->fail("writing the launcher socket: " + ec.message());
                            self->flush();
                          });
        return;
      }
      if (err)
        return fail(std::string("writing the launcher socket: ") + std::strerror(err));
      queue.pop_front();
    }
  }

  // The connection is over: every request still open gets its one final callback.
  void fail(const std::string &why) {
    if (closed)
      return;
    closed = true;
    boost::system::error_code ignored;
    stream.close(ignored);
    queue.clear();
    auto open = std::move(pending);
    pending.clear();
    for (auto &[id, p] : open) {
      if (destroyed)
        return;
      if (!p.started) {
        p.on_started("launcher unavailable: " + why, Started{});
      } else {
        RunResult lost;
        lost.reason = "killed";
        lost.detail = "launcher connection lost";
        p.on_finished(lost);
      }
    }
    if (on_disconnect && !destroyed)
      on_disconnect(why);
  }
};

LauncherClient::LauncherClient(asio::io_context &io, UniqueFd socket)
    : impl_(std::make_shared<Impl>(io, std::move(socket))) {
  impl_->do_read();
}

LauncherClient::~LauncherClient() {
  impl_->destroyed = true;
  impl_->closed = true;
  boost::system::error_code ignored;
  impl_->stream.close(ignored);
}

void LauncherClient::start(const LaunchRequest &request, StartedHandler on_started,
                           FinishedHandler on_finished) {
  auto fail_soon = [this, &on_started](std::string error) {
    asio::post(impl_->io, [impl = impl_, h = std::move(on_started), e = std::move(error)] {
      if (!impl->destroyed)
        h(e, Started{});
    });
  };
  if (impl_->closed)
    return fail_soon("launcher unavailable: not connected");
  if (request.program.size() > kMaxProgramBytes)
    return fail_soon("program of " + std::to_string(request.program.size()) +
                     " bytes, the limit is " + std::to_string(kMaxProgramBytes));
  UniqueFd memfd = make_program_memfd(request.program);
  if (!memfd)
    return fail_soon(std::string("cannot pass the program to the launcher: ") +
                     std::strerror(errno));
  RunMessage message;
  message.id = impl_->next_id++;
  message.request = request;
  message.request.program.clear();
  message.program_size = static_cast<std::uint32_t>(request.program.size());
  impl_->pending[message.id] = {std::move(on_started), std::move(on_finished), false};
  impl_->send({encode(message), std::move(memfd)});
}

void LauncherClient::kill(std::uint64_t run_id, const std::string &reason) {
  if (impl_->closed)
    return;
  auto it = impl_->pending.find(run_id);
  if (it == impl_->pending.end() || !it->second.started)
    return;
  KillMessage message{run_id,
                      reason == "output-limit" ? KillReason::output_limit : KillReason::killed};
  impl_->send({encode(message), UniqueFd()});
}

bool LauncherClient::connected() const { return !impl_->closed; }

std::size_t LauncherClient::pending() const { return impl_->pending.size(); }

void LauncherClient::on_disconnect(std::function<void(const std::string &why)> handler) {
  impl_->on_disconnect = std::move(handler);
}

} // namespace nospace::gateway
