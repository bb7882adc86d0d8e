#pragma once
// The rlimits of a run: a fixed table computed in the parent from sandbox.rlimits, applied in
// the child without allocation. Core dumps are always off (a dump would write the program's
// memory to a host path chosen by the host's core_pattern).

#include "common/sandbox_policy.hpp"

#include <sys/resource.h>

#include <array>

namespace nospace::sandbox {

struct RlimitEntry {
  int resource;
  rlimit limit;
  const char *name; // for reports and `check`
};

using RlimitTable = std::array<RlimitEntry, 7>;

RlimitTable prepare_rlimits(const RlimitPolicy &policy);

// In the child. Returns 0 or errno; *failed is the entry that could not be set.
int apply_rlimits(const RlimitTable &table, const RlimitEntry **failed) noexcept;

} // namespace nospace::sandbox
