// The rlimit table from a policy, and the host uid allocation of concurrent runs.
#include "common/run_result.hpp"
#include "sandbox/rlimits.hpp"
#include "sandbox/uid_range.hpp"

#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include <set>

using namespace nospace;
using namespace nospace::sandbox;

namespace {

const RlimitEntry &entry(const RlimitTable &table, int resource) {
  for (const auto &e : table)
    if (e.resource == resource)
      return e;
  FAIL("no entry for resource " << resource);
  return table[0];
}

} // namespace

TEST_CASE("every limit of the policy is in the table; core dumps are off") {
  RlimitPolicy p;
  p.cpu_seconds = 7;
  p.address_space.bytes = 512ull << 20;
  p.file_size.bytes = 1u << 20;
  p.open_files = 32;
  p.processes = 16;
  p.stack.bytes = 4u << 20;
  const RlimitTable t = prepare_rlimits(p);
  CHECK(entry(t, RLIMIT_CPU).limit.rlim_cur == 7);
  CHECK(entry(t, RLIMIT_CPU).limit.rlim_max == 8); // SIGXCPU first, SIGKILL a second later
  CHECK(entry(t, RLIMIT_AS).limit.rlim_cur == 512ull << 20);
  CHECK(entry(t, RLIMIT_FSIZE).limit.rlim_max == 1u << 20);
  CHECK(entry(t, RLIMIT_NOFILE).limit.rlim_cur == 32);
  CHECK(entry(t, RLIMIT_NPROC).limit.rlim_cur == 16);
  CHECK(entry(t, RLIMIT_STACK).limit.rlim_cur == 4u << 20);
  CHECK(entry(t, RLIMIT_CORE).limit.rlim_cur == 0);
  CHECK(entry(t, RLIMIT_CORE).limit.rlim_max == 0);
  // Soft equals hard except for CPU: the program cannot raise anything back.
  for (const auto &e : t)
    if (e.resource != RLIMIT_CPU)
      CHECK(e.limit.rlim_cur == e.limit.rlim_max);
}

TEST_CASE("concurrent runs get distinct host ids from the range, reused once released") {
  UidRange range(UidRangePolicy{200000, 3});
  std::set<std::uint32_t> ids;
  for (int i = 0; i < 3; ++i) {
    auto id = range.allocate();
    REQUIRE(id);
    CHECK(*id >= 200000);
    CHECK(*id < 200003);
    ids.insert(*id);
  }
  CHECK(ids.size() == 3);
  CHECK_FALSE(range.allocate()); // exhausted: the run fails to start instead of sharing
  range.release(200001);
  CHECK(range.in_use() == 2);
  CHECK(range.allocate() == std::optional<std::uint32_t>(200001));
  range.release(42);     // not ours: ignored
  range.release(200001); // twice: the second is ignored
  range.release(200001);
  CHECK(range.in_use() == 2);
}

TEST_CASE("a run result round-trips through JSON and mirrors into an exit status") {
  RunResult r;
  r.reason = "signaled";
  r.detail = "SIGSEGV";
  r.signal = 11;
  r.cpu_ms = 3;
  r.wall_ms = 4;
  r.peak_memory_bytes = 5;
  const auto j = to_json(r);
  CHECK(j["exit_code"].is_null());
  const RunResult back = run_result_from_json(j);
  CHECK(back.reason == "signaled");
  CHECK(back.signal == 11);
  CHECK(back.peak_memory_bytes == 5);
  CHECK(mirrored_exit_status(back) == 128 + 11);
  RunResult exited;
  exited.exit_code = 3;
  CHECK(mirrored_exit_status(exited) == 3);
  CHECK(mirrored_exit_status(RunResult{}) == 125);
}
