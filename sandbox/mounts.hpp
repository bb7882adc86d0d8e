#pragma once
// The run's minimal root filesystem, as a plan of mount operations computed in the parent
// (where it may allocate, resolve symlinks and fail with a message) and applied in the child
// (syscalls only).
//
// The new root is a small tmpfs mounted on the staging directory (kStagingDir, inside the
// child's private mount namespace, so the host never sees it). On it: read-only bind mounts
// of the interpreter, its program interpreter and libraries, /etc/ld.so.cache and
// sandbox.filesystem.read_only_paths, each at its host path, with every symlink on the way
// recreated so the same path resolves inside; a size-limited writable tmpfs at /tmp; /proc of
// the run's pid namespace; /dev as a read-only tmpfs holding binds of the host's null, zero
// and urandom. Then pivot_root, the old root detached, and the root remounted read-only.

#include "common/sandbox_policy.hpp"

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace nospace::sandbox {

// Where the new root is assembled (inside the child's own mount namespace). Every bind
// source is cloned with open_tree() before the staging tmpfs goes on top, so host paths under
// it (programs in /tmp) stay bindable.
constexpr const char *kStagingDir = "/tmp";

// More binds than this is a policy error (the child keeps their fds in a fixed array).
constexpr std::size_t kMaxBinds = 64;

class MountPlanError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

struct MountOp {
  enum class Kind {
    MakeDir,    // mkdir target (on the new root's tmpfs)
    MakeFile,   // create an empty file as a bind mount point
    Symlink,    // symlink(source, target)
    Mount,      // mount(source, target, fstype, flags, data)
    Bind,       // attach the read-only clone of `source` (binds[bind_index]) at target
    BindRemount // remount a mount with flags
  };
  Kind kind;
  std::string target; // absolute, under kStagingDir before pivot_root ("" never)
  std::string source;
  std::string fstype;
  unsigned long flags = 0;
  std::string data;
  std::string inside_path; // what a report calls it: the path the program sees
  int bind_index = -1;     // Bind: which entry of MountPlan::binds

  std::string describe() const; // "bind /usr/lib/x/libc.so.6", for start-failed reports
};

struct MountPlan {
  std::vector<MountOp> before_pivot; // applied in order, then pivot_root
  std::vector<MountOp> after_pivot;  // applied in order after the old root is detached
  struct BindSource {
    std::string source;       // host path, cloned with open_tree(OPEN_TREE_CLONE)
    std::uint64_t attributes; // MOUNT_ATTR_* set on the clone before it is attached
  };
  std::vector<BindSource> binds;
  std::vector<std::string> bound_paths; // host paths bound read-only, for tests and `check`
  bool proc = false;
};

struct MountPlanInputs {
  std::vector<std::string> binaries; // the interpreter (with its ELF dependencies) first
  const FilesystemPolicy *filesystem = nullptr;
  bool mount_proc = true; // needs a pid namespace of the run's own
};

// Throws MountPlanError naming the path (or ElfError from the library discovery).
MountPlan prepare_mount_plan(const MountPlanInputs &inputs);

// In the child, in its own mount namespace with CAP_SYS_ADMIN there. Applies before_pivot,
// pivots into kStagingDir, detaches the old root, applies after_pivot. Returns 0 or errno;
// *failed is the operation that failed (nullptr for the pivot itself).
int apply_mounts(const MountPlan &plan, const MountOp **failed) noexcept;

} // namespace nospace::sandbox
