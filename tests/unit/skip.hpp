#pragma once
// Catch2 2.13 has no SKIP(): a test that cannot run here records why and returns. The
// listener in main.cpp counts these, and the summary reports them as skipped, not passed.

#include <string>

namespace nospace::test {

void record_skip(const std::string &reason);

} // namespace nospace::test

#define NOSPACE_SKIP(reason)                                                                       \
  do {                                                                                             \
    ::nospace::test::record_skip(reason);                                                          \
    return;                                                                                        \
  } while (0)
