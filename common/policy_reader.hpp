#pragma once
// Typed reading of one YAML mapping of a policy file. Every error names the file, the line
// and the full key, and every key a mapping holds must be read, so a typo is an error rather
// than a setting silently ignored.

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <functional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace nospace {

// A policy that cannot be used. what() is "FILE:LINE: KEY: reason".
class PolicyError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

// A byte count written as a plain integer or with a binary suffix: 512K, 64M, 1G.
struct ByteSize {
  std::uint64_t bytes = 0;
  friend bool operator==(ByteSize a, ByteSize b) { return a.bytes == b.bytes; }
};

class MappingReader {
public:
  // An absent or null node reads as an empty mapping: every key keeps its default.
  MappingReader(std::string file, YAML::Node node, std::string path);

  void read(const char *key, bool &out);
  void read(const char *key, std::int64_t &out, std::int64_t min, std::int64_t max);
  void read(const char *key, std::uint32_t &out, std::uint32_t min, std::uint32_t max);
  void read(const char *key, std::uint64_t &out, std::uint64_t min, std::uint64_t max);
  void read(const char *key, ByteSize &out, std::uint64_t min, std::uint64_t max);
  void read(const char *key, std::string &out);
  void read(const char *key, std::vector<std::string> &out);
  // A string that must be one of `allowed`.
  void read_choice(const char *key, std::string &out, const std::vector<std::string> &allowed);
  // A list of strings, each one of `allowed`, no repeats.
  void read_choices(const char *key, std::vector<std::string> &out,
                    const std::vector<std::string> &allowed);

  MappingReader child(const char *key);
  bool has(const char *key) const;

  // Fails on the first key of this mapping that no read()/child() asked for.
  void finish() const;

  [[noreturn]] void fail(const char *key, const std::string &reason) const;

  const std::string &file() const { return file_; }
  std::string key_path(const char *key) const;

private:
  YAML::Node lookup(const char *key);
  std::string scalar(const char *key, const YAML::Node &value, const char *expected) const;
  [[noreturn]] void fail_at(const YAML::Node &at, const std::string &key,
                            const std::string &reason) const;

  std::string file_;
  YAML::Node node_;
  std::string path_;
  std::set<std::string> seen_;
};

// Parses "64M"-style sizes; returns false when `text` is not one.
bool parse_byte_size(const std::string &text, std::uint64_t &out);

} // namespace nospace
