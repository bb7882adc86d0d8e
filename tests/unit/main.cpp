// The Catch2 main of every unit test binary. A listener prints one machine-readable line at
// the end ("catch-summary: P passed, F failed, S skipped") that tests/summarize.py adds up.
#define CATCH_CONFIG_RUNNER
#define CATCH_CONFIG_EXTERNAL_INTERFACES
#include <catch2/catch.hpp>

#include "skip.hpp"

#include <cstdio>
#include <cstdlib>
#include <set>

namespace nospace::test {

namespace {
std::set<std::string> &skipped_cases() {
  static std::set<std::string> cases;
  return cases;
}
std::string current_case;
} // namespace

void record_skip(const std::string &reason) {
  std::printf("SKIPPED: %s: %s\n", current_case.c_str(), reason.c_str());
  skipped_cases().insert(current_case);
  // CI may insist that every test runs here (NOSPACE_REQUIRE_ALL=1): a skip is then a failure.
  if (const char *strict = std::getenv("NOSPACE_REQUIRE_ALL"); strict && *strict == '1')
    FAIL("skipped although NOSPACE_REQUIRE_ALL=1: " << reason);
}

class SummaryListener : public Catch::TestEventListenerBase {
public:
  using TestEventListenerBase::TestEventListenerBase;

  void testCaseStarting(const Catch::TestCaseInfo &info) override { current_case = info.name; }

  void testCaseEnded(const Catch::TestCaseStats &stats) override {
    if (stats.totals.assertions.failed > 0)
      ++failed_;
    else if (skipped_cases().count(stats.testInfo.name))
      ++skipped_;
    else
      ++passed_;
  }

  void testRunEnded(const Catch::TestRunStats &) override {
    std::printf("catch-summary: %d passed, %d failed, %d skipped\n", passed_, failed_, skipped_);
    std::fflush(stdout);
  }

private:
  int passed_ = 0, failed_ = 0, skipped_ = 0;
};

CATCH_REGISTER_LISTENER(SummaryListener)

} // namespace nospace::test

int main(int argc, char **argv) { return Catch::Session().run(argc, argv); }
