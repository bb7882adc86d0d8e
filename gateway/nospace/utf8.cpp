#include "gateway/nospace/utf8.hpp"

namespace nospace::gateway {

namespace {

// The length of a sequence starting with `lead`, or 0 when `lead` cannot start one.
std::size_t sequence_length(unsigned char lead) {
  if (lead < 0x80)
    return 1;
  if (lead >= 0xC2 && lead <= 0xDF)
    return 2;
  if (lead >= 0xE0 && lead <= 0xEF)
    return 3;
  if (lead >= 0xF0 && lead <= 0xF4)
    return 4;
  return 0; // continuation bytes, overlong leads C0/C1, F5..FF
}

// Whether `byte` may follow `lead` as the second byte: the narrowed ranges exclude overlong
// forms (E0, F0), UTF-16 surrogates (ED) and code points above U+10FFFF (F4).
bool valid_second(unsigned char lead, unsigned char byte) {
  switch (lead) {
  case 0xE0: return byte >= 0xA0 && byte <= 0xBF;
  case 0xED: return byte >= 0x80 && byte <= 0x9F;
  case 0xF0: return byte >= 0x90 && byte <= 0xBF;
  case 0xF4: return byte >= 0x80 && byte <= 0x8F;
  default: return byte >= 0x80 && byte <= 0xBF;
  }
}

bool is_continuation(unsigned char byte) { return (byte & 0xC0) == 0x80; }

} // namespace

std::size_t Utf8Decoder::decode(std::string_view in, std::string &out) {
  std::size_t i = 0;
  const std::size_t n = in.size();
  while (i < n) {
    const auto lead = static_cast<unsigned char>(in[i]);
    if (lead < 0x80) {
      // Fast path for ASCII runs, the common case of program output.
      std::size_t j = i + 1;
      while (j < n && static_cast<unsigned char>(in[j]) < 0x80)
        ++j;
      out.append(in.substr(i, j - i));
      i = j;
      continue;
    }
    const std::size_t len = sequence_length(lead);
    if (len == 0) {
      out.append(kReplacementCharacter);
      ++i;
      continue;
    }
    std::size_t k = 1; // bytes of the sequence seen valid so far
    while (k < len && i + k < n) {
      const auto b = static_cast<unsigned char>(in[i + k]);
      if (k == 1 ? !valid_second(lead, b) : !is_continuation(b))
        break;
      ++k;
    }
    if (k == len) {
      out.append(in.substr(i, len));
      i += len;
    } else if (i + k == n) {
      return k; // a valid but incomplete prefix at the end: wait for the rest
    } else {
      out.append(kReplacementCharacter); // the maximal invalid subpart
      i += k;
    }
  }
  return 0;
}

void Utf8Decoder::feed(std::string_view bytes, std::string &out) {
  std::string joined;
  if (held_len_ > 0) {
    // A character was split across reads: decode it together with what follows. This copy
    // happens only on such a split.
    joined.reserve(held_len_ + bytes.size());
    joined.append(held_, held_len_);
    joined.append(bytes);
    bytes = joined;
  }
  const std::size_t incomplete = decode(bytes, out);
  held_len_ = incomplete;
  bytes.substr(bytes.size() - incomplete).copy(held_, incomplete);
}

void Utf8Decoder::finish(std::string &out) {
  if (held_len_ > 0)
    out.append(kReplacementCharacter);
  held_len_ = 0;
}

std::size_t utf8_boundary(std::string_view text, std::size_t max_bytes) {
  if (text.size() <= max_bytes)
    return text.size();
  std::size_t end = max_bytes;
  while (end > 0 && is_continuation(static_cast<unsigned char>(text[end])))
    --end;
  return end;
}

} // namespace nospace::gateway
