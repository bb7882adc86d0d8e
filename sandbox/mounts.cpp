#include "sandbox/mounts.hpp"

#include "sandbox/elf_libraries.hpp"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <set>

namespace nospace::sandbox {

namespace {

constexpr const char *kDevNodes[] = {"/dev/null", "/dev/zero", "/dev/urandom"};

std::vector<std::string> components(const std::string &path) {
  std::vector<std::string> out;
  std::size_t at = 0;
  while (at < path.size()) {
    const auto next = path.find('/', at);
    const auto part = path.substr(at, next == std::string::npos ? std::string::npos : next - at);
    if (part == "..") {
      if (!out.empty())
        out.pop_back();
    } else if (!part.empty() && part != ".") {
      out.push_back(part);
    }
    if (next == std::string::npos)
      break;
    at = next + 1;
  }
  return out;
}

std::string join(const std::vector<std::string> &parts, std::size_t from, std::size_t to) {
  std::string out;
  for (std::size_t i = from; i < to; ++i)
    out += "/" + parts[i];
  return out;
}

bool is_under(const std::string &path, const std::string &dir) {
  return path == dir || (path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0 &&
                         (dir == "/" || path[dir.size()] == '/'));
}

// The flags of the host mount holding `path` that a bind remount inside a user namespace must
// keep (the kernel locks them: an unprivileged remount may add restrictions, never drop one).
unsigned long locked_flags(const std::string &path) {
  struct statvfs st;
  if (::statvfs(path.c_str(), &st) != 0)
    return 0;
  unsigned long flags = 0;
  if (st.f_flag & ST_NOSUID)
    flags |= MS_NOSUID;
  if (st.f_flag & ST_NODEV)
    flags |= MS_NODEV;
  if (st.f_flag & ST_NOEXEC)
    flags |= MS_NOEXEC;
  if (st.f_flag & ST_NOATIME)
    flags |= MS_NOATIME;
  if (st.f_flag & ST_NODIRATIME)
    flags |= MS_NODIRATIME;
  if (st.f_flag & ST_RELATIME)
    flags |= MS_RELATIME;
  return flags;
}

class Planner {
public:
  explicit Planner(MountPlan &plan) : plan_(plan) {}

  // Makes `path` resolve inside as it does on the host, binding what it ends at read-only.
  void add(const std::string &path, int depth = 0) {
    if (depth > 40)
      throw MountPlanError("'" + path + "': too many levels of symbolic links");
    if (path.empty() || path[0] != '/')
      throw MountPlanError("'" + path + "': not an absolute path");
    const auto parts = components(path);
    if (parts.empty())
      throw MountPlanError("'/' cannot be bound into the sandbox");
    for (std::size_t i = 0; i < parts.size(); ++i) {
      const std::string here = join(parts, 0, i + 1);
      if (is_under(here, kStagingDir))
        throw MountPlanError("'" + path + "' is under " + kStagingDir +
                             ", where the sandbox's root is assembled; it cannot be bound");
      struct stat st;
      if (::lstat(here.c_str(), &st) != 0)
        throw MountPlanError("'" + path + "': " + here + " does not exist");
      const bool visible = under_bound_dir(here);
      if (S_ISLNK(st.st_mode)) {
        char target[PATH_MAX];
        const ssize_t n = ::readlink(here.c_str(), target, sizeof target - 1);
        if (n < 0)
          throw MountPlanError("'" + path + "': cannot read the link " + here);
        target[n] = '\0';
        if (!visible && created_.insert(here).second)
          plan_.before_pivot.push_back(
              {MountOp::Kind::Symlink, staged(here), target, "", 0, "", here});
        const std::string base = target[0] == '/' ? "" : join(parts, 0, i);
        add(base + "/" + target + join(parts, i + 1, parts.size()), depth + 1);
        return;
      }
      const bool last = i + 1 == parts.size();
      if (!last) {
        if (!S_ISDIR(st.st_mode))
          throw MountPlanError("'" + path + "': " + here + " is not a directory");
        if (!visible && created_.insert(here).second)
          plan_.before_pivot.push_back({MountOp::Kind::MakeDir, staged(here), "", "", 0, "", here});
        continue;
      }
      if (visible || !created_.insert(here).second)
        return;
      bind(here, S_ISDIR(st.st_mode));
    }
  }

  void bind(const std::string &host, bool directory, unsigned long extra = MS_NOSUID | MS_NODEV) {
    plan_.before_pivot.push_back({directory ? MountOp::Kind::MakeDir : MountOp::Kind::MakeFile,
                                  staged(host), "", "", 0, "", host});
    // Not MS_REC: a recursive bind would bring submounts along, and the read-only remount
    // below applies to the top mount only; submounts would stay writable.
    plan_.before_pivot.push_back({MountOp::Kind::Mount, staged(host), host, "", MS_BIND, "", host});
    plan_.before_pivot.push_back({MountOp::Kind::BindRemount, staged(host), "", "",
                                  MS_REMOUNT | MS_BIND | MS_RDONLY | extra | locked_flags(host), "",
                                  host});
    plan_.bound_paths.push_back(host);
    if (directory)
      bound_dirs_.push_back(host);
  }

  static std::string staged(const std::string &inside) { return kStagingDir + inside; }

private:
  bool under_bound_dir(const std::string &path) const {
    for (const auto &dir : bound_dirs_)
      if (is_under(path, dir))
        return true;
    return false;
  }

  MountPlan &plan_;
  std::set<std::string> created_;
  std::vector<std::string> bound_dirs_;
};

} // namespace

std::string MountOp::describe() const {
  switch (kind) {
  case Kind::MakeDir: return "mkdir " + inside_path;
  case Kind::MakeFile: return "create mount point " + inside_path;
  case Kind::Symlink: return "symlink " + inside_path + " -> " + source;
  case Kind::Mount: return (flags & MS_BIND ? "bind " : "mount " + fstype + " at ") + inside_path;
  case Kind::BindRemount: return "remount read-only " + inside_path;
  }
  return inside_path;
}

MountPlan prepare_mount_plan(const MountPlanInputs &in) {
  MountPlan plan;
  using K = MountOp::Kind;
  const std::string root = kStagingDir;
  // Nothing mounted in the child propagates back to the host (or to other runs).
  plan.before_pivot.push_back({K::Mount, "/", "", "", MS_REC | MS_PRIVATE, "", "/"});
  // The new root: a tmpfs holding only mount points; read-only after the pivot.
  plan.before_pivot.push_back({K::Mount, root, "tmpfs", "tmpfs", MS_NOSUID | MS_NODEV,
                               "size=64k,nr_inodes=4096,mode=0755", "/"});
  Planner planner(plan);
  // Policy paths first: a library under a bound directory is then visible already.
  if (in.filesystem)
    for (const auto &path : in.filesystem->read_only_paths)
      planner.add(path);
  for (const auto &binary : in.binaries) {
    planner.add(binary);
    const ElfDependencies deps = find_elf_dependencies(binary);
    if (!deps.interpreter.empty())
      planner.add(deps.interpreter);
    for (const auto &lib : deps.libraries)
      planner.add(lib);
    // With the loader's cache inside, libraries from ld.so.conf directories outside the
    // loader's built-in defaults are found; it names paths only, their files stay unbound.
    if (!deps.interpreter.empty() && ::access("/etc/ld.so.cache", R_OK) == 0)
      planner.add("/etc/ld.so.cache");
  }
  // /tmp: the only writable place, size-limited, sticky like a host /tmp.
  const std::uint64_t tmp_bytes = in.filesystem ? in.filesystem->tmp_size.bytes : 16ull << 20;
  plan.before_pivot.push_back({K::MakeDir, root + "/tmp", "", "", 0, "", "/tmp"});
  plan.before_pivot.push_back({K::Mount, root + "/tmp", "tmpfs", "tmpfs", MS_NOSUID | MS_NODEV,
                               "size=" + std::to_string(tmp_bytes) + ",nr_inodes=4096,mode=1777",
                               "/tmp"});
  // /dev: a tmpfs with binds of three host device nodes (binding needs no CAP_MKNOD, which a
  // user namespace never grants); read-only once filled. No nodev on these binds, of course.
  plan.before_pivot.push_back({K::MakeDir, root + "/dev", "", "", 0, "", "/dev"});
  plan.before_pivot.push_back({K::Mount, root + "/dev", "tmpfs", "tmpfs", MS_NOSUID | MS_NOEXEC,
                               "size=16k,nr_inodes=64,mode=0755", "/dev"});
  for (const char *node : kDevNodes)
    planner.bind(node, false, MS_NOSUID | MS_NOEXEC);
  for (const char *fd : {"fd", "stdin", "stdout", "stderr"}) {
    const std::string target = std::string(fd) == "fd"
                                   ? "/proc/self/fd"
                                   : std::string("/proc/self/fd/") + (fd[3] == 'i'   ? "0"
                                                                      : fd[3] == 'o' ? "1"
                                                                                     : "2");
    plan.before_pivot.push_back(
        {K::Symlink, root + "/dev/" + fd, target, "", 0, "", std::string("/dev/") + fd});
  }
  // /proc of the run's own pid namespace (mounting it needs CAP_SYS_ADMIN over that pid
  // namespace, which only a pid namespace of the run's own gives).
  if (in.mount_proc) {
    plan.before_pivot.push_back({K::MakeDir, root + "/proc", "", "", 0, "", "/proc"});
    plan.before_pivot.push_back(
        {K::Mount, root + "/proc", "proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, "", "/proc"});
    plan.proc = true;
  }
  plan.after_pivot.push_back({K::BindRemount, "/dev", "", "",
                              MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NOEXEC, "",
                              "/dev"});
  plan.after_pivot.push_back({K::BindRemount, "/", "", "",
                              MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV, "", "/"});
  return plan;
}

namespace {

int apply_op(const MountOp &op) noexcept {
  using K = MountOp::Kind;
  switch (op.kind) {
  case K::MakeDir: return ::mkdir(op.target.c_str(), 0755) == 0 || errno == EEXIST ? 0 : errno;
  case K::MakeFile: {
    const int fd = ::open(op.target.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0444);
    if (fd < 0)
      return errno;
    ::close(fd);
    return 0;
  }
  case K::Symlink: return ::symlink(op.source.c_str(), op.target.c_str()) == 0 ? 0 : errno;
  case K::Mount:
    return ::mount(op.source.empty() ? nullptr : op.source.c_str(), op.target.c_str(),
                   op.fstype.empty() ? nullptr : op.fstype.c_str(), op.flags,
                   op.data.empty() ? nullptr : op.data.c_str()) == 0
               ? 0
               : errno;
  case K::BindRemount:
    return ::mount(nullptr, op.target.c_str(), nullptr, op.flags, nullptr) == 0 ? 0 : errno;
  }
  return EINVAL;
}

} // namespace

int apply_mounts(const MountPlan &plan, const MountOp **failed) noexcept {
  *failed = nullptr;
  for (const auto &op : plan.before_pivot)
    if (int err = apply_op(op)) {
      *failed = &op;
      return err;
    }
  // pivot_root(".", ".") stacks the old root on top of the new one; unmounting "." then
  // detaches the old root (and every host mount below it) from this namespace for good.
  if (::chdir(kStagingDir) != 0 || ::syscall(SYS_pivot_root, ".", ".") != 0 ||
      ::umount2(".", MNT_DETACH) != 0 || ::chdir("/") != 0)
    return errno;
  for (const auto &op : plan.after_pivot)
    if (int err = apply_op(op)) {
      *failed = &op;
      return err;
    }
  return 0;
}

} // namespace nospace::sandbox
