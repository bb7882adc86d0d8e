// The launcher request format: round trips, and every malformed message refused with a reason
// (truncations at every length, oversize, unknown types and enum values, wrong fd counts,
// trailing bytes), the policy check, the interpreter argv, and the fd-passing helpers.
#include "common/launch_protocol.hpp"

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

using namespace nospace;
using namespace nospace::launch;

namespace {

RunMessage sample_run() {
  RunMessage m;
  m.id = 0x0102030405060708ull;
  m.request.language = Language::min;
  m.request.mode = Mode::run;
  m.request.std_extensions = ext_debug | ext_alloc;
  m.request.debug = true;
  m.request.ignore_debug = true;
  m.program_size = 12345;
  return m;
}

FinishedMessage sample_finished() {
  FinishedMessage m;
  m.id = 77;
  m.result.reason = "seccomp";
  m.result.detail = "ptrace";
  m.result.signal = 31;
  m.result.cpu_ms = 5;
  m.result.wall_ms = 9;
  m.result.peak_memory_bytes = 1u << 20;
  return m;
}

Decoded<ToLauncher> to_launcher(const Bytes &b, std::size_t fds) {
  return decode_to_launcher(b.data(), b.size(), fds);
}
Decoded<ToGateway> to_gateway(const Bytes &b, std::size_t fds) {
  return decode_to_gateway(b.data(), b.size(), fds);
}

} // namespace

TEST_CASE("a run message round-trips every field") {
  auto in = sample_run();
  auto d = to_launcher(encode(in), 1);
  REQUIRE(d.error == "");
  REQUIRE(d.value);
  auto &out = std::get<RunMessage>(*d.value);
  CHECK(out.id == in.id);
  CHECK(out.request.language == Language::min);
  CHECK(out.request.mode == Mode::run);
  CHECK(out.request.target == Target::none);
  CHECK(out.request.std_extensions == (ext_debug | ext_alloc));
  CHECK(out.request.debug);
  CHECK(out.request.ignore_debug);
  CHECK(out.program_size == 12345);

  RunMessage compile;
  compile.id = 1;
  compile.request.mode = Mode::compile;
  compile.request.target = Target::json;
  auto c = to_launcher(encode(compile), 1);
  REQUIRE(c.value);
  auto &cm = std::get<RunMessage>(*c.value);
  CHECK(cm.request.mode == Mode::compile);
  CHECK(cm.request.target == Target::json);
  CHECK_FALSE(cm.request.debug);
}

TEST_CASE("kill, started, finished and rejected messages round-trip") {
  auto k = to_launcher(encode(KillMessage{9, KillReason::output_limit}), 0);
  REQUIRE(k.value);
  CHECK(std::get<KillMessage>(*k.value).id == 9);
  CHECK(std::get<KillMessage>(*k.value).reason == KillReason::output_limit);

  auto s = to_gateway(encode(StartedMessage{42}), 3);
  REQUIRE(s.value);
  CHECK(std::get<StartedMessage>(*s.value).id == 42);

  auto f = to_gateway(encode(sample_finished()), 0);
  REQUIRE(f.error == "");
  auto &r = std::get<FinishedMessage>(*f.value).result;
  CHECK(std::get<FinishedMessage>(*f.value).id == 77);
  CHECK(r.reason == "seccomp");
  CHECK(r.detail == "ptrace");
  CHECK_FALSE(r.exit_code);
  CHECK(r.signal == 31);
  CHECK(r.cpu_ms == 5);
  CHECK(r.wall_ms == 9);
  CHECK(r.peak_memory_bytes == (1u << 20));

  FinishedMessage exited;
  exited.result.reason = "exited";
  exited.result.exit_code = -1;
  auto e = to_gateway(encode(exited), 0);
  REQUIRE(e.value);
  CHECK(std::get<FinishedMessage>(*e.value).result.exit_code == -1);

  auto j = to_gateway(encode(RejectedMessage{3, "language 'ws' is not allowed"}), 0);
  REQUIRE(j.value);
  CHECK(std::get<RejectedMessage>(*j.value).message == "language 'ws' is not allowed");
}

TEST_CASE("long texts are cut at the limit when encoding, refused when decoding") {
  FinishedMessage f = sample_finished();
  f.result.detail = std::string(5000, 'x');
  auto d = to_gateway(encode(f), 0);
  REQUIRE(d.value);
  CHECK(std::get<FinishedMessage>(*d.value).result.detail.size() == kMaxTextBytes);

  Bytes b = encode(RejectedMessage{1, "ab"});
  b[10] = 0x01; // text length 0x0401 = 1025 > 1024 (bytes 10-11 are the u16 length)
  b[11] = 0x04;
  b.resize(b.size() + 1025 - 2, 'y');
  auto r = to_gateway(b, 0);
  CHECK_FALSE(r.value);
  CHECK(r.error == "message is 1025 bytes, the limit is 1024");
}

TEST_CASE("every truncation of every message is refused, never read past the end") {
  std::vector<std::pair<Bytes, bool>> messages = {
      {encode(sample_run()), true},
      {encode(KillMessage{1, KillReason::killed}), true},
      {encode(StartedMessage{1}), false},
      {encode(sample_finished()), false},
      {encode(RejectedMessage{1, "why"}), false},
  };
  for (auto &[bytes, launcher] : messages) {
    for (std::size_t len = 0; len < bytes.size(); ++len) {
      // A copy of exactly len bytes, so ASan catches a read past it.
      std::unique_ptr<std::uint8_t[]> cut(new std::uint8_t[len ? len : 1]);
      std::copy(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(len), cut.get());
      for (std::size_t fds : {0, 1, 3}) {
        std::string error = launcher ? decode_to_launcher(cut.get(), len, fds).error
                                     : decode_to_gateway(cut.get(), len, fds).error;
        INFO("length " << len << " of " << bytes.size());
        CHECK_FALSE(error.empty());
      }
    }
  }
  CHECK(to_launcher(Bytes{}, 0).error == "truncated message");
}

TEST_CASE("trailing bytes and oversize messages are refused") {
  Bytes b = encode(KillMessage{1, KillReason::killed});
  b.push_back(0);
  CHECK(to_launcher(b, 0).error == "1 unexpected trailing bytes");

  Bytes big(kMaxMessageBytes + 1, 0);
  big[0] = kVersion;
  big[1] = 4;
  CHECK(to_gateway(big, 0).error == "message of 2049 bytes, the limit is 2048");
}

TEST_CASE("wrong version, unknown types and wrong directions are refused") {
  Bytes b = encode(StartedMessage{1});
  b[0] = 2;
  CHECK(to_gateway(b, 3).error == "protocol version 2, expected 1");
  b[0] = kVersion;
  b[1] = 99;
  CHECK(to_gateway(b, 3).error == "unknown message type 99");
  // A launcher never accepts gateway-bound types and vice versa.
  CHECK(to_launcher(encode(StartedMessage{1}), 3).error == "unknown message type 3");
  CHECK(to_launcher(encode(RejectedMessage{1, ""}), 0).error == "unknown message type 5");
  CHECK(to_gateway(encode(sample_run()), 1).error == "unknown message type 1");
  CHECK(to_gateway(encode(KillMessage{1, KillReason::killed}), 0).error ==
        "unknown message type 2");
}

TEST_CASE("unknown enum values and flag bits in a run message are refused") {
  // Offsets: 0 version, 1 type, 2-9 id, 10 language, 11 mode, 12 target, 13 ext, 14 flags,
  // 15-18 program size.
  struct Case {
    std::size_t offset;
    std::uint8_t value;
    const char *error;
  };
  for (auto c : std::vector<Case>{{10, 0, "unknown language 0"},
                                  {10, 4, "unknown language 4"},
                                  {11, 0, "unknown mode 0"},
                                  {11, 3, "unknown mode 3"},
                                  {12, 4, "unknown target 4"},
                                  {13, 4, "unknown std extension bits 4"},
                                  {14, 4, "unknown flag bits 4"},
                                  {18, 0x01, "program of 16789561 bytes, the limit is 16777216"}}) {
    Bytes b = encode(sample_run());
    b[c.offset] = c.value;
    auto d = to_launcher(b, 1);
    CHECK_FALSE(d.value);
    CHECK(d.error == c.error);
  }
}

TEST_CASE("unknown kill reasons, result reasons and presence bytes are refused") {
  Bytes k = encode(KillMessage{1, KillReason::killed});
  k[10] = 3;
  CHECK(to_launcher(k, 0).error == "unknown kill reason 3");

  FinishedMessage f = sample_finished();
  f.result.reason = "escaped";
  CHECK(to_gateway(encode(f), 0).error == "unknown result reason 'escaped'");

  Bytes b = encode(sample_finished());
  // exit code presence byte: after id (2..9), reason (2 + 7), detail (2 + 6).
  std::size_t presence = 10 + 2 + 7 + 2 + 6;
  b[presence] = 2;
  CHECK(to_gateway(b, 0).error == "bad presence byte for exit code");
  b[presence] = 0;
  b[presence + 1] = 5;
  CHECK(to_gateway(b, 0).error == "absent exit code with a value");
}

TEST_CASE("each message type requires its exact number of file descriptors") {
  CHECK(to_launcher(encode(sample_run()), 0).error == "run carries 1 file descriptors, got 0");
  CHECK(to_launcher(encode(sample_run()), 2).error == "run carries 1 file descriptors, got 2");
  CHECK(to_launcher(encode(KillMessage{1, KillReason::killed}), 1).error ==
        "kill carries 0 file descriptors, got 1");
  CHECK(to_gateway(encode(StartedMessage{1}), 2).error ==
        "started carries 3 file descriptors, got 2");
  CHECK(to_gateway(encode(sample_finished()), 1).error ==
        "finished carries 0 file descriptors, got 1");
  CHECK(to_gateway(encode(RejectedMessage{1, "x"}), 3).error ==
        "rejected carries 0 file descriptors, got 3");
}

TEST_CASE("requests are validated against the interpreter policy") {
  InterpreterPolicy policy;
  LaunchRequest r;
  r.program = "print hi";
  CHECK(validate(r, policy, 100) == "");
  CHECK(validate(r, policy, 3) == "program of 8 bytes, the limit is 3");

  policy.languages = {"standard"};
  r.language = Language::ws;
  CHECK(validate(r, policy, 100) == "language 'ws' is not allowed");
  r.language = Language::standard;

  policy.std_extensions = {"debug"};
  r.std_extensions = ext_alloc;
  CHECK(validate(r, policy, 100) == "std extension 'alloc' is not allowed");
  r.std_extensions = ext_debug;
  CHECK(validate(r, policy, 100) == "");

  r.target = Target::ws;
  CHECK(validate(r, policy, 100) == "a target applies to compile only");

  r.mode = Mode::compile;
  r.target = Target::none;
  CHECK(validate(r, policy, 100) == "compile needs a target");
  policy.compile_targets = {"ws"};
  r.target = Target::json;
  CHECK(validate(r, policy, 100) == "compile target 'json' is not allowed");
  r.target = Target::ws;
  CHECK(validate(r, policy, 100) == "");
  r.debug = true;
  CHECK(validate(r, policy, 100) == "debug and ignore-debug apply to run only");
}

TEST_CASE("the interpreter argv is exactly the documented command line") {
  LaunchRequest r;
  CHECK(build_interpreter_argv(r, "/bin/n") ==
        std::vector<std::string>{"/bin/n", "--std", "standard", "{program}"});
  r.language = Language::ws;
  r.debug = r.ignore_debug = true;
  r.std_extensions = ext_alloc | ext_debug;
  CHECK(build_interpreter_argv(r, "/bin/n") ==
        std::vector<std::string>{"/bin/n", "--std", "ws", "--debug", "--ignore-debug", "--std-ext",
                                 "debug", "--std-ext", "alloc", "{program}"});
  LaunchRequest c;
  c.mode = Mode::compile;
  c.language = Language::min;
  c.target = Target::mnemonic;
  c.std_extensions = ext_alloc;
  CHECK(build_interpreter_argv(c, "/x") ==
        std::vector<std::string>{"/x", "--mode", "compile", "--std", "min", "--target", "mnemonic",
                                 "--std-ext", "alloc", "{program}"});
}

TEST_CASE("names parse back to their enums and nothing else does") {
  CHECK(parse_language("min") == Language::min);
  CHECK_FALSE(parse_language("MIN"));
  CHECK(parse_target("json") == Target::json);
  CHECK_FALSE(parse_target("none"));
  CHECK_FALSE(parse_target("ex-ws"));
  CHECK(parse_std_extension("alloc") == ext_alloc);
  CHECK_FALSE(parse_std_extension(""));
}

TEST_CASE("messages and fds cross a SEQPACKET socketpair; extra fds are owned and reported") {
  int sv[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == 0);
  UniqueFd a(sv[0]), b(sv[1]);

  UniqueFd memfd = make_program_memfd("print hello\n");
  REQUIRE(memfd);
  RunMessage run = sample_run();
  run.program_size = 12;
  REQUIRE(send_message(a.get(), encode(run), {memfd.get()}) == 0);
  Received got = receive_message(b.get(), MSG_DONTWAIT);
  REQUIRE(got.error == 0);
  REQUIRE(got.fds.size() == 1);
  CHECK(::fcntl(got.fds[0].get(), F_GETFD) == FD_CLOEXEC);
  auto d = decode_to_launcher(got.bytes.data(), got.bytes.size(), got.fds.size());
  REQUIRE(d.value);
  std::string text;
  CHECK(read_program_memfd(got.fds[0].get(), 12, text) == "");
  CHECK(text == "print hello\n");
  CHECK(read_program_memfd(got.fds[0].get(), 11, text) ==
        "the program memfd holds 12 bytes, the request says 11");

  // A pipe is not a sealed memfd: refused without reading (which could block forever).
  int p[2];
  REQUIRE(::pipe2(p, O_CLOEXEC) == 0);
  UniqueFd pr(p[0]), pw(p[1]);
  CHECK(read_program_memfd(pr.get(), 0, text) == "the program is not a sealed memfd");

  // Received fds are owned (closed with the Received) and counted for the decoder.
  std::vector<int> many(3, pw.get());
  REQUIRE(send_message(a.get(), encode(StartedMessage{1}), many) == 0);
  Received three = receive_message(b.get(), MSG_DONTWAIT);
  CHECK(three.fds.size() == 3);

  // An oversize message is flagged truncated.
  Bytes big(kMaxMessageBytes + 100, 1);
  REQUIRE(send_message(a.get(), big, {}) == 0);
  Received trunc = receive_message(b.get(), MSG_DONTWAIT);
  CHECK(trunc.truncated);

  CHECK(receive_message(b.get(), MSG_DONTWAIT).error == EAGAIN);
  a.reset();
  CHECK(receive_message(b.get(), MSG_DONTWAIT).closed);
}
