// nospace-sandbox: the privileged launcher. One binary, one subcommand per use:
//   run      one sandboxed run from the command line (sandbox/run_command.cpp)
//   check    what the host provides and whether the policy can run (check_command.cpp)
//   service  the launcher the gateway talks to (sandbox/service.cpp)
#include "sandbox/check_command.hpp"
#include "sandbox/run_command.hpp"
#include "sandbox/service.hpp"

#include <iostream>
#include <string>
#include <vector>

int main(int argc, char **argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  const std::string command = args.empty() ? "" : args[0];
  const std::vector<std::string> rest(args.empty() ? args.end() : args.begin() + 1, args.end());
  if (command == "run")
    return nospace::sandbox::run_command(rest);
  if (command == "check")
    return nospace::sandbox::check_command(rest);
  if (command == "service")
    return nospace::sandbox::service_command(rest);
  std::cerr << "usage: nospace-sandbox run|check|service ... (see docs/policy.md)\n";
  return 2;
}
