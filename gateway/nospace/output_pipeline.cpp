#include "gateway/nospace/output_pipeline.hpp"

#include "common/policy.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>

#include <fcntl.h>

#include <algorithm>

namespace nospace::gateway {

PipelineConfig PipelineConfig::from_policy(const Policy &policy) {
  PipelineConfig c;
  c.flush_interval = std::chrono::milliseconds(policy.pipeline.flush_interval_ms);
  c.max_chunk = policy.pipeline.max_chunk.bytes;
  c.high_water = policy.pipeline.high_water.bytes;
  c.output_limit = policy.sandbox.output_limit.bytes;
  return c;
}

std::shared_ptr<OutputPipeline> OutputPipeline::create(boost::asio::io_context &io,
                                                       PipelineConfig config, Callbacks callbacks) {
  return std::shared_ptr<OutputPipeline>(
      new OutputPipeline(io, std::move(config), std::move(callbacks)));
}

OutputPipeline::OutputPipeline(boost::asio::io_context &io, PipelineConfig config,
                               Callbacks callbacks)
    : config_(std::move(config)), callbacks_(std::move(callbacks)), timer_(io) {
  for (auto &s : streams_) {
    s = std::make_unique<StreamState>(io);
    s->buffer.resize(config_.read_size);
  }
}

void OutputPipeline::start(UniqueFd stdout_read, UniqueFd stderr_read) {
  // A larger pipe lets a fast writer run on while a read waits (see do_read_soon); best
  // effort: the kernel caps it at fs.pipe-max-size for unprivileged processes.
  for (int fd : {stdout_read.get(), stderr_read.get()})
    ::fcntl(fd, F_SETPIPE_SZ, 256 << 10);
  state(OutputStream::out).pipe.assign(stdout_read.release());
  state(OutputStream::err).pipe.assign(stderr_read.release());
  do_read(OutputStream::out);
  do_read(OutputStream::err);
}

void OutputPipeline::do_read(OutputStream which) {
  StreamState &s = state(which);
  if (stopped_ || s.eof || s.reading)
    return;
  s.reading = true;
  s.pipe.async_read_some(
      boost::asio::buffer(s.buffer),
      [self = shared_from_this(), which](const boost::system::error_code &ec, std::size_t n) {
        self->on_read(which, ec, n);
      });
}

void OutputPipeline::on_read(OutputStream which, const boost::system::error_code &ec,
                             std::size_t n) {
  StreamState &s = state(which);
  s.reading = false;
  if (stopped_)
    return;
  if (ec) {
    // End of file, or an error on a pipe we only read: either way this stream is done.
    finish_stream(which);
    return;
  }
  std::string_view bytes(s.buffer.data(), n);
  const std::uint64_t room = config_.output_limit - std::min(config_.output_limit, total_read_);
  total_read_ += n;
  if (n > room) {
    // Deliver exactly the allowed bytes, then stop reading for good; the session kills the
    // program and says why.
    append(which, bytes.substr(0, room));
    for (auto &st : streams_)
      st->decoder.finish(st->pending);
    flush_all();
    stopped_ = true;
    timer_.cancel();
    for (auto &st : streams_)
      st->pipe.close();
    if (callbacks_.on_output_limit)
      callbacks_.on_output_limit();
    return;
  }
  append(which, bytes);

  if (s.pending.size() >= config_.max_chunk) {
    // A full chunk waits: send it now. Older bytes of the other stream go first.
    StreamState &other = state(which == OutputStream::out ? OutputStream::err : OutputStream::out);
    if (!other.pending.empty() && other.first_seq < s.first_seq)
      flush_stream(other, true);
    flush_stream(s, false);
  } else if (Clock::now() - s.last_flush >= config_.flush_interval) {
    flush_all(); // leading edge: this stream was quiet
  }
  schedule_flush();

  if (!ignore_backpressure_ && over_high_water()) {
    paused_ = true;
    schedule_flush(); // polls the buffered amount too, in case no drain event comes
    return;
  }
  do_read_soon(which, n);
}

void OutputPipeline::do_read_soon(OutputStream which, std::size_t last_read) {
  StreamState &s = state(which);
  // A stream in its flush interval sends nothing before the timer; reading it at once would
  // only add a wakeup per write of the program. A large read means the pipe is filling: keep
  // up. A quiet stream is read at once (its next bytes go out at once).
  const bool cooling = Clock::now() - s.last_flush < config_.flush_interval;
  if (!cooling || last_read >= config_.read_size / 2 || config_.read_pause.count() == 0) {
    do_read(which);
    return;
  }
  s.reading = true; // no other read may start meanwhile
  s.read_delay.expires_after(config_.read_pause);
  s.read_delay.async_wait([self = shared_from_this(), which](const boost::system::error_code &ec) {
    self->state(which).reading = false;
    if (!ec)
      self->do_read(which);
  });
}

void OutputPipeline::append(OutputStream which, std::string_view bytes) {
  StreamState &s = state(which);
  const bool was_empty = s.pending.empty();
  s.decoder.feed(bytes, s.pending);
  if (was_empty && !s.pending.empty())
    s.first_seq = ++seq_;
}

void OutputPipeline::flush_stream(StreamState &s, bool whole) {
  const auto which = &s == streams_[0].get() ? OutputStream::out : OutputStream::err;
  std::size_t at = 0;
  while (s.pending.size() - at >= (whole ? 1 : config_.max_chunk)) {
    const std::size_t len =
        utf8_boundary(std::string_view(s.pending).substr(at), config_.max_chunk);
    callbacks_.emit(which, s.pending.substr(at, len));
    if (stopped_)
      return; // the callback stopped us
    at += len;
  }
  if (at > 0)
    s.last_flush = Clock::now();
  s.pending.erase(0, at);
  if (!s.pending.empty())
    s.first_seq = ++seq_;
}

void OutputPipeline::flush_all() {
  StreamState *first = streams_[0].get(), *second = streams_[1].get();
  if (second->first_seq < first->first_seq)
    std::swap(first, second);
  if (!first->pending.empty())
    flush_stream(*first, true);
  if (!stopped_ && !second->pending.empty())
    flush_stream(*second, true);
}

void OutputPipeline::schedule_flush() {
  if (stopped_)
    return;
  Clock::time_point deadline = Clock::time_point::max();
  for (auto &s : streams_)
    if (!s->pending.empty())
      deadline = std::min(deadline, s->last_flush + config_.flush_interval);
  if (paused_)
    deadline = std::min(deadline, Clock::now() + config_.flush_interval);
  if (deadline == Clock::time_point::max())
    return;
  if (timer_armed_ && timer_deadline_ <= deadline)
    return;
  timer_armed_ = true;
  timer_deadline_ = deadline;
  timer_.expires_at(deadline);
  timer_.async_wait(
      [self = shared_from_this()](const boost::system::error_code &ec) { self->on_timer(ec); });
}

void OutputPipeline::on_timer(const boost::system::error_code &ec) {
  if (ec == boost::asio::error::operation_aborted || stopped_)
    return; // re-armed earlier (a newer wait is pending) or stopped
  timer_armed_ = false;
  flush_all();
  if (paused_ && !over_high_water())
    resume();
  schedule_flush();
}

void OutputPipeline::finish_stream(OutputStream which) {
  StreamState &s = state(which);
  s.eof = true;
  const bool was_empty = s.pending.empty();
  s.decoder.finish(s.pending);
  if (was_empty && !s.pending.empty())
    s.first_seq = ++seq_;
  s.pipe.close();
  flush_all(); // the end flushes at once
  if (stopped_)
    return;
  if (streams_[0]->eof && streams_[1]->eof && !ended_) {
    ended_ = true;
    timer_.cancel();
    if (callbacks_.on_end)
      callbacks_.on_end();
  }
}

bool OutputPipeline::over_high_water() const {
  return callbacks_.buffered_amount && callbacks_.buffered_amount() > config_.high_water;
}

void OutputPipeline::resume() {
  paused_ = false;
  do_read(OutputStream::out);
  do_read(OutputStream::err);
}

void OutputPipeline::drained() {
  if (!stopped_ && paused_ && !over_high_water())
    resume();
}

void OutputPipeline::ignore_backpressure() {
  ignore_backpressure_ = true;
  if (!stopped_ && paused_)
    resume();
}

void OutputPipeline::stop() {
  if (stopped_)
    return;
  stopped_ = true;
  timer_.cancel();
  boost::system::error_code ignored;
  for (auto &s : streams_) {
    s->read_delay.cancel();
    s->pipe.close(ignored);
  }
}

} // namespace nospace::gateway
