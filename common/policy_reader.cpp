#include "common/policy_reader.hpp"

#include <algorithm>
#include <charconv>
#include <limits>

namespace nospace {

namespace {

std::string quote(const std::string &s) {
  std::string out = "'";
  for (char c : s.substr(0, 80))
    out += (c == '\n') ? ' ' : c;
  if (s.size() > 80)
    out += "...";
  return out + "'";
}

template <class T> bool parse_integer(const std::string &text, T &out) {
  const char *begin = text.data();
  const char *end = begin + text.size();
  if (begin != end && *begin == '+')
    ++begin;
  auto [ptr, ec] = std::from_chars(begin, end, out);
  return ec == std::errc() && ptr == end && begin != end;
}

// Strings end up in JSON (--check-policy, logs, the launcher's results), which must be UTF-8.
bool valid_utf8(const std::string &s) {
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    const std::size_t len = c < 0x80           ? 1
                            : (c >> 5) == 0x6  ? 2
                            : (c >> 4) == 0xe  ? 3
                            : (c >> 3) == 0x1e ? 4
                                               : 0;
    if (len == 0 || i + len > s.size())
      return false;
    for (std::size_t k = 1; k < len; ++k)
      if ((static_cast<unsigned char>(s[i + k]) >> 6) != 0x2)
        return false;
    i += len;
  }
  return true;
}

template <class T> std::string range_text(T min, T max) {
  return "between " + std::to_string(min) + " and " + std::to_string(max);
}

} // namespace

bool parse_byte_size(const std::string &text, std::uint64_t &out) {
  if (text.empty())
    return false;
  std::uint64_t multiplier = 1;
  std::string digits = text;
  switch (text.back()) {
  case 'K': multiplier = 1ull << 10; break;
  case 'M': multiplier = 1ull << 20; break;
  case 'G': multiplier = 1ull << 30; break;
  default: break;
  }
  if (multiplier != 1)
    digits.pop_back();
  std::uint64_t value = 0;
  if (!parse_integer(digits, value))
    return false;
  if (value > std::numeric_limits<std::uint64_t>::max() / multiplier)
    return false;
  out = value * multiplier;
  return true;
}

MappingReader::MappingReader(std::string file, YAML::Node node, std::string path,
                             std::shared_ptr<std::vector<std::string>> errors)
    : file_(std::move(file)), node_(std::move(node)), path_(std::move(path)),
      errors_(std::move(errors)) {
  if (node_ && !node_.IsNull() && !node_.IsMap()) {
    fail_at(node_, path_.empty() ? "(top level)" : path_, "expected a mapping of keys");
    node_ = YAML::Node();
  }
}

std::string MappingReader::key_path(const char *key) const {
  return path_.empty() ? std::string(key) : path_ + "." + key;
}

void MappingReader::fail_at(const YAML::Node &at, const std::string &key,
                            const std::string &reason) const {
  const YAML::Mark mark = at.Mark();
  std::string where = file_;
  if (mark.line >= 0)
    where.append(":").append(
        std::to_string(mark.line + 1)); // not "+": GCC 12 -Wrestrict false positive
  errors_->push_back(where + ": " + key + ": " + reason);
}

void MappingReader::fail(const char *key, const std::string &reason) const {
  const YAML::Node at = (node_ && node_.IsMap() && node_[key]) ? node_[key] : node_;
  fail_at(at ? at : YAML::Node(), key_path(key), reason);
}

void MappingReader::throw_if_failed() const {
  if (errors_->empty())
    return;
  std::string all;
  for (const std::string &error : *errors_)
    all += (all.empty() ? "" : "\n") + error;
  throw PolicyError(all);
}

bool MappingReader::has(const char *key) const {
  return node_ && node_.IsMap() && node_[key] && !node_[key].IsNull();
}

YAML::Node MappingReader::lookup(const char *key) {
  seen_.insert(key);
  if (!node_ || !node_.IsMap())
    return YAML::Node(YAML::NodeType::Undefined);
  const YAML::Node value = node_[key];
  if (!value || value.IsNull())
    return YAML::Node(YAML::NodeType::Undefined);
  return value;
}

std::optional<std::string> MappingReader::scalar(const char *key, const YAML::Node &value,
                                                 const char *expected) const {
  if (!value.IsScalar()) {
    fail_at(value, key_path(key), std::string("expected ") + expected);
    return std::nullopt;
  }
  if (!valid_utf8(value.Scalar())) {
    fail_at(value, key_path(key), "is not valid UTF-8");
    return std::nullopt;
  }
  return value.Scalar();
}

void MappingReader::read(const char *key, bool &out) {
  const YAML::Node value = lookup(key);
  if (!value.IsDefined())
    return;
  const auto text = scalar(key, value, "true or false");
  if (!text)
    return;
  if (*text == "true")
    out = true;
  else if (*text == "false")
    out = false;
  else
    fail_at(value, key_path(key), "expected true or false, got " + quote(*text));
}

void MappingReader::read(const char *key, std::int64_t &out, std::int64_t min, std::int64_t max) {
  const YAML::Node value = lookup(key);
  if (!value.IsDefined())
    return;
  const auto text = scalar(key, value, "an integer");
  if (!text)
    return;
  std::int64_t parsed = 0;
  if (!parse_integer(*text, parsed))
    fail_at(value, key_path(key), "expected an integer, got " + quote(*text));
  else if (parsed < min || parsed > max)
    fail_at(value, key_path(key), "must be " + range_text(min, max) + ", got " + *text);
  else
    out = parsed;
}

void MappingReader::read(const char *key, std::uint64_t &out, std::uint64_t min,
                         std::uint64_t max) {
  const YAML::Node value = lookup(key);
  if (!value.IsDefined())
    return;
  const auto text = scalar(key, value, "a non-negative integer");
  if (!text)
    return;
  std::uint64_t parsed = 0;
  if (!parse_integer(*text, parsed))
    fail_at(value, key_path(key), "expected a non-negative integer, got " + quote(*text));
  else if (parsed < min || parsed > max)
    fail_at(value, key_path(key), "must be " + range_text(min, max) + ", got " + *text);
  else
    out = parsed;
}

void MappingReader::read(const char *key, std::uint32_t &out, std::uint32_t min,
                         std::uint32_t max) {
  std::uint64_t wide = out;
  read(key, wide, min, max);
  out = static_cast<std::uint32_t>(wide);
}

void MappingReader::read(const char *key, ByteSize &out, std::uint64_t min, std::uint64_t max) {
  const YAML::Node value = lookup(key);
  if (!value.IsDefined())
    return;
  const auto text = scalar(key, value, "a size such as 65536, 512K, 64M or 1G");
  if (!text)
    return;
  std::uint64_t parsed = 0;
  if (!parse_byte_size(*text, parsed))
    fail_at(value, key_path(key),
            "expected a size such as 65536, 512K, 64M or 1G, got " + quote(*text));
  else if (parsed < min || parsed > max)
    fail_at(value, key_path(key), "must be " + range_text(min, max) + " bytes, got " + *text);
  else
    out.bytes = parsed;
}

void MappingReader::read(const char *key, std::string &out) {
  const YAML::Node value = lookup(key);
  if (!value.IsDefined())
    return;
  if (const auto text = scalar(key, value, "a string"))
    out = *text;
}

void MappingReader::read(const char *key, std::vector<std::string> &out) {
  const YAML::Node value = lookup(key);
  if (!value.IsDefined())
    return;
  if (!value.IsSequence()) {
    fail_at(value, key_path(key), "expected a list of strings");
    return;
  }
  std::vector<std::string> items;
  for (const YAML::Node &item : value) {
    if (!item.IsScalar()) {
      fail_at(item, key_path(key), "expected a list of strings, found a nested structure");
      return;
    }
    if (!valid_utf8(item.Scalar())) {
      fail_at(item, key_path(key), "is not valid UTF-8");
      return;
    }
    items.push_back(item.Scalar());
  }
  out = std::move(items);
}

namespace {
std::string joined(const std::vector<std::string> &items) {
  std::string list;
  for (const auto &item : items)
    list += (list.empty() ? "" : ", ") + item;
  return list;
}
} // namespace

void MappingReader::read_choice(const char *key, std::string &out,
                                const std::vector<std::string> &allowed) {
  std::string value = out;
  read(key, value);
  if (std::find(allowed.begin(), allowed.end(), value) == allowed.end())
    fail(key, "must be one of " + joined(allowed) + ", got " + quote(value));
  else
    out = value;
}

void MappingReader::read_choices(const char *key, std::vector<std::string> &out,
                                 const std::vector<std::string> &allowed) {
  std::vector<std::string> values = out;
  read(key, values);
  std::set<std::string> unique;
  for (const auto &v : values) {
    if (std::find(allowed.begin(), allowed.end(), v) == allowed.end())
      return fail(key, "unknown value " + quote(v) + " (allowed: " + joined(allowed) + ")");
    if (!unique.insert(v).second)
      return fail(key, "value " + quote(v) + " is listed twice");
  }
  out = std::move(values);
}

MappingReader MappingReader::child(const char *key) {
  const YAML::Node value = lookup(key);
  return MappingReader(file_, value.IsDefined() ? value : YAML::Node(), key_path(key), errors_);
}

void MappingReader::finish() const {
  if (!node_ || !node_.IsMap())
    return;
  for (const auto &entry : node_) {
    const std::string key = entry.first.Scalar();
    if (!seen_.count(key))
      fail_at(entry.first, key_path(key.c_str()), "unknown key");
  }
}

} // namespace nospace
