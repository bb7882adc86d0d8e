#pragma once
// `nospace-sandbox check --policy FILE [--json]`: what this host provides (namespaces,
// seccomp and its actions, pidfd, cgroups, privileges), what the policy asks for, and whether
// runs can start. Exit status 0 when they can, 1 when they cannot (each reason printed), 2 for
// a usage error or a policy that does not load.

#include <iosfwd>
#include <string>
#include <vector>

namespace nospace::sandbox {

int check_command(const std::vector<std::string> &args);

// The same, writing to `out` (the command passes std::cout); for tests.
int check_command(const std::vector<std::string> &args, std::ostream &out, std::ostream &err);

} // namespace nospace::sandbox
