#include "sandbox/elf_libraries.hpp"

#include <elf.h>
#include <glob.h>
#include <link.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

namespace nospace::sandbox {

namespace {

struct ElfFile {
  std::string path;
  std::string interpreter;
  std::vector<std::string> needed;
  std::vector<std::string> rpath, runpath;
};

std::string read_file(const std::string &path, bool &ok) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  ok = bool(in);
  return out.str();
}

std::vector<std::string> split_path_list(const std::string &list, const std::string &origin) {
  std::vector<std::string> out;
  std::stringstream ss(list);
  for (std::string dir; std::getline(ss, dir, ':');) {
    for (const char *token : {"$ORIGIN", "${ORIGIN}"})
      for (auto at = dir.find(token); at != std::string::npos; at = dir.find(token))
        dir.replace(at, std::strlen(token), origin);
    if (!dir.empty())
      out.push_back(dir);
  }
  return out;
}

// Reads the headers of a 64-bit ELF file of this machine. Returns false (and sets why) when
// it is not one: the caller decides whether that is an error (the binary) or a candidate to
// skip (a library of another architecture in a search directory).
bool parse_elf(const std::string &path, ElfFile &out, std::string &why) {
  bool ok = false;
  const std::string data = read_file(path, ok);
  if (!ok) {
    why = "cannot be read";
    return false;
  }
  if (data.size() < sizeof(Elf64_Ehdr) || std::memcmp(data.data(), ELFMAG, SELFMAG) != 0) {
    why = "is not an ELF file";
    return false;
  }
  Elf64_Ehdr eh;
  std::memcpy(&eh, data.data(), sizeof eh);
  if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_ident[EI_DATA] != ELFDATA2LSB ||
      eh.e_machine != EM_X86_64) {
    why = "is not an x86-64 ELF file";
    return false;
  }
  if (eh.e_phentsize != sizeof(Elf64_Phdr) ||
      eh.e_phoff + std::uint64_t(eh.e_phnum) * sizeof(Elf64_Phdr) > data.size()) {
    why = "has a malformed program header table";
    return false;
  }
  std::vector<Elf64_Phdr> phdrs(eh.e_phnum);
  std::memcpy(phdrs.data(), data.data() + eh.e_phoff, eh.e_phnum * sizeof(Elf64_Phdr));
  auto in_file = [&](std::uint64_t off, std::uint64_t len) {
    return off <= data.size() && len <= data.size() - off;
  };
  // Dynamic-section addresses are virtual: map them back to file offsets via PT_LOAD.
  auto vaddr_to_offset = [&](std::uint64_t vaddr, std::uint64_t &off) {
    for (const auto &ph : phdrs)
      if (ph.p_type == PT_LOAD && vaddr >= ph.p_vaddr && vaddr - ph.p_vaddr < ph.p_filesz) {
        off = ph.p_offset + (vaddr - ph.p_vaddr);
        return true;
      }
    return false;
  };
  out.path = path;
  const Elf64_Phdr *dynamic = nullptr;
  for (const auto &ph : phdrs) {
    if (ph.p_type == PT_INTERP && in_file(ph.p_offset, ph.p_filesz))
      out.interpreter = std::string(data.c_str() + ph.p_offset); // NUL-terminated in the file
    if (ph.p_type == PT_DYNAMIC && in_file(ph.p_offset, ph.p_filesz))
      dynamic = &ph;
  }
  if (dynamic == nullptr)
    return true; // static
  std::vector<std::uint64_t> needed, rpath, runpath;
  std::uint64_t strtab = 0, strsz = 0;
  for (std::uint64_t off = dynamic->p_offset;
       off + sizeof(Elf64_Dyn) <= dynamic->p_offset + dynamic->p_filesz; off += sizeof(Elf64_Dyn)) {
    Elf64_Dyn dyn;
    std::memcpy(&dyn, data.data() + off, sizeof dyn);
    if (dyn.d_tag == DT_NULL)
      break;
    switch (dyn.d_tag) {
    case DT_NEEDED: needed.push_back(dyn.d_un.d_val); break;
    case DT_RPATH: rpath.push_back(dyn.d_un.d_val); break;
    case DT_RUNPATH: runpath.push_back(dyn.d_un.d_val); break;
    case DT_STRTAB: strtab = dyn.d_un.d_ptr; break;
    case DT_STRSZ: strsz = dyn.d_un.d_val; break;
    default: break;
    }
  }
  std::uint64_t stroff = 0;
  if (!vaddr_to_offset(strtab, stroff) || !in_file(stroff, strsz)) {
    why = "has a dynamic section without a readable string table";
    return false;
  }
  auto str = [&](std::uint64_t at) {
    return at < strsz ? std::string(data.c_str() + stroff + at,
                                    strnlen(data.c_str() + stroff + at, strsz - at))
                      : std::string();
  };
  const std::string origin = path.substr(0, path.rfind('/'));
  for (auto at : needed)
    out.needed.push_back(str(at));
  for (auto at : rpath)
    for (auto &dir : split_path_list(str(at), origin))
      out.rpath.push_back(dir);
  for (auto at : runpath)
    for (auto &dir : split_path_list(str(at), origin))
      out.runpath.push_back(dir);
  return true;
}

void read_ld_so_conf(const std::string &path, std::vector<std::string> &dirs, int depth) {
  if (depth > 8)
    return;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    line = line.substr(0, line.find('#'));
    std::istringstream words(line);
    std::string word;
    if (!(words >> word))
      continue;
    if (word == "include") {
      for (std::string pattern; words >> pattern;) {
        if (pattern[0] != '/')
          pattern = path.substr(0, path.rfind('/') + 1) + pattern;
        glob_t g{};
        if (glob(pattern.c_str(), 0, nullptr, &g) == 0)
          for (size_t i = 0; i < g.gl_pathc; ++i)
            read_ld_so_conf(g.gl_pathv[i], dirs, depth + 1);
        globfree(&g);
      }
    } else if (word[0] == '/') {
      dirs.push_back(word);
    }
  }
}

} // namespace

std::vector<std::string> loader_search_directories(const std::string &ld_so_conf) {
  std::vector<std::string> dirs;
  read_ld_so_conf(ld_so_conf, dirs, 0);
  // glibc's built-in trusted directories on Debian (multiarch first).
  for (const char *dir : {"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64",
                          "/usr/lib64", "/lib", "/usr/lib"})
    dirs.push_back(dir);
  return dirs;
}

ElfDependencies find_elf_dependencies(const std::string &binary) {
  ElfDependencies deps;
  ElfFile top;
  std::string why;
  if (!parse_elf(binary, top, why))
    throw ElfError("'" + binary + "' " + why);
  deps.interpreter = top.interpreter;
  if (top.interpreter.empty() && !top.needed.empty())
    throw ElfError("'" + binary + "' links shared libraries but names no program interpreter");
  const std::vector<std::string> system_dirs = loader_search_directories();
  std::set<std::string> seen_names;
  std::vector<ElfFile> queue{top};
  for (std::size_t i = 0; i < queue.size(); ++i) {
    const ElfFile current = queue[i];
    for (const auto &name : current.needed) {
      if (!seen_names.insert(name).second)
        continue;
      std::vector<std::string> dirs;
      if (name.find('/') != std::string::npos) {
        dirs.push_back(""); // a path, used as it is
      } else {
        if (current.runpath.empty())
          dirs = current.rpath;
        dirs.insert(dirs.end(), current.runpath.begin(), current.runpath.end());
        dirs.insert(dirs.end(), system_dirs.begin(), system_dirs.end());
      }
      bool found = false;
      for (const auto &dir : dirs) {
        const std::string candidate = dir.empty() ? name : dir + "/" + name;
        ElfFile lib;
        std::string skip_reason;
        if (::access(candidate.c_str(), R_OK) != 0 || !parse_elf(candidate, lib, skip_reason))
          continue;
        deps.libraries.push_back(candidate);
        queue.push_back(lib);
        found = true;
        break;
      }
      if (!found)
        throw ElfError("'" + current.path + "' needs '" + name +
                       "', which is in none of the loader's search directories");
    }
  }
  return deps;
}

} // namespace nospace::sandbox
