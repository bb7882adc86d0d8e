#include "sandbox/rlimits.hpp"

#include <cerrno>

namespace nospace::sandbox {

namespace {

RlimitEntry same(int resource, std::uint64_t value, const char *name) {
  return {resource, {rlim_t(value), rlim_t(value)}, name};
}

} // namespace

RlimitTable prepare_rlimits(const RlimitPolicy &p) {
  return {{
      // The soft CPU limit sends SIGXCPU (which a program may catch, and which a pid
      // namespace's init ignores by default); the hard limit one second later is SIGKILL, which
      // nothing can stop. The supervisor also checks the CPU time of the whole run.
      {RLIMIT_CPU, {rlim_t(p.cpu_seconds), rlim_t(p.cpu_seconds + 1)}, "cpu"},
      same(RLIMIT_AS, p.address_space.bytes, "address_space"),
      same(RLIMIT_FSIZE, p.file_size.bytes, "file_size"),
      same(RLIMIT_NOFILE, p.open_files, "open_files"),
      // Counted per uid of the run's own user namespace (Linux 5.14+ ucounts): with a user
      // namespace per run, it limits this run only.
      same(RLIMIT_NPROC, p.processes, "processes"),
      same(RLIMIT_STACK, p.stack.bytes, "stack"),
      same(RLIMIT_CORE, 0, "core"),
  }};
}

int apply_rlimits(const RlimitTable &table, const RlimitEntry **failed) noexcept {
  for (const auto &entry : table) {
    if (setrlimit(entry.resource, &entry.limit) != 0) {
      *failed = &entry;
      return errno;
    }
  }
  return 0;
}

} // namespace nospace::sandbox
