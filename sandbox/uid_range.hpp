#pragma once
// Host uids/gids for concurrent runs. When the launcher is real root, every run gets an id of
// its own from sandbox.uid_range (the same number as uid and gid), so no run can signal,
// ptrace or count processes against another, and a leftover process is attributable.

#include "common/sandbox_policy.hpp"

#include <cstdint>
#include <optional>
#include <vector>

namespace nospace::sandbox {

class UidRange {
public:
  explicit UidRange(const UidRangePolicy &policy);

  // The lowest free id, or nullopt when every id of the range is in use.
  std::optional<std::uint32_t> allocate();
  // Gives an id back (allocated earlier; anything else is ignored).
  void release(std::uint32_t id);

  std::size_t in_use() const { return in_use_; }
  std::uint32_t first() const { return first_; }
  std::uint32_t count() const { return std::uint32_t(used_.size()); }

private:
  std::uint32_t first_;
  std::vector<bool> used_;
  std::size_t next_ = 0; // where the search for a free id starts
  std::size_t in_use_ = 0;
};

} // namespace nospace::sandbox
