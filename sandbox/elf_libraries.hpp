#pragma once
// What a dynamically linked binary needs inside the sandbox's minimal root: its program
// interpreter (PT_INTERP) and the shared libraries it links (DT_NEEDED, transitively), found
// the way the dynamic loader finds them.
//
// Why parse the ELF files instead of running `ld.so --list BINARY`: the launcher is root, and
// --list maps the binary and its libraries and runs the loader's code on them, as root, for
// whatever path a policy (or a `run` command line) names. Reading the headers runs nothing,
// is about 150 lines to audit, and fails with a message naming the file and the library. The
// search order follows ld.so(8): DT_RPATH (only without DT_RUNPATH), DT_RUNPATH, then the
// directories of /etc/ld.so.conf (and its includes), then the built-in defaults; a candidate
// of another ELF class or machine is skipped, as the loader does. LD_LIBRARY_PATH is ignored:
// the program gets a fixed environment. Inside, /etc/ld.so.cache is bound too, so the loader
// finds libraries that live in ld.so.conf directories outside its defaults.

#include <stdexcept>
#include <string>
#include <vector>

namespace nospace::sandbox {

class ElfError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

struct ElfDependencies {
  std::string interpreter;            // PT_INTERP; empty for a static binary
  std::vector<std::string> libraries; // absolute host paths, each once, in discovery order
};

// Throws ElfError naming the file when it is not an ELF file of this machine, or naming the
// library that cannot be found.
ElfDependencies find_elf_dependencies(const std::string &binary);

// The library search directories of ld.so.conf (includes expanded), then the defaults.
std::vector<std::string>
loader_search_directories(const std::string &ld_so_conf = "/etc/ld.so.conf");

} // namespace nospace::sandbox
