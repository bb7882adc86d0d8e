// LauncherClient against a scripted launcher on the other end of a real SEQPACKET socketpair
// (the real launcher is exercised by service_test), plus spawn_launcher and drop_privileges.
#include "gateway/launcher/launcher_client.hpp"

#include "skip.hpp"

#include <catch2/catch.hpp>

#include <boost/asio/io_context.hpp>

#include <fcntl.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>

using namespace nospace;
using namespace nospace::launch;
using nospace::gateway::LauncherClient;

namespace {

struct Harness {
  boost::asio::io_context io;
  UniqueFd launcher; // the scripted launcher's end
  std::unique_ptr<LauncherClient> client;

  Harness() {
    int sv[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == 0);
    launcher.reset(sv[1]);
    client = std::make_unique<LauncherClient>(io, UniqueFd(sv[0]));
  }

  template <typename Pred> bool run_until(Pred done) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (!done() && std::chrono::steady_clock::now() < deadline) {
      io.restart(); // run_one_for stops the context whenever it runs out of work
      io.run_one_for(std::chrono::milliseconds(20));
    }
    return done();
  }

  // What the launcher receives next (waits up to 5 s).
  Received receive() {
    timeval tv{5, 0};
    ::setsockopt(launcher.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return receive_message(launcher.get());
  }

  void reply(const Bytes &bytes, const std::vector<int> &fds = {}) {
    REQUIRE(send_message(launcher.get(), bytes, fds) == 0);
  }
};

std::string read_all(int fd) {
  std::string out;
  char buf[256];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0)
    out.append(buf, static_cast<std::size_t>(n));
  return out;
}

LaunchRequest sample_request() {
  LaunchRequest r;
  r.language = Language::ws;
  r.std_extensions = ext_alloc;
  r.debug = true;
  r.program = "print hello\n";
  return r;
}

} // namespace

TEST_CASE("a run goes out typed with its program, and its fds and result come back") {
  Harness h;
  std::string started_error = "not called";
  LauncherClient::Started started;
  std::optional<RunResult> finished;
  h.client->start(
      sample_request(),
      [&](std::string error, LauncherClient::Started s) {
        started_error = error;
        started = std::move(s);
      },
      [&](const RunResult &r) { finished = r; });
  CHECK(started_error == "not called"); // never from inside start()

  Received run = h.receive();
  REQUIRE(run.fds.size() == 1);
  auto d = decode_to_launcher(run.bytes.data(), run.bytes.size(), run.fds.size());
  REQUIRE(d.error == "");
  auto &msg = std::get<RunMessage>(*d.value);
  CHECK(msg.request.language == Language::ws);
  CHECK(msg.request.std_extensions == ext_alloc);
  CHECK(msg.request.debug);
  CHECK_FALSE(msg.request.ignore_debug);
  std::string program;
  REQUIRE(read_program_memfd(run.fds[0].get(), msg.program_size, program) == "");
  CHECK(program == "print hello\n");

  Pipe in, out, err;
  REQUIRE(make_pipe(in, O_CLOEXEC));
  REQUIRE(make_pipe(out, O_CLOEXEC));
  REQUIRE(make_pipe(err, O_CLOEXEC));
  h.reply(encode(StartedMessage{msg.id}), {in.write.get(), out.read.get(), err.read.get()});
  in.write.reset();
  out.read.reset();
  err.read.reset();
  REQUIRE(h.run_until([&] { return started_error != "not called"; }));
  CHECK(started_error == "");
  CHECK(started.run_id == msg.id);
  REQUIRE(started.stdin_fd);
  REQUIRE(::write(started.stdin_fd.get(), "in", 2) == 2);
  started.stdin_fd.reset();
  CHECK(read_all(in.read.get()) == "in");
  REQUIRE(::write(out.write.get(), "out", 3) == 3);
  out.write.reset();
  CHECK(read_all(started.stdout_fd.get()) == "out");
  CHECK(h.client->pending() == 1);

  FinishedMessage f{msg.id, {}};
  f.result.reason = "exited";
  f.result.exit_code = 3;
  f.result.wall_ms = 12;
  h.reply(encode(f));
  REQUIRE(h.run_until([&] { return finished.has_value(); }));
  CHECK(finished->reason == "exited");
  CHECK(finished->exit_code == 3);
  CHECK(finished->wall_ms == 12);
  CHECK(h.client->pending() == 0);
  CHECK(h.client->connected());
}

TEST_CASE("a rejected request gets its reason and never a result") {
  Harness h;
  std::string error;
  bool finished = false;
  h.client->start(
      sample_request(), [&](std::string e, LauncherClient::Started) { error = e; },
      [&](const RunResult &) { finished = true; });
  Received run = h.receive();
  auto d = decode_to_launcher(run.bytes.data(), run.bytes.size(), run.fds.size());
  REQUIRE(d.value);
  h.reply(
      encode(RejectedMessage{std::get<RunMessage>(*d.value).id, "language 'ws' is not allowed"}));
  REQUIRE(h.run_until([&] { return !error.empty(); }));
  CHECK(error == "language 'ws' is not allowed");
  h.io.poll();
  CHECK_FALSE(finished);
  CHECK(h.client->pending() == 0);
  CHECK(h.client->connected());
}

TEST_CASE("kill sends the run's id and reason") {
  Harness h;
  std::uint64_t run_id = 0;
  h.client->start(
      sample_request(), [&](std::string, LauncherClient::Started s) { run_id = s.run_id; },
      [](const RunResult &) {});
  Received run = h.receive();
  auto id =
      std::get<RunMessage>(*decode_to_launcher(run.bytes.data(), run.bytes.size(), 1).value).id;
  int p[2];
  REQUIRE(::pipe2(p, O_CLOEXEC) == 0);
  UniqueFd a(p[0]), b(p[1]);
  h.reply(encode(StartedMessage{id}), {b.get(), a.get(), a.get()});
  REQUIRE(h.run_until([&] { return run_id != 0; }));

  h.client->kill(run_id, "output-limit");
  h.client->kill(run_id + 100, "killed"); // unknown: not sent
  h.client->kill(run_id, "killed");
  Received k1 = h.receive();
  auto d1 = decode_to_launcher(k1.bytes.data(), k1.bytes.size(), k1.fds.size());
  REQUIRE(d1.value);
  CHECK(std::get<KillMessage>(*d1.value).id == run_id);
  CHECK(std::get<KillMessage>(*d1.value).reason == KillReason::output_limit);
  Received k2 = h.receive();
  auto d2 = decode_to_launcher(k2.bytes.data(), k2.bytes.size(), k2.fds.size());
  REQUIRE(d2.value);
  CHECK(std::get<KillMessage>(*d2.value).reason == KillReason::killed);
}

TEST_CASE("when the launcher goes away every open request ends exactly once") {
  Harness h;
  int started_ok = 0, started_failed = 0, finished = 0;
  std::string finished_detail, disconnect_reason;
  h.client->on_disconnect([&](const std::string &why) { disconnect_reason = why; });
  for (int i = 0; i < 2; ++i)
    h.client->start(
        sample_request(),
        [&](std::string e, LauncherClient::Started) {
          ++(e.empty() ? started_ok : started_failed);
        },
        [&](const RunResult &r) {
          ++finished;
          finished_detail = r.reason + ": " + r.detail;
        });
  Received first = h.receive();
  auto id =
      std::get<RunMessage>(*decode_to_launcher(first.bytes.data(), first.bytes.size(), 1).value).id;
  int p[2];
  REQUIRE(::pipe2(p, O_CLOEXEC) == 0);
  UniqueFd a(p[0]), b(p[1]);
  h.reply(encode(StartedMessage{id}), {b.get(), a.get(), a.get()});
  REQUIRE(h.run_until([&] { return started_ok == 1; }));
  h.launcher.reset();
  REQUIRE(h.run_until([&] { return !disconnect_reason.empty(); }));
  CHECK(started_ok == 1);
  CHECK(started_failed == 1);
  CHECK(finished == 1);
  CHECK(finished_detail == "killed: launcher connection lost");
  CHECK(disconnect_reason == "the launcher closed the connection");
  CHECK_FALSE(h.client->connected());

  std::string late;
  h.client->start(
      sample_request(), [&](std::string e, LauncherClient::Started) { late = e; },
      [](const RunResult &) {});
  CHECK(late.empty());
  REQUIRE(h.run_until([&] { return !late.empty(); }));
  CHECK(late == "launcher unavailable: not connected");
}

TEST_CASE("a malformed or unexpected launcher message ends the connection") {
  Harness h;
  std::string why;
  h.client->on_disconnect([&](const std::string &w) { why = w; });
  SECTION("malformed") {
    h.reply(Bytes{1, 4, 0});
    REQUIRE(h.run_until([&] { return !why.empty(); }));
    CHECK(why == "malformed message from the launcher: truncated message");
  }
  SECTION("finished for a request never sent") {
    FinishedMessage f{99, {}};
    f.result.reason = "exited";
    h.reply(encode(f));
    REQUIRE(h.run_until([&] { return !why.empty(); }));
    CHECK(why == "launcher sent finished for unknown run 99");
  }
  CHECK_FALSE(h.client->connected());
}

TEST_CASE("destroying the client closes the socket and runs no callback") {
  Harness h;
  bool called = false;
  h.client->start(
      sample_request(), [&](std::string, LauncherClient::Started) { called = true; },
      [&](const RunResult &) { called = true; });
  h.client.reset();
  h.io.poll();
  CHECK_FALSE(called);
  Received run = h.receive(); // the request was sent before
  CHECK(run.fds.size() == 1);
  CHECK(h.receive().closed);
}

TEST_CASE("spawn_launcher gives the launcher its end as fd 3 and the documented arguments") {
  char dir[] = "/tmp/nospace-spawn-XXXXXX";
  REQUIRE(::mkdtemp(dir));
  std::string script = std::string(dir) + "/fake-sandbox";
  {
    std::ofstream s(script);
    // Writing to fd 3 sends one SEQPACKET message: the arguments and what fd 3 is.
    s << "#!/bin/sh\nprintf '%s ' \"$@\" \"$(stat -L -c %F /proc/self/fd/3)\" >&3\n";
  }
  REQUIRE(::chmod(script.c_str(), 0755) == 0);
  UniqueFd sock = gateway::spawn_launcher("/etc/policy.yaml", script);
  timeval tv{5, 0};
  ::setsockopt(sock.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  Received got = receive_message(sock.get());
  std::string text(got.bytes.begin(), got.bytes.end());
  CHECK(text == "service --policy /etc/policy.yaml --socket-fd 3 socket ");
  CHECK(receive_message(sock.get()).closed);
  while (::waitpid(-1, nullptr, WNOHANG) > 0) {
  }
  ::unlink(script.c_str());
  ::rmdir(dir);
  CHECK_THROWS_WITH(gateway::spawn_launcher("p", "/nonexistent/sandbox"),
                    Catch::Contains("spawn_launcher: starting /nonexistent/sandbox"));
}

TEST_CASE("drop_privileges leaves no root, no capability and sets no_new_privs") {
  if (::geteuid() != 0)
    NOSPACE_SKIP("needs root to drop from");
  // In a child: the test process itself stays root for the other tests.
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    int code = 0;
    try {
      gateway::drop_privileges("nobody");
      uid_t r, e, s;
      gid_t rg, eg, sg;
      ::getresuid(&r, &e, &s);
      ::getresgid(&rg, &eg, &sg);
      if (r != 65534 || e != 65534 || s != 65534 || rg != 65534 || eg != 65534 || sg != 65534)
        code = 10;
      else if (::getgroups(0, nullptr) != 0)
        code = 11;
      else if (::prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1)
        code = 12;
      else if (::prctl(PR_CAPBSET_READ, CAP_SYS_ADMIN, 0, 0, 0) != 0 ||
               ::prctl(PR_CAPBSET_READ, CAP_NET_BIND_SERVICE, 0, 0, 0) != 0)
        code = 13;
      else if (::setuid(0) == 0 || ::open("/etc/shadow", O_RDONLY) >= 0)
        code = 14;
    } catch (...) {
      code = 20;
    }
    ::_exit(code);
  }
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);

  pid = ::fork();
  if (pid == 0) {
    try {
      gateway::drop_privileges("no-such-user-here");
    } catch (const std::runtime_error &e) {
      ::_exit(std::string(e.what()) ==
                      "drop_privileges: server.user 'no-such-user-here' does not exist (create "
                      "it or set server.user)"
                  ? 0
                  : 1);
    }
    ::_exit(2);
  }
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  CHECK(WEXITSTATUS(status) == 0);
  CHECK_THROWS_WITH(gateway::drop_privileges("root"), Catch::Contains("is root"));
}
