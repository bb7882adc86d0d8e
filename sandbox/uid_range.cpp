#include "sandbox/uid_range.hpp"

namespace nospace::sandbox {

UidRange::UidRange(const UidRangePolicy &policy) : first_(policy.first), used_(policy.count) {}

std::optional<std::uint32_t> UidRange::allocate() {
  // Lowest free id first: ids stay small and reuse is predictable for operators; next_ only
  // skips the prefix known to be full.
  for (std::size_t i = next_; i < used_.size(); ++i) {
    if (!used_[i]) {
      used_[i] = true;
      next_ = i + 1;
      ++in_use_;
      return first_ + std::uint32_t(i);
    }
  }
  return std::nullopt;
}

void UidRange::release(std::uint32_t id) {
  if (id < first_ || id - first_ >= used_.size() || !used_[id - first_])
    return;
  used_[id - first_] = false;
  --in_use_;
  if (id - first_ < next_)
    next_ = id - first_;
}

} // namespace nospace::sandbox
