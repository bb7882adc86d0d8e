// The mount plan computed from a policy: what gets bound (and only that), symlinks recreated
// on the way, /tmp sized by the policy, /proc only with a pid namespace, errors naming paths.
#include "sandbox/elf_libraries.hpp"
#include "sandbox/mounts.hpp"

#include <catch2/catch.hpp>

#include <sys/mount.h>

#include <algorithm>
#include <fstream>
#include <unistd.h>

using namespace nospace;
using namespace nospace::sandbox;

namespace {

const std::string kFake = NOSPACE_BUILD_ROOT "/tests/fixtures/fake-nospace20";

const MountOp *find_op(const MountPlan &plan, MountOp::Kind kind, const std::string &inside) {
  for (const auto &op : plan.before_pivot)
    if (op.kind == kind && op.inside_path == inside)
      return &op;
  return nullptr;
}

bool bound(const MountPlan &plan, const std::string &path) {
  return std::find(plan.bound_paths.begin(), plan.bound_paths.end(), path) !=
         plan.bound_paths.end();
}

} // namespace

TEST_CASE("the interpreter, its loader and its libraries are bound read-only, nothing else") {
  FilesystemPolicy fs;
  const MountPlan plan = prepare_mount_plan({{kFake}, &fs, true});
  CHECK(bound(plan, kFake));
  // /lib64 is a symlink on Debian: recreated inside, the loader bound at its real path.
  const MountOp *lib64 = find_op(plan, MountOp::Kind::Symlink, "/lib64");
  REQUIRE(lib64 != nullptr);
  CHECK(lib64->source == "usr/lib64");
  CHECK(bound(plan, "/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"));
  CHECK(bound(plan, "/usr/lib/x86_64-linux-gnu/libc.so.6"));
  CHECK(bound(plan, "/etc/ld.so.cache"));
  for (const auto &bind : plan.binds) {
    INFO(bind.source);
    CHECK((bind.attributes & MOUNT_ATTR_RDONLY) != 0);
    CHECK((bind.attributes & MOUNT_ATTR_NOSUID) != 0);
  }
  // Only what the interpreter needs plus the three device nodes: no directory of the host.
  // fake-nospace20, ld-linux (named twice, as PT_INTERP and by libc: bound once), libc,
  // ld.so.cache, null, zero, urandom.
  CHECK(plan.binds.size() == 7);
  CHECK(bound(plan, "/dev/null"));
  CHECK(bound(plan, "/dev/zero"));
  CHECK(bound(plan, "/dev/urandom"));
  CHECK_FALSE(bound(plan, "/dev/tty"));
}

TEST_CASE("/tmp is a tmpfs of the policy's size; the root, /dev with it, becomes read-only") {
  FilesystemPolicy fs;
  fs.tmp_size.bytes = 3u << 20;
  const MountPlan plan = prepare_mount_plan({{kFake}, &fs, true});
  const MountOp *tmp = find_op(plan, MountOp::Kind::Mount, "/tmp");
  REQUIRE(tmp != nullptr);
  CHECK(tmp->fstype == "tmpfs");
  CHECK(tmp->data.find("size=3145728,") == 0);
  CHECK((tmp->flags & MS_NOSUID) != 0);
  // /dev is a directory of the root, not a mount of its own: the root's remount covers it.
  CHECK(find_op(plan, MountOp::Kind::MakeDir, "/dev") != nullptr);
  CHECK(find_op(plan, MountOp::Kind::Mount, "/dev") == nullptr);
  REQUIRE(plan.after_pivot.size() == 1);
  CHECK(plan.after_pivot.back().target == "/");
  CHECK((plan.after_pivot.back().flags & MS_RDONLY) != 0);
}

TEST_CASE("/proc is mounted only with a pid namespace of the run's own") {
  FilesystemPolicy fs;
  CHECK(prepare_mount_plan({{kFake}, &fs, true}).proc);
  CHECK(find_op(prepare_mount_plan({{kFake}, &fs, true}), MountOp::Kind::Mount, "/proc"));
  CHECK_FALSE(prepare_mount_plan({{kFake}, &fs, false}).proc);
  CHECK_FALSE(find_op(prepare_mount_plan({{kFake}, &fs, false}), MountOp::Kind::Mount, "/proc"));
}

TEST_CASE("read_only_paths are bound, and what lies under a bound directory is not bound again") {
  FilesystemPolicy fs;
  fs.read_only_paths = {"/usr/lib"};
  const MountPlan plan = prepare_mount_plan({{kFake}, &fs, true});
  CHECK(bound(plan, "/usr/lib"));
  CHECK_FALSE(bound(plan, "/usr/lib/x86_64-linux-gnu/libc.so.6"));
}

TEST_CASE("a path that does not exist is an error naming it") {
  FilesystemPolicy fs;
  fs.read_only_paths = {"/nonexistent-dir/x"};
  CHECK_THROWS_WITH(prepare_mount_plan({{kFake}, &fs, true}),
                    "'/nonexistent-dir/x': /nonexistent-dir does not exist");
  CHECK_THROWS_AS(prepare_mount_plan({{"/etc/hostname"}, nullptr, true}), ElfError);
}

TEST_CASE("a script brings its #! interpreter and that one's libraries") {
  const std::string script = "/tmp/mounts_test_script_" + std::to_string(::getpid());
  std::ofstream(script) << "#!/bin/sh -e\necho hi\n";
  FilesystemPolicy fs;
  const MountPlan plan = prepare_mount_plan({{script}, &fs, true});
  CHECK(bound(plan, script));
  // /bin is a symlink to usr/bin on Debian; /bin/sh a symlink to dash.
  CHECK(bound(plan, "/usr/bin/dash"));
  CHECK(bound(plan, "/usr/lib/x86_64-linux-gnu/libc.so.6"));
  std::ofstream(script) << "#!sh\n";
  CHECK_THROWS_WITH(prepare_mount_plan({{script}, &fs, true}),
                    "'" + script + "': the #! line names no absolute interpreter");
  ::unlink(script.c_str());
}
