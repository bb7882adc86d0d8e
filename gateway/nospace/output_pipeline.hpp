#pragma once
// The output pipeline of one run: reads the program's stdout and stderr pipes without
// blocking, turns the bytes into valid UTF-8 text and hands it to the client in batches.
//
// Batching (DESIGN.md "Output pipeline"): a stream that has been quiet for a flush interval
// sends its first bytes at once (leading edge); bytes that follow within the interval are
// coalesced into one chunk sent when the interval ends (trailing edge); max_chunk waiting bytes
// go out at once; the end of a stream flushes at once. Every flush sends the streams in the
// order their oldest waiting byte arrived, so stdout/stderr order is kept across flushes and
// within one interval up to that granularity. A chunk never splits a UTF-8 character.
//
// Backpressure: after every read the client's unsent bytes are checked; above high_water the
// pipes are not read again (the program blocks on a full pipe) until the client drains. The
// memory held here is bounded by the two read buffers plus under max_chunk per stream.

#include "common/fd.hpp"
#include "gateway/nospace/utf8.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace nospace {
struct Policy;
}

namespace nospace::gateway {

enum class OutputStream { out = 0, err = 1 };

struct PipelineConfig {
  std::chrono::milliseconds flush_interval{50};
  std::size_t max_chunk = 65536;
  std::size_t high_water = 1u << 20;
  std::uint64_t output_limit = 8u << 20; // bytes read from both pipes together
  std::size_t read_size = 65536;         // one pipe read
  // After a small read on a stream that is waiting for its flush anyway, the next read waits
  // this long, so a program writing in small pieces costs one read per pause, not per write.
  std::chrono::microseconds read_pause{2000};

  static PipelineConfig from_policy(const Policy &policy);
};

class OutputPipeline : public std::enable_shared_from_this<OutputPipeline> {
public:
  struct Callbacks {
    std::function<void(OutputStream, std::string text)> emit; // one chunk, valid UTF-8
    std::function<std::size_t()> buffered_amount;             // the client's unsent bytes
    std::function<void()> on_output_limit; // the limit was passed: reading stopped for good
    std::function<void()> on_end;          // both pipes at end of file, everything emitted
  };

  static std::shared_ptr<OutputPipeline> create(boost::asio::io_context &io, PipelineConfig config,
                                                Callbacks callbacks);

  // Starts reading; the pipeline owns the descriptors from here on.
  void start(UniqueFd stdout_read, UniqueFd stderr_read);
  // The client's send buffer emptied: read again if paused.
  void drained();
  // The program is gone: what is left in the pipes is bounded by their capacity, so read it to
  // the end whatever the client does (a client that never drains cannot hold the final status).
  void ignore_backpressure();
  // Stops for good: no callback runs after this returns.
  void stop();

  bool paused() const { return paused_; }
  std::uint64_t bytes_read() const { return total_read_; }

private:
  using Clock = std::chrono::steady_clock;

  struct StreamState {
    explicit StreamState(boost::asio::io_context &io) : pipe(io), read_delay(io) {}
    boost::asio::posix::stream_descriptor pipe;
    boost::asio::steady_timer read_delay; // see do_read_soon
    std::vector<char> buffer;
    Utf8Decoder decoder;
    std::string pending;         // decoded text not yet emitted
    std::uint64_t first_seq = 0; // arrival order of pending's oldest byte
    Clock::time_point last_flush{};
    bool reading = false; // a read is outstanding
    bool eof = false;
  };

  OutputPipeline(boost::asio::io_context &io, PipelineConfig config, Callbacks callbacks);

  void do_read(OutputStream which);
  void do_read_soon(OutputStream which, std::size_t last_read);
  void on_read(OutputStream which, const boost::system::error_code &ec, std::size_t n);
  void append(OutputStream which, std::string_view bytes);
  void flush_all();
  void flush_stream(StreamState &s, bool whole);
  void schedule_flush();
  void on_timer(const boost::system::error_code &ec);
  void finish_stream(OutputStream which);
  bool over_high_water() const;
  void resume();
  StreamState &state(OutputStream which) { return *streams_[static_cast<int>(which)]; }

  PipelineConfig config_;
  Callbacks callbacks_;
  std::array<std::unique_ptr<StreamState>, 2> streams_;
  boost::asio::steady_timer timer_;
  bool timer_armed_ = false;
  Clock::time_point timer_deadline_{};
  std::uint64_t seq_ = 0;
  std::uint64_t total_read_ = 0;
  bool paused_ = false;
  bool ignore_backpressure_ = false;
  bool stopped_ = false;
  bool ended_ = false;
};

} // namespace nospace::gateway
