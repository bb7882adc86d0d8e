#pragma once
// `nospace-sandbox run`: one sandboxed run from the command line, for operators debugging a
// policy and for tests.

#include <string>
#include <vector>

namespace nospace::sandbox {

// args: everything after "run". Returns the process exit status: the program's exit code,
// 128 + signal when it was killed by one, 125 when it never started, 2 for a usage error.
int run_command(const std::vector<std::string> &args);

} // namespace nospace::sandbox
