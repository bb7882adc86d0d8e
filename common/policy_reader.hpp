#pragma once
// Typed reading of one YAML mapping of a policy file. Every error names the file, the line
// and the full key, and every key a mapping holds must be read, so a typo is an error rather
// than a setting silently ignored. Errors are collected, not thrown one at a time, so an
// operator fixing a policy sees all its problems at once; the loader throws them together.

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace nospace {

// A policy that cannot be used. what() is one "FILE:LINE: KEY: reason" line per problem.
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
  // An absent or null node reads as an empty mapping: every key keeps its default. Errors
  // go to `errors`, shared with every child reader; a key with an error keeps its default.
  MappingReader(std::string file, YAML::Node node, std::string path,
                std::shared_ptr<std::vector<std::string>> errors);

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

  // Records every key of this mapping that no read()/child() asked for.
  void finish() const;

  // Records a problem with `key` (for checks made after reading it).
  void fail(const char *key, const std::string &reason) const;
  // Throws one PolicyError holding every recorded problem, if there is any.
  void throw_if_failed() const;

  const std::string &file() const { return file_; }
  std::string key_path(const char *key) const;

private:
  YAML::Node lookup(const char *key);
  // Empty (and the error recorded) when `value` is not a scalar.
  std::optional<std::string> scalar(const char *key, const YAML::Node &value,
                                    const char *expected) const;
  void fail_at(const YAML::Node &at, const std::string &key, const std::string &reason) const;

  std::string file_;
  YAML::Node node_;
  std::string path_;
  std::set<std::string> seen_;
  std::shared_ptr<std::vector<std::string>> errors_;
};

// Parses "64M"-style sizes; returns false when `text` is not one.
bool parse_byte_size(const std::string &text, std::uint64_t &out);

} // namespace nospace
