#include "sandbox/mounts.hpp"

#include "sandbox/elf_libraries.hpp"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <fstream>
#include <set>
#include <sstream>

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

  void bind(const std::string &host, bool directory,
            std::uint64_t attributes = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV) {
    if (plan_.binds.size() >= kMaxBinds)
      throw MountPlanError("more than " + std::to_string(kMaxBinds) +
                           " paths to bind; bind a directory instead (read_only_paths)");
    plan_.before_pivot.push_back({directory ? MountOp::Kind::MakeDir : MountOp::Kind::MakeFile,
                                  staged(host), "", "", 0, "", host});
    // Not recursive: submounts would come along, and the read-only attribute applies to the
    // top mount only. The clone is read-only before it is ever attached.
    MountOp op{MountOp::Kind::Bind, staged(host), host, "", 0, "", host};
    op.bind_index = int(plan_.binds.size());
    plan_.before_pivot.push_back(op);
    plan_.binds.push_back({host, attributes});
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

// The interpreter named by a "#!" first line, or "" when the file is not a script.
std::string script_interpreter(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  std::string line;
  if (!std::getline(in, line) || line.rfind("#!", 0) != 0)
    return "";
  std::istringstream words(line.substr(2));
  std::string interpreter;
  words >> interpreter;
  if (interpreter.empty() || interpreter[0] != '/')
    throw MountPlanError("'" + path + "': the #! line names no absolute interpreter");
  return interpreter;
}

} // namespace

std::string MountOp::describe() const {
  switch (kind) {
  case Kind::MakeDir: return "mkdir " + inside_path;
  case Kind::MakeFile: return "create mount point " + inside_path;
  case Kind::Symlink: return "symlink " + inside_path + " -> " + source;
  case Kind::Mount: return (flags & MS_BIND ? "bind " : "mount " + fstype + " at ") + inside_path;
  case Kind::Bind: return "bind " + inside_path;
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
  // /tmp: the only writable place, size-limited, sticky like a host /tmp. First, so that a
  // bound path under /tmp (a program kept there) lands on it rather than under it.
  const std::uint64_t tmp_bytes = in.filesystem ? in.filesystem->tmp_size.bytes : 16ull << 20;
  plan.before_pivot.push_back({K::MakeDir, root + "/tmp", "", "", 0, "", "/tmp"});
  plan.before_pivot.push_back({K::Mount, root + "/tmp", "tmpfs", "tmpfs", MS_NOSUID | MS_NODEV,
                               "size=" + std::to_string(tmp_bytes) + ",nr_inodes=4096,mode=1777",
                               "/tmp"});
  Planner planner(plan);
  // Policy paths first: a library under a bound directory is then visible already.
  if (in.filesystem)
    for (const auto &path : in.filesystem->read_only_paths)
      planner.add(path);
  std::vector<std::string> binaries = in.binaries;
  for (std::size_t i = 0; i < binaries.size(); ++i) {
    const std::string binary = binaries[i];
    planner.add(binary);
    // A script: its "#!" interpreter comes along (and that one's libraries); at most a few
    // levels, as the kernel allows.
    if (const std::string shebang = script_interpreter(binary); !shebang.empty()) {
      if (i > 4)
        throw MountPlanError("'" + binary + "': too many levels of script interpreters");
      binaries.push_back(shebang);
      continue;
    }
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
  // /dev: a directory of the root with binds of three host device nodes (binding needs no
  // CAP_MKNOD, which a user namespace never grants; each bind carries its own flags, so the
  // root's nodev does not apply and no nodev is set on them, of course). Read-only with the
  // root: no tmpfs of its own to mount and remount on every start.
  plan.before_pivot.push_back({K::MakeDir, root + "/dev", "", "", 0, "", "/dev"});
  for (const char *node : kDevNodes)
    planner.bind(node, false, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC);
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
  plan.after_pivot.push_back({K::BindRemount, "/", "", "",
                              MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV, "", "/"});
  return plan;
}

namespace {

int apply_op(const MountOp &op, const int *bind_fds) noexcept {
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
  case K::Bind:
    return ::move_mount(bind_fds[op.bind_index], "", AT_FDCWD, op.target.c_str(),
                        MOVE_MOUNT_F_EMPTY_PATH) == 0
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
  // Clone every bind source first, while the host's tree is still whole, and make each clone
  // read-only (plus nosuid/nodev or noexec) before it is attached anywhere.
  int bind_fds[kMaxBinds];
  const std::size_t nbinds = plan.binds.size() < kMaxBinds ? plan.binds.size() : kMaxBinds;
  int err = 0;
  std::size_t opened = 0;
  for (; opened < nbinds && err == 0; ++opened) {
    const auto &bind = plan.binds[opened];
    bind_fds[opened] =
        ::open_tree(AT_FDCWD, bind.source.c_str(), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
    mount_attr attr{};
    attr.attr_set = bind.attributes;
    if (bind_fds[opened] < 0 ||
        ::mount_setattr(bind_fds[opened], "", AT_EMPTY_PATH, &attr, sizeof attr) != 0) {
      err = errno;
      for (const auto &op : plan.before_pivot) // report it as that bind's failure
        if (op.kind == MountOp::Kind::Bind && op.bind_index == int(opened))
          *failed = &op;
    }
  }
  for (const auto &op : plan.before_pivot) {
    if (err != 0)
      break;
    if ((err = apply_op(op, bind_fds)) != 0)
      *failed = &op;
  }
  for (std::size_t i = 0; i < opened; ++i)
    if (bind_fds[i] >= 0)
      ::close(bind_fds[i]);
  if (err != 0)
    return err;
  // pivot_root(".", ".") stacks the old root on top of the new one; unmounting "." then
  // detaches the old root (and every host mount below it) from this namespace for good.
  if (::chdir(kStagingDir) != 0 || ::syscall(SYS_pivot_root, ".", ".") != 0 ||
      ::umount2(".", MNT_DETACH) != 0 || ::chdir("/") != 0)
    return errno;
  for (const auto &op : plan.after_pivot)
    if (int e = apply_op(op, nullptr)) {
      *failed = &op;
      return e;
    }
  return 0;
}

} // namespace nospace::sandbox
