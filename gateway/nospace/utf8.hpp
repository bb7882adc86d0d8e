#pragma once
// Incremental UTF-8 sanitising for program output. A program's bytes arrive in arbitrary
// pieces (pipe reads), may split a character across two reads, and may not be UTF-8 at all;
// Socket.IO text frames must be valid UTF-8. The decoder holds back an incomplete character
// until its remaining bytes arrive and replaces every invalid sequence with U+FFFD, following
// the "maximal subpart" practice of the Unicode standard (one U+FFFD per maximal invalid
// prefix), which is also what browsers' TextDecoder does.

#include <cstddef>
#include <string>
#include <string_view>

namespace nospace::gateway {

inline constexpr std::string_view kReplacementCharacter = "\xEF\xBF\xBD";

class Utf8Decoder {
public:
  // Appends the valid UTF-8 text decoded from `bytes` to `out`; an incomplete character at the
  // end is kept for the next call.
  void feed(std::string_view bytes, std::string &out);
  // The input ended: an incomplete character still held becomes U+FFFD.
  void finish(std::string &out);
  std::size_t held() const { return held_len_; }

private:
  // Decodes `in`; returns how many bytes at its end form a valid but incomplete character.
  std::size_t decode(std::string_view in, std::string &out);

  char held_[4] = {};
  std::size_t held_len_ = 0;
};

// The longest prefix of the valid UTF-8 `text` not longer than `max_bytes` that ends on a
// character boundary (at least one character when max_bytes >= 4).
std::size_t utf8_boundary(std::string_view text, std::size_t max_bytes);

} // namespace nospace::gateway
