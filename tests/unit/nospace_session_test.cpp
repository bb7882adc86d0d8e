// Sessions and the per-connection request handling, on real processes: the fake interpreter
// is started by a test launcher (plain posix_spawn, no sandbox: the sandbox has its own tests;
// this is about the protocol) and the client is a recorder of emitted events.
#include "gateway/nospace/service.hpp"

#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <map>

using namespace nospace;
using namespace nospace::gateway;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

const std::string kFake = NOSPACE_BUILD_ROOT "/tests/fixtures/fake-nospace20";

class DirectLauncher : public RunLauncher {
public:
  explicit DirectLauncher(boost::asio::io_context &io, std::string interpreter = kFake)
      : io_(io), interpreter_(std::move(interpreter)) {}

  void start(const launch::LaunchRequest &request, StartedHandler on_started,
             FinishedHandler on_finished) override {
    if (request.program.rfind("#reject", 0) == 0) { // the launcher refuses: no Finished
      boost::asio::post(io_, [on_started] { on_started("refused by the test launcher", {}); });
      return;
    }
    std::string file =
        "/tmp/nospace-session-test-" + std::to_string(getpid()) + "-" + std::to_string(++next_id_);
    FILE *f = fopen(file.c_str(), "w");
    fwrite(request.program.data(), 1, request.program.size(), f);
    fclose(f);
    auto argv = launch::build_interpreter_argv(request, interpreter_);
    argv.back() = file;
    Pipe in, out, err;
    make_pipe(in, O_CLOEXEC);
    make_pipe(out, O_CLOEXEC);
    make_pipe(err, O_CLOEXEC);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, in.read.get(), 0);
    posix_spawn_file_actions_adddup2(&actions, out.write.get(), 1);
    posix_spawn_file_actions_adddup2(&actions, err.write.get(), 2);
    std::vector<char *> cargv;
    for (auto &a : argv)
      cargv.push_back(a.data());
    cargv.push_back(nullptr);
    pid_t pid = -1;
    int rc = posix_spawn(&pid, cargv[0], &actions, nullptr, cargv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    const std::uint64_t id = next_id_;
    if (rc != 0) {
      // Copy the path: cargv points into argv, which is gone when the handler runs.
      boost::asio::post(io_, [=, path = argv[0]] {
        Started s;
        s.run_id = id;
        on_started({}, std::move(s));
        RunResult r;
        r.reason = "start-failed";
        r.detail = "execve: " + std::string(strerror(rc)) + " (" + path + ")";
        on_finished(r);
      });
      return;
    }
    ++spawned;
    auto run = std::make_shared<Run>(io_);
    run->pid = pid;
    run->file = file;
    run->pidfd.assign(static_cast<int>(syscall(SYS_pidfd_open, pid, 0)));
    runs_[id] = run;
    auto started = std::make_shared<Started>();
    started->run_id = id;
    started->stdin_fd = std::move(in.write);
    started->stdout_fd = std::move(out.read);
    started->stderr_fd = std::move(err.read);
    boost::asio::post(io_, [started, on_started] { on_started({}, std::move(*started)); });
    run->pidfd.async_wait(boost::asio::posix::stream_descriptor::wait_read,
                          [this, id, run, on_finished](const boost::system::error_code &) {
                            int status = 0;
                            waitpid(run->pid, &status, 0);
                            unlink(run->file.c_str());
                            RunResult r;
                            if (!run->kill_reason.empty())
                              r.reason = run->kill_reason;
                            else if (WIFEXITED(status)) {
                              r.reason = "exited";
                              r.exit_code = WEXITSTATUS(status);
                            } else {
                              r.reason = "signaled";
                              r.signal = WTERMSIG(status);
                              r.detail = "SIG" + std::to_string(WTERMSIG(status));
                            }
                            r.wall_ms = 1;
                            runs_.erase(id);
                            ++finished;
                            on_finished(r);
                          });
  }

  void kill(std::uint64_t run_id, const std::string &reason) override {
    kills.push_back(reason);
    auto it = runs_.find(run_id);
    if (it == runs_.end())
      return;
    it->second->kill_reason = reason;
    ::kill(it->second->pid, SIGKILL);
  }

  std::size_t alive() const { return runs_.size(); }
  int spawned = 0, finished = 0;
  std::vector<std::string> kills;

private:
  struct Run {
    explicit Run(boost::asio::io_context &io) : pidfd(io) {}
    pid_t pid = -1;
    std::string file, kill_reason;
    boost::asio::posix::stream_descriptor pidfd;
  };
  boost::asio::io_context &io_;
  std::string interpreter_;
  std::uint64_t next_id_ = 0;
  std::map<std::uint64_t, std::shared_ptr<Run>> runs_;
};

struct Recorder : ClientChannel {
  std::vector<std::pair<std::string, json>> events;
  std::size_t buffered = 0;
  void emit(const std::string &event, json payload) override {
    events.emplace_back(event, std::move(payload));
  }
  std::size_t buffered_amount() const override { return buffered; }

  // Concatenated data of `event` for `session`.
  std::string text(const std::string &event, const std::string &session) const {
    std::string out;
    for (auto &[e, p] : events)
      if (e == event && p["sessionId"] == session)
        out += p["data"].get<std::string>();
    return out;
  }
  std::vector<json> statuses(const std::string &session) const {
    std::vector<json> out;
    for (auto &[e, p] : events)
      if (e == "nospace_execution_status" && p["sessionId"] == session)
        out.push_back(p);
    return out;
  }
  std::string first_session() const {
    for (auto &[e, p] : events)
      if (e == "nospace_execution_status")
        return p["sessionId"];
    return {};
  }
  bool final_for(const std::string &session) const {
    for (auto &s : statuses(session))
      if (s["status"] != "running" && s["status"] != "compiling")
        return true;
    return false;
  }
};

struct World {
  boost::asio::io_context io;
  Policy policy;
  std::vector<std::string> log_lines;
  RunLog log{[this](const std::string &line) { log_lines.push_back(line); }};
  std::unique_ptr<DirectLauncher> launcher;
  std::unique_ptr<NospaceService> service;

  explicit World(std::function<void(Policy &)> adjust = {}) {
    policy.pipeline.flush_interval_ms = 10;
    if (adjust)
      adjust(policy);
    launcher = std::make_unique<DirectLauncher>(
        io,
        policy.interpreter.path.rfind("/nonexistent", 0) == 0 ? policy.interpreter.path : kFake);
    service = std::make_unique<NospaceService>(io, policy, *launcher, log);
  }

  struct Client {
    std::shared_ptr<Recorder> rec = std::make_shared<Recorder>();
    std::shared_ptr<Connection> conn;
  };
  Client connect(const std::string &ip = "10.0.0.1") {
    Client c;
    REQUIRE_FALSE(service->limits().admit_connection(ip));
    c.conn = std::make_shared<Connection>(*service, c.rec, ip, "sock" + std::to_string(++n_));
    return c;
  }

  // One handler, or 5 ms; an io_context that ran out of work stops, and is restarted here.
  void step() {
    if (io.stopped())
      io.restart();
    io.run_one_for(5ms);
  }
  bool run_until(const std::function<bool()> &done, std::chrono::milliseconds limit = 5000ms) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!done() && std::chrono::steady_clock::now() < deadline)
      step();
    return done();
  }
  void settle(std::chrono::milliseconds d = 100ms) {
    const auto deadline = std::chrono::steady_clock::now() + d;
    while (std::chrono::steady_clock::now() < deadline)
      step();
  }
  int n_ = 0;
};

json run_args(const std::string &code, json options = {{"language", "standard"}},
              json extra = json::object()) {
  json p = {{"code", code}, {"options", std::move(options)}};
  p.update(extra);
  return json::array({p});
}

json id_args(const std::string &id, json extra = json::object()) {
  json p = {{"sessionId", id}};
  p.update(extra);
  return json::array({p});
}

// Exactly one final status, the last event of the session, after a first running/compiling.
void check_flow(const Recorder &rec, const std::string &session, const std::string &first,
                const std::string &final) {
  auto statuses = rec.statuses(session);
  REQUIRE(statuses.size() == 2);
  CHECK(statuses[0]["status"] == first);
  CHECK(statuses[1]["status"] == final);
  std::size_t last_output = 0, final_at = 0;
  for (std::size_t i = 0; i < rec.events.size(); ++i) {
    auto &[e, p] = rec.events[i];
    if (p["sessionId"] != session)
      continue;
    if (e != "nospace_execution_status")
      last_output = i;
    else if (p["status"] == final)
      final_at = i;
  }
  CHECK(final_at > last_output);
}

} // namespace

TEST_CASE("batch run: stdinData then end of file; running, output, one final status") {
  World w;
  auto c = w.connect();
  c.conn->on_run(run_args("print hello\ncat\nstdin_eof\neprint bye",
                          {{"language", "min"}, {"inputMode", "batch"}},
                          {{"stdinData", "line1\nline2"}}),
                 false, {});
  REQUIRE(w.run_until([&] { return c.rec->final_for(c.rec->first_session()); }));
  const std::string id = c.rec->first_session();
  CHECK(id.size() == 32);
  check_flow(*c.rec, id, "running", "finished");
  CHECK(c.rec->text("nospace_stdout", id) == "hello\nline1\nline2eof\n");
  CHECK(c.rec->text("nospace_stderr", id) == "bye\n");
  auto final = c.rec->statuses(id).back();
  CHECK(final["exitCode"] == 0);
  CHECK(final["reason"] == "exited");
  CHECK(final["usage"].contains("wallMs"));
  // One log line at the start and one at the end, with the usage.
  int starts = 0, ends = 0;
  for (auto &l : w.log_lines) {
    auto j = json::parse(l);
    starts += j["event"] == "run-start";
    if (j["event"] == "run-end") {
      ++ends;
      CHECK(j["reason"] == "exited");
      CHECK(j["usage"]["wallMs"] == 1);
    }
  }
  CHECK(starts == 1);
  CHECK(ends == 1);
  CHECK(w.service->limits().sandboxes() == 0);
}

TEST_CASE("interactive: each line written with a newline added; the prompt arrives first") {
  World w;
  auto c = w.connect();
  c.conn->on_run(run_args("prompt name? \nprompt age? "), false, {});
  REQUIRE(w.run_until([&] { return !c.rec->first_session().empty(); }));
  const std::string id = c.rec->first_session();
  REQUIRE(w.run_until([&] { return c.rec->text("nospace_stdout", id) == "name? "; }));
  c.conn->on_stdin(id_args(id, {{"data", "bob"}}), {});
  REQUIRE(
      w.run_until([&] { return c.rec->text("nospace_stdout", id) == "name? got: bob\nage? "; }));
  c.conn->on_stdin(id_args(id, {{"data", "42\n"}}), {}); // already has its newline
  REQUIRE(w.run_until([&] { return c.rec->final_for(id); }));
  CHECK(c.rec->text("nospace_stdout", id) == "name? got: bob\nage? got: 42\n");
  check_flow(*c.rec, id, "running", "finished");
  // Input after the program exited is refused without a second final status.
  c.conn->on_stdin(id_args(id, {{"data", "late"}}), {});
  CHECK(c.rec->statuses(id).size() == 2);
  CHECK(c.rec->events.back().first == "nospace_stderr");
  CHECK(c.rec->events.back().second["data"] ==
        "nospace_stdin: the program of session " + id + " is no longer running\n");
}

TEST_CASE("kill: status killed at once, the process is gone, nothing after") {
  World w;
  auto c = w.connect();
  c.conn->on_run(run_args("print started\nsleep 20000"), false, {});
  const std::string id = [&] {
    w.run_until(
        [&] { return c.rec->text("nospace_stdout", c.rec->first_session()) == "started\n"; });
    return c.rec->first_session();
  }();
  REQUIRE(w.launcher->alive() == 1);
  c.conn->on_kill(id_args(id), {});
  check_flow(*c.rec, id, "running", "killed");
  REQUIRE(w.run_until([&] { return w.launcher->alive() == 0; }));
  CHECK(w.launcher->kills == std::vector<std::string>{"killed"});
  const auto count = c.rec->events.size();
  w.settle();
  CHECK(c.rec->events.size() == count);
  CHECK(w.service->limits().sandboxes() == 0);
}

TEST_CASE("stdin and kill with another connection's sessionId are refused; it runs on") {
  World w;
  auto a = w.connect("10.0.0.1");
  auto b = w.connect("10.0.0.2");
  a.conn->on_run(run_args("prompt x\nprint done"), false, {});
  REQUIRE(w.run_until([&] { return !a.rec->first_session().empty(); }));
  const std::string id = a.rec->first_session();
  const auto a_events = a.rec->events.size();
  json acked;
  b.conn->on_stdin(id_args(id, {{"data", "evil"}}), [&](json r) { acked = r; });
  b.conn->on_kill(id_args(id), {});
  CHECK(acked["error"] == "nospace_stdin: no session \"" + id + "\" on this connection");
  REQUIRE(b.rec->events.size() == 4);
  CHECK(b.rec->events[0].second["data"] ==
        "nospace_stdin: no session \"" + id + "\" on this connection\n");
  CHECK(b.rec->events[1].second["status"] == "error");
  CHECK(b.rec->events[3].second["status"] == "error");
  w.settle(100ms);
  CHECK(w.launcher->alive() == 1);
  CHECK(w.launcher->kills.empty());
  a.conn->on_stdin(id_args(id, {{"data", "mine"}}), {});
  REQUIRE(w.run_until([&] { return a.rec->final_for(id); }));
  CHECK(a.rec->text("nospace_stdout", id) == "xgot: mine\ndone\n");
  CHECK(a.rec->events.size() > a_events);
}

TEST_CASE("run while running: the previous session is killed, the new one runs") {
  World w;
  auto c = w.connect();
  c.conn->on_run(run_args("sleep 20000"), false, {});
  REQUIRE(w.run_until([&] { return !c.rec->first_session().empty(); }));
  const std::string first = c.rec->first_session();
  c.conn->on_run(run_args("print second"), false, {});
  CHECK(c.rec->statuses(first).back()["status"] == "killed");
  std::string second;
  REQUIRE(w.run_until([&] {
    for (auto &[e, p] : c.rec->events)
      if (e == "nospace_execution_status" && p["sessionId"] != first)
        second = p["sessionId"];
    return !second.empty() && c.rec->final_for(second);
  }));
  check_flow(*c.rec, first, "running", "killed");
  check_flow(*c.rec, second, "running", "finished");
  CHECK(c.rec->text("nospace_stdout", second) == "second\n");
  REQUIRE(w.run_until([&] { return w.launcher->alive() == 0; }));
}

TEST_CASE("compile: compiling first, each target; the command line comes from the options") {
  World w;
  auto c = w.connect();
  c.conn->on_run(
      run_args("argv", {{"language", "ws"}, {"target", "mnemonic"}, {"stdExtensions", {"alloc"}}}),
      true, {});
  REQUIRE(w.run_until([&] { return c.rec->final_for(c.rec->first_session()); }));
  const std::string id = c.rec->first_session();
  check_flow(*c.rec, id, "compiling", "finished");
  const std::string out = c.rec->text("nospace_stdout", id);
  CHECK(out.rfind("compiled mnemonic ws\n" + kFake +
                      "\n--mode\ncompile\n--std\nws\n--target\nmnemonic\n--std-ext\nalloc\n",
                  0) == 0);
}

TEST_CASE("a nonzero exit ends with error and the exit code") {
  World w;
  auto c = w.connect();
  c.conn->on_run(run_args("eprint oops\nexit 3"), false, {});
  REQUIRE(w.run_until([&] { return c.rec->final_for(c.rec->first_session()); }));
  const std::string id = c.rec->first_session();
  check_flow(*c.rec, id, "running", "error");
  CHECK(c.rec->statuses(id).back()["exitCode"] == 3);
  CHECK(c.rec->text("nospace_stderr", id) == "oops\n");
}

TEST_CASE("malformed requests end as error with a stderr line saying what was wrong") {
  World w;
  auto c = w.connect();
  json acked;
  c.conn->on_run(run_args("x", {{"language", "klingon"}}), false, [&](json r) { acked = r; });
  REQUIRE(c.rec->events.size() == 2);
  CHECK(c.rec->events[0].first == "nospace_stderr");
  CHECK(c.rec->events[0].second["data"] ==
        "nospace_run: options.language: unknown language \"klingon\" (allowed: standard, min, "
        "ws)\n");
  CHECK(c.rec->events[1].second["status"] == "error");
  CHECK(c.rec->events[1].second["sessionId"] == c.rec->events[0].second["sessionId"]);
  CHECK(acked["error"].get<std::string>().find("klingon") != std::string::npos);
  c.conn->on_run(run_args("x", {{"language", "ws"}, {"target", "ex-ws"}}), true, {});
  CHECK(c.rec->events[2].second["data"].get<std::string>().find("\"ex-ws\" is not supported") !=
        std::string::npos);
  c.conn->on_kill(json::array({42}), {});
  CHECK(c.rec->events.back().second["status"] == "error");
  CHECK(w.launcher->spawned == 0);
}

TEST_CASE("the output limit stops the program with a notice and reason output-limit") {
  World w([](Policy &p) { p.sandbox.output_limit.bytes = 10000; });
  auto c = w.connect();
  c.conn->on_run(run_args("flood 1000000\nsleep 5000"), false, {});
  REQUIRE(w.run_until([&] { return c.rec->final_for(c.rec->first_session()); }));
  const std::string id = c.rec->first_session();
  check_flow(*c.rec, id, "running", "error");
  CHECK(c.rec->text("nospace_stdout", id).size() == 10000);
  CHECK(c.rec->text("nospace_stderr", id) ==
        "output limit of 10000 bytes (sandbox.output_limit) reached: the program was stopped\n");
  CHECK(c.rec->statuses(id).back()["reason"] == "output-limit");
  CHECK(w.launcher->kills == std::vector<std::string>{"output-limit"});
}

TEST_CASE("a missing interpreter ends with error naming the setting") {
  World w([](Policy &p) { p.interpreter.path = "/nonexistent/nospace20"; });
  auto c = w.connect();
  c.conn->on_run(run_args("print x"), false, {});
  REQUIRE(w.run_until([&] { return c.rec->final_for(c.rec->first_session()); }));
  const std::string id = c.rec->first_session();
  CHECK(c.rec->statuses(id).back()["status"] == "error");
  CHECK(c.rec->statuses(id).back()["reason"] == "start-failed");
  const std::string err = c.rec->text("nospace_stderr", id);
  CHECK(err.find("the interpreter /nonexistent/nospace20 is missing") != std::string::npos);
  CHECK(err.find("interpreter.path") != std::string::npos);
  CHECK(err.find("NOSPACE_BIN_PATH") != std::string::npos);
}

TEST_CASE("disconnect kills the run and sends nothing more") {
  World w;
  auto c = w.connect();
  c.conn->on_run(run_args("sleep 20000"), false, {});
  REQUIRE(w.run_until([&] { return !c.rec->first_session().empty(); }));
  const auto count = c.rec->events.size();
  c.conn->on_disconnect("transport close");
  REQUIRE(w.run_until([&] { return w.launcher->alive() == 0; }));
  w.settle();
  CHECK(c.rec->events.size() == count);
  CHECK(w.service->limits().sandboxes() == 0);
  CHECK(w.service->limits().connections() == 0);
}

TEST_CASE("per-IP session limit and total sandboxes: clear refusals") {
  World w([](Policy &p) {
    p.limits.max_runs_per_ip = 1;
    p.limits.max_concurrent_runs = 2;
  });
  auto a1 = w.connect("10.0.0.1");
  auto a2 = w.connect("10.0.0.1");
  auto b = w.connect("10.0.0.2");
  auto c = w.connect("10.0.0.3");
  a1.conn->on_run(run_args("sleep 20000"), false, {});
  a2.conn->on_run(run_args("sleep 20000"), false, {});
  CHECK(a2.rec->events[0].second["data"] ==
        "nospace_run refused: too many programs running from 10.0.0.1: the limit is 1 at once "
        "(limits.max_runs_per_ip)\n");
  CHECK(a2.rec->events[1].second["status"] == "error");
  // Replacing one's own run is not refused by the per-IP limit.
  a1.conn->on_run(run_args("sleep 20000"), false, {});
  CHECK(a1.rec->events.back().first != "nospace_stderr");
  w.settle(50ms);
  b.conn->on_run(run_args("sleep 20000"), false, {});
  w.run_until([&] { return w.launcher->alive() == 2; });
  c.conn->on_run(run_args("sleep 20000"), false, {});
  CHECK(c.rec->events[0].second["data"].get<std::string>().find(
            "limit of 2 programs at once (limits.max_concurrent_runs)") != std::string::npos);
  a1.conn->on_disconnect("x");
  b.conn->on_disconnect("x");
  REQUIRE(w.run_until([&] { return w.launcher->alive() == 0; }));
  CHECK(w.service->limits().sandboxes() == 0);
}

TEST_CASE("backpressure: a client that does not read stops the program's output") {
  World w([](Policy &p) {
    p.pipeline.high_water.bytes = 100000;
    p.pipeline.max_chunk.bytes = 16384;
  });
  auto c = w.connect();
  c.rec->buffered = 200000; // over high water: the client reads nothing
  c.conn->on_run(run_args("flood 50000000"), false, {});
  w.settle(500ms);
  const std::string id = c.rec->first_session();
  const std::size_t got = c.rec->text("nospace_stdout", id).size();
  CHECK(got < 300000); // the program is blocked, not 50 MB buffered
  CHECK_FALSE(c.rec->final_for(id));
  c.conn->on_kill(id_args(id), {});
  REQUIRE(w.run_until([&] { return w.launcher->alive() == 0; }));
}

TEST_CASE("input sent before the program started is kept and delivered in order") {
  World w;
  auto c = w.connect();
  std::string id;
  c.conn->on_run(run_args("prompt a\nprompt b"), false, [&](json r) { id = r["sessionId"]; });
  REQUIRE(id.size() == 32);
  c.conn->on_stdin(id_args(id, {{"data", "one"}}), {}); // the launcher has not answered yet
  c.conn->on_stdin(id_args(id, {{"data", "two"}}), {});
  REQUIRE(w.run_until([&] { return c.rec->final_for(id); }));
  CHECK(c.rec->text("nospace_stdout", id) == "agot: one\nbgot: two\n");
  check_flow(*c.rec, id, "running", "finished");
}

TEST_CASE("a launcher refusal ends the session with error; after a kill it adds nothing") {
  World w;
  auto c = w.connect();
  std::string id;
  c.conn->on_run(run_args("#reject\nprint x"), false, [&](json r) { id = r["sessionId"]; });
  REQUIRE(w.run_until([&] { return c.rec->final_for(id); }));
  REQUIRE(c.rec->events.size() == 2);
  CHECK(c.rec->events[0].second["data"] ==
        "could not start the program: refused by the test launcher\n");
  CHECK(c.rec->statuses(id).back()["status"] == "error");
  CHECK(w.service->limits().sandboxes() == 0);

  c.conn->on_run(run_args("#reject\nprint x"), false, [&](json r) { id = r["sessionId"]; });
  c.conn->on_kill(id_args(id), {}); // before the launcher answered
  w.settle(100ms);
  auto statuses = c.rec->statuses(id);
  REQUIRE(statuses.size() == 1);
  CHECK(statuses[0]["status"] == "killed");
  CHECK(c.rec->events.back().first == "nospace_execution_status"); // no stderr after it
  CHECK(w.service->limits().sandboxes() == 0);
}
