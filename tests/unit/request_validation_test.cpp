// Every malformed nospace_run / nospace_compile / nospace_stdin / nospace_kill is refused with
// a message that names the field and quotes what was sent.
#include "gateway/nospace/request.hpp"

#include <catch2/catch.hpp>

using namespace nospace::gateway;
using nlohmann::json;
namespace launch = nospace::launch;

namespace {

nospace::Policy policy() {
  nospace::Policy p;
  p.limits.max_code.bytes = 100;
  p.limits.max_stdin.bytes = 10;
  return p;
}

json run(json options, json extra = json::object()) {
  json p = {{"code", "print hi"}, {"options", std::move(options)}};
  p.update(extra);
  return json::array({p});
}

std::string run_error(const json &args) {
  auto r = parse_run(args, policy());
  CHECK_FALSE(r.value);
  return r.error;
}

std::string compile_error(const json &args) {
  auto r = parse_compile(args, policy());
  CHECK_FALSE(r.value);
  return r.error;
}

} // namespace

TEST_CASE("a full nospace_run becomes a typed request; the web client's extras are ignored") {
  auto r = parse_run(run({{"language", "min"},
                          {"debug", true},
                          {"ignoreDebug", true},
                          {"inputMode", "batch"},
                          {"stdExtensions", {"alloc", "debug"}},
                          {"stepBudget", 1000},
                          {"maxTotalSteps", 5},
                          {"optPasses", {"x"}},
                          {"direct", true}},
                         {{"stdinData", "1 2"}}),
                     policy());
  REQUIRE(r.value);
  CHECK(r.error.empty());
  const auto &v = *r.value;
  CHECK(v.launch.mode == launch::Mode::run);
  CHECK(v.launch.language == launch::Language::min);
  CHECK(v.launch.debug);
  CHECK(v.launch.ignore_debug);
  CHECK(v.launch.std_extensions == (launch::ext_alloc | launch::ext_debug));
  CHECK(v.launch.program == "print hi");
  CHECK(v.input_mode == InputMode::batch);
  CHECK(v.stdin_data == "1 2");
}

TEST_CASE("a minimal nospace_run defaults to interactive, no flags") {
  auto r = parse_run(run({{"language", "standard"}}), policy());
  REQUIRE(r.value);
  CHECK(r.value->input_mode == InputMode::interactive);
  CHECK_FALSE(r.value->launch.debug);
  CHECK(r.value->launch.std_extensions == 0);
}

TEST_CASE("malformed nospace_run requests name the field and quote the value") {
  CHECK(run_error(json::array()) ==
        "nospace_run: expected one object argument {code, options, stdinData?}, got no argument");
  CHECK(run_error(json::array({"print hi"})) ==
        "nospace_run: expected one object argument {code, options, stdinData?}, got a string "
        "\"print hi\"");
  CHECK(run_error(json::array({{{"options", {{"language", "ws"}}}}})) ==
        "nospace_run: code is missing");
  CHECK(run_error(json::array({{{"code", 5}, {"options", {{"language", "ws"}}}}})) ==
        "nospace_run: code must be a string, got a number 5");
  CHECK(run_error(json::array({{{"code", ""}}})) == "nospace_run: options is missing");
  CHECK(run_error(json::array({{{"code", ""}, {"options", "ws"}}})) ==
        "nospace_run: options must be an object, got a string \"ws\"");
  CHECK(run_error(run(json::object())) == "nospace_run: options.language is missing");
  CHECK(run_error(run({{"language", "cobol"}})) ==
        "nospace_run: options.language: unknown language \"cobol\" (allowed: standard, min, ws)");
  CHECK(run_error(run({{"language", "ws"}, {"debug", "yes"}})) ==
        "nospace_run: options.debug must be true or false, got \"yes\"");
  CHECK(run_error(run({{"language", "ws"}, {"ignoreDebug", 1}})) ==
        "nospace_run: options.ignoreDebug must be true or false, got 1");
  CHECK(run_error(run({{"language", "ws"}, {"inputMode", "stream"}})) ==
        "nospace_run: options.inputMode must be \"interactive\" or \"batch\", got \"stream\"");
  CHECK(run_error(run({{"language", "ws"}, {"stdExtensions", "debug"}})) ==
        "nospace_run: options.stdExtensions must be an array of strings, got \"debug\"");
  CHECK(run_error(run({{"language", "ws"}, {"stdExtensions", {"debug", "net"}}})) ==
        "nospace_run: options.stdExtensions: unknown extension \"net\" (allowed: debug, alloc)");
  CHECK(run_error(run({{"language", "ws"}}, {{"stdinData", 7}})) ==
        "nospace_run: stdinData must be a string, got a number 7");
}

TEST_CASE("oversize code and stdin are refused with their size and the limit") {
  CHECK(run_error(
            json::array({{{"code", std::string(101, 'x')}, {"options", {{"language", "ws"}}}}})) ==
        "nospace_run: code is 101 bytes, over the limit of 100 bytes");
  CHECK(run_error(run({{"language", "ws"}}, {{"stdinData", std::string(11, 'x')}})) ==
        "nospace_run: stdinData is 11 bytes, over the limit of 10 bytes");
  auto s =
      parse_stdin(json::array({{{"sessionId", "a"}, {"data", std::string(11, 'x')}}}), policy());
  CHECK_FALSE(s.value);
  CHECK(s.error == "nospace_stdin: data is 11 bytes, over the limit of 10 bytes");
}

TEST_CASE("the policy narrows languages, extensions and targets") {
  auto p = policy();
  p.interpreter.languages = {"standard"};
  p.interpreter.std_extensions = {"debug"};
  p.interpreter.compile_targets = {"json"};
  auto r = parse_run(run({{"language", "min"}}), p);
  CHECK(r.error == "nospace_run: options.language: unknown language \"min\" (allowed: standard)");
  r = parse_run(run({{"language", "standard"}, {"stdExtensions", {"alloc"}}}), p);
  CHECK(r.error ==
        "nospace_run: options.stdExtensions: unknown extension \"alloc\" (allowed: debug)");
  auto c = parse_compile(run({{"language", "standard"}, {"target", "ws"}}), p);
  CHECK(c.error == "nospace_compile: options.target: unknown target \"ws\" (allowed: json)");
}

TEST_CASE("nospace_compile: each target, and ex-ws refused") {
  for (auto [name, target] :
       {std::pair{"ws", launch::Target::ws}, std::pair{"mnemonic", launch::Target::mnemonic},
        std::pair{"json", launch::Target::json}}) {
    auto r = parse_compile(run({{"language", "ws"}, {"target", name}, {"optPasses", 3}}), policy());
    REQUIRE(r.value);
    CHECK(r.value->launch.mode == launch::Mode::compile);
    CHECK(r.value->launch.target == target);
    CHECK(r.value->input_mode == InputMode::batch);
  }
  CHECK(compile_error(run({{"language", "ws"}, {"target", "ex-ws"}})) ==
        "nospace_compile: options.target: \"ex-ws\" is not supported by this server (allowed: ws, "
        "mnemonic, json)");
  CHECK(compile_error(run({{"language", "ws"}, {"target", "x86"}})) ==
        "nospace_compile: options.target: unknown target \"x86\" (allowed: ws, mnemonic, json)");
  CHECK(compile_error(run({{"language", "ws"}})) == "nospace_compile: options.target is missing");
  CHECK(compile_error(run({{"language", "ws"}, {"target", nullptr}})) ==
        "nospace_compile: options.target must be a string, got null null");
}

TEST_CASE("nospace_stdin and nospace_kill") {
  auto s = parse_stdin(json::array({{{"sessionId", "abc"}, {"data", "42"}}}), policy());
  REQUIRE(s.value);
  CHECK(s.value->session_id == "abc");
  CHECK(s.value->data == "42");
  s = parse_stdin(json::array({{{"sessionId", 3}, {"data", "42"}}}), policy());
  CHECK(s.error == "nospace_stdin: sessionId must be a string, got a number 3");
  s = parse_stdin(json::array({{{"sessionId", "abc"}}}), policy());
  CHECK(s.error == "nospace_stdin: data is missing");
  CHECK(requested_session_id(json::array({{{"sessionId", "abc"}}})) == "abc");
  CHECK(requested_session_id(json::array({{{"sessionId", 1}}})).empty());

  auto k = parse_kill(json::array({{{"sessionId", "abc"}}}));
  REQUIRE(k.value);
  CHECK(k.value->session_id == "abc");
  k = parse_kill(json::array({json::array()}));
  CHECK(k.error == "nospace_kill: expected one object argument {sessionId}, got an array []");
}

TEST_CASE("quotes are shortened without splitting a character") {
  CHECK(quote(std::string(100, 'a'), 10) == "\"aaaaaaaaa...");
  CHECK(quote(std::string("\xE3\x81\x82\xE3\x81\x82\xE3\x81\x82x"), 6) == "\"\xE3\x81\x82...");
}
