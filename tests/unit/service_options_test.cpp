// `nospace-sandbox service` command-line parsing: the two modes, and every misuse refused
// with the usage text.
#include "sandbox/service.hpp"

#include <catch2/catch.hpp>

using nospace::sandbox::parse_service_options;
using Args = std::vector<std::string>;

TEST_CASE("service options: socket-fd mode and listen mode") {
  auto fd = parse_service_options({"--policy", "p.yaml", "--socket-fd", "3"});
  CHECK(fd.policy_path == "p.yaml");
  CHECK(fd.socket_fd == 3);
  CHECK(fd.listen_path.empty());
  CHECK_FALSE(fd.gateway_uid);

  auto l = parse_service_options(
      {"--listen", "/run/nospace.sock", "--gateway-uid", "1000", "--policy", "p.yaml"});
  CHECK(l.socket_fd == -1);
  CHECK(l.listen_path == "/run/nospace.sock");
  CHECK(l.gateway_uid == 1000u);
}

TEST_CASE("service options: every misuse is refused with the usage") {
  struct Case {
    Args args;
    const char *error;
  };
  for (auto &c : std::vector<Case>{
           {{}, "service: --policy is required"},
           {{"--socket-fd", "3"}, "service: --policy is required"},
           {{"--policy", "p"}, "service: give exactly one of --socket-fd and --listen"},
           {{"--policy", "p", "--socket-fd", "3", "--listen", "x", "--gateway-uid", "1"},
            "service: give exactly one of --socket-fd and --listen"},
           {{"--policy", "p", "--listen", "x"}, "service: --listen and --gateway-uid go together"},
           {{"--policy", "p", "--socket-fd", "3", "--gateway-uid", "1"},
            "service: --listen and --gateway-uid go together"},
           {{"--policy", "p", "--socket-fd", "three"}, "service: bad --socket-fd 'three'"},
           {{"--policy", "p", "--socket-fd", "-1"}, "service: bad --socket-fd '-1'"},
           {{"--policy", "p", "--socket-fd", ""}, "service: bad --socket-fd ''"},
           {{"--policy", "p", "--listen", "x", "--gateway-uid", "1x"},
            "service: bad --gateway-uid '1x'"},
           {{"--policy"}, "service: '--policy' needs a value"},
           {{"--policy", "p", "--verbose", "1"}, "service: unknown option '--verbose'"},
       }) {
    INFO(c.error);
    CHECK_THROWS_WITH(parse_service_options(c.args),
                      Catch::StartsWith(std::string(c.error) + "\nusage: nospace-sandbox service"));
  }
}
