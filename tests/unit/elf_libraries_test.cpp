// Library discovery from the binary itself: PT_INTERP and DT_NEEDED of the dynamically linked
// fake interpreter, nothing for a static program, clear errors for what is not ELF.
#include "sandbox/elf_libraries.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <fstream>
#include <unistd.h>

using namespace nospace::sandbox;

namespace {

const std::string kFake = NOSPACE_BUILD_ROOT "/tests/fixtures/fake-nospace20";
const std::string kProbe = NOSPACE_BUILD_ROOT "/tests/fixtures/sandbox-probe";

bool has_library_named(const ElfDependencies &deps, const std::string &name) {
  return std::any_of(deps.libraries.begin(), deps.libraries.end(), [&](const std::string &p) {
    return p.size() > name.size() && p.compare(p.size() - name.size(), name.size(), name) == 0 &&
           p[p.size() - name.size() - 1] == '/';
  });
}

} // namespace

TEST_CASE("the fake interpreter's loader and libc are found from its ELF headers") {
  const ElfDependencies deps = find_elf_dependencies(kFake);
  CHECK(deps.interpreter == "/lib64/ld-linux-x86-64.so.2");
  CHECK(has_library_named(deps, "libc.so.6"));
  for (const auto &lib : deps.libraries) {
    INFO(lib);
    CHECK(lib[0] == '/');
    CHECK(::access(lib.c_str(), R_OK) == 0);
  }
  // Each library once, even when several objects need it (libc needs ld-linux too).
  auto sorted = deps.libraries;
  std::sort(sorted.begin(), sorted.end());
  CHECK(std::adjacent_find(sorted.begin(), sorted.end()) == sorted.end());
}

TEST_CASE("a static program needs nothing") {
  const ElfDependencies deps = find_elf_dependencies(kProbe);
  CHECK(deps.interpreter.empty());
  CHECK(deps.libraries.empty());
}

TEST_CASE("a library's own dependencies are followed") {
  // libstdc++ needs libm, libc and libgcc_s: a C++ program's closure holds all of them.
  const ElfDependencies deps = find_elf_dependencies(NOSPACE_BUILD_ROOT "/sandbox/nospace-sandbox");
  CHECK(has_library_named(deps, "libstdc++.so.6"));
  CHECK(has_library_named(deps, "libm.so.6"));
  CHECK(has_library_named(deps, "libgcc_s.so.1"));
}

TEST_CASE("what is not an ELF binary of this machine is refused, naming the file") {
  const std::string script = "/tmp/elf_libraries_test_" + std::to_string(::getpid());
  std::ofstream(script) << "#!/bin/sh\necho hi\n";
  CHECK_THROWS_WITH(find_elf_dependencies(script), "'" + script + "' is not an ELF file");
  ::unlink(script.c_str());
  CHECK_THROWS_WITH(find_elf_dependencies("/nonexistent/interp"),
                    "'/nonexistent/interp' cannot be read");
}

TEST_CASE("the loader's search directories come from ld.so.conf, then the defaults") {
  const std::string conf = "/tmp/elf_libraries_test_conf_" + std::to_string(::getpid());
  std::ofstream(conf) << "# comment\n/opt/a/lib\n\n/opt/b/lib # trailing\n";
  const auto dirs = loader_search_directories(conf);
  ::unlink(conf.c_str());
  REQUIRE(dirs.size() >= 3);
  CHECK(dirs[0] == "/opt/a/lib");
  CHECK(dirs[1] == "/opt/b/lib");
  CHECK(std::find(dirs.begin(), dirs.end(), "/usr/lib/x86_64-linux-gnu") != dirs.end());
}
