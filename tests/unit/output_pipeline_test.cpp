// The output pipeline on real pipes and real (short) timers: leading edge, trailing
// coalescing, max_chunk, UTF-8 across reads, stream order, end flush, backpressure, limit.
#include "gateway/nospace/output_pipeline.hpp"

#include <boost/asio/steady_timer.hpp>
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using nospace::Pipe;
using nospace::gateway::OutputPipeline;
using nospace::gateway::OutputStream;
using nospace::gateway::PipelineConfig;
using Clock = std::chrono::steady_clock;

namespace {

struct Event {
  OutputStream stream;
  std::string text;
  Clock::duration at; // since the fixture started
};

struct Fixture {
  boost::asio::io_context io;
  Pipe out, err;
  std::vector<Event> events;
  std::size_t buffered = 0;
  bool ended = false, limited = false;
  Clock::time_point t0 = Clock::now();
  std::shared_ptr<OutputPipeline> pipeline;

  explicit Fixture(PipelineConfig config) {
    REQUIRE(nospace::make_pipe(out, O_CLOEXEC));
    REQUIRE(nospace::make_pipe(err, O_CLOEXEC));
    OutputPipeline::Callbacks cb;
    cb.emit = [this](OutputStream s, std::string text) {
      events.push_back({s, std::move(text), Clock::now() - t0});
    };
    cb.buffered_amount = [this] { return buffered; };
    cb.on_end = [this] { ended = true; };
    cb.on_output_limit = [this] { limited = true; };
    pipeline = OutputPipeline::create(io, config, std::move(cb));
    pipeline->start(std::move(out.read), std::move(err.read));
  }

  // Runs `fn` on the loop after `delay`.
  void at(std::chrono::milliseconds delay, std::function<void()> fn) {
    auto timer = std::make_shared<boost::asio::steady_timer>(io, delay);
    timer->async_wait([timer, fn = std::move(fn)](const boost::system::error_code &) { fn(); });
  }

  static void put(Pipe &p, const std::string &bytes) {
    REQUIRE(::write(p.write.get(), bytes.data(), bytes.size()) == (ssize_t)bytes.size());
  }

  std::string all(OutputStream s) const {
    std::string text;
    for (const auto &e : events)
      if (e.stream == s)
        text += e.text;
    return text;
  }

  void run_until_end(std::chrono::milliseconds limit = 5000ms) {
    const auto deadline = Clock::now() + limit;
    while (!ended && !limited && Clock::now() < deadline)
      io.run_one_for(10ms);
  }
};

PipelineConfig config(std::chrono::milliseconds interval, std::size_t max_chunk = 65536) {
  PipelineConfig c;
  c.flush_interval = interval;
  c.max_chunk = max_chunk;
  return c;
}

} // namespace

TEST_CASE("a quiet stream's first bytes go out at once; what follows is coalesced") {
  // Generous margins: this also runs under ASan on a loaded CI host.
  Fixture f(config(400ms));
  f.at(0ms, [&] { Fixture::put(f.out, "first"); });
  f.at(20ms, [&] { Fixture::put(f.out, "b"); });
  f.at(40ms, [&] { Fixture::put(f.out, "c"); });
  f.at(700ms, [&] {
    f.out.write.reset();
    f.err.write.reset();
  });
  f.run_until_end();
  REQUIRE(f.ended);
  REQUIRE(f.events.size() == 2);
  CHECK(f.events[0].text == "first");
  CHECK(f.events[0].at < 200ms); // leading edge, not after the 400 ms interval
  CHECK(f.events[1].text == "bc");
  CHECK(f.events[1].at >= 390ms); // trailing edge: one interval after the first flush
  CHECK(f.events[1].at < 690ms);  // and not held until the end
}

TEST_CASE("the end of the program flushes at once") {
  Fixture f(config(1000ms));
  f.at(0ms, [&] { Fixture::put(f.out, "a"); });
  f.at(10ms, [&] {
    Fixture::put(f.out, "b");
    f.out.write.reset();
    f.err.write.reset();
  });
  f.run_until_end();
  REQUIRE(f.ended);
  CHECK(f.all(OutputStream::out) == "ab");
  CHECK(f.events.back().at < 200ms); // not held for the 1 s interval
}

TEST_CASE("max_chunk waiting bytes go out at once, never in larger chunks") {
  Fixture f(config(10000ms, 1024));
  std::string data;
  for (int i = 0; i < 5000; ++i)
    data += static_cast<char>('a' + i % 26);
  f.at(0ms, [&] { Fixture::put(f.out, "x"); }); // the leading edge starts a 10 s interval
  f.at(20ms, [&] { Fixture::put(f.out, data); });
  f.at(200ms, [&] { f.io.stop(); });
  f.io.run();
  // Within 200 ms (far less than the interval) every full KiB went out.
  std::size_t sent = 0;
  for (const auto &e : f.events) {
    CHECK(e.text.size() <= 1024);
    sent += e.text.size();
  }
  CHECK(sent >= 4096);
  f.io.restart();
  f.out.write.reset();
  f.err.write.reset();
  f.run_until_end();
  CHECK(f.all(OutputStream::out) == "x" + data);
}

TEST_CASE("chunks never split a character, even when max_chunk falls inside one") {
  Fixture f(config(5ms, 16));
  std::string text;
  for (int i = 0; i < 40; ++i)
    text += "\xE3\x81\x82"; // あ, 3 bytes: 16 is not a multiple
  f.at(0ms, [&] { Fixture::put(f.out, text.substr(0, 7)); });
  f.at(20ms, [&] { Fixture::put(f.out, text.substr(7)); });
  f.at(60ms, [&] {
    f.out.write.reset();
    f.err.write.reset();
  });
  f.run_until_end();
  REQUIRE(f.ended);
  for (const auto &e : f.events) {
    CHECK(e.text.size() <= 16);
    CHECK(e.text.size() % 3 == 0);
  }
  CHECK(f.all(OutputStream::out) == text);
}

TEST_CASE("a character split across two writes arrives whole; invalid bytes become U+FFFD") {
  Fixture f(config(1ms));
  f.at(0ms, [&] { Fixture::put(f.out, "\xE3\x81"); });
  f.at(30ms, [&] { Fixture::put(f.out, "\x82\xFF"); });
  f.at(60ms, [&] { Fixture::put(f.err, "\xC3"); }); // truncated by the end of the program
  f.at(90ms, [&] {
    f.out.write.reset();
    f.err.write.reset();
  });
  f.run_until_end();
  REQUIRE(f.ended);
  for (const auto &e : f.events)
    CHECK(e.text != "\xE3\x81"); // never half a character
  CHECK(f.all(OutputStream::out) == "\xE3\x81\x82\xEF\xBF\xBD");
  CHECK(f.all(OutputStream::err) == "\xEF\xBF\xBD");
}

TEST_CASE("stdout and stderr keep their relative order across flushes") {
  Fixture f(config(200ms));
  f.at(0ms, [&] { Fixture::put(f.out, "1"); });
  f.at(30ms, [&] { Fixture::put(f.err, "2"); });
  f.at(60ms, [&] { Fixture::put(f.out, "3"); });
  f.at(100ms, [&] { Fixture::put(f.err, "4"); });
  f.at(300ms, [&] { Fixture::put(f.out, "5"); });
  f.at(700ms, [&] {
    f.out.write.reset();
    f.err.write.reset();
  });
  f.run_until_end();
  REQUIRE(f.ended);
  std::string order;
  for (const auto &e : f.events)
    order += e.text + (e.stream == OutputStream::out ? "o " : "e ");
  // "1" leads on stdout, "2" on stderr; "3" and "4" wait for their streams' intervals and
  // go out together, the older first; "5" after them.
  CHECK(order == "1o 2e 3o 4e 5o ");
}

TEST_CASE("above high_water the pipes are not read until the client drains") {
  PipelineConfig c = config(5ms, 4096);
  c.high_water = 10000;
  Fixture f(c);
  f.buffered = 20000; // the client is not reading
  std::atomic<std::size_t> written{0};
  const std::size_t total = 4u << 20;
  std::thread writer([&] {
    std::string block(65536, 'z');
    while (written < total) {
      ssize_t n = ::write(f.out.write.get(), block.data(), block.size());
      if (n <= 0)
        break;
      written += static_cast<std::size_t>(n);
    }
    f.out.write.reset();
  });
  const auto deadline = Clock::now() + 300ms;
  while (Clock::now() < deadline)
    f.io.run_one_for(10ms);
  CHECK(f.pipeline->paused());
  const std::uint64_t read_while_paused = f.pipeline->bytes_read();
  CHECK(read_while_paused <= 2 * 65536); // one read before the first check
  CHECK(written < total);                // the writer is blocked on the full pipe
  f.buffered = 0;
  f.pipeline->drained();
  f.err.write.reset();
  f.run_until_end(10000ms);
  writer.join();
  CHECK(f.ended);
  CHECK(f.all(OutputStream::out).size() == total);
}

TEST_CASE("the output limit delivers exactly the allowed bytes, then stops") {
  PipelineConfig c = config(5ms);
  c.output_limit = 1000;
  Fixture f(c);
  f.at(0ms, [&] { Fixture::put(f.out, std::string(600, 'a')); });
  f.at(20ms, [&] { Fixture::put(f.err, std::string(600, 'b')); });
  f.run_until_end();
  CHECK(f.limited);
  CHECK_FALSE(f.ended);
  CHECK(f.all(OutputStream::out) == std::string(600, 'a'));
  CHECK(f.all(OutputStream::err) == std::string(400, 'b'));
}
