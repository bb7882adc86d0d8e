#include "gateway/engineio/packet.hpp"

#include <array>
#include <cstdint>

namespace nospace::engineio {
namespace {

constexpr char b64_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

constexpr std::array<std::int8_t, 256> make_b64_table() {
  std::array<std::int8_t, 256> table{};
  for (auto &v : table)
    v = -1;
  for (int i = 0; i < 64; ++i)
    table[static_cast<unsigned char>(b64_alphabet[i])] = std::int8_t(i);
  return table;
}
constexpr auto b64_table = make_b64_table();

} // namespace

std::size_t base64_size(std::size_t n) { return (n + 2) / 3 * 4; }

void append_base64(std::string &out, std::string_view in) {
  const auto *p = reinterpret_cast<const unsigned char *>(in.data());
  std::size_t n = in.size(), i = 0;
  out.reserve(out.size() + base64_size(n));
  for (; i + 3 <= n; i += 3) {
    std::uint32_t v = (p[i] << 16) | (p[i + 1] << 8) | p[i + 2];
    out += b64_alphabet[v >> 18];
    out += b64_alphabet[(v >> 12) & 63];
    out += b64_alphabet[(v >> 6) & 63];
    out += b64_alphabet[v & 63];
  }
  if (n - i == 1) {
    std::uint32_t v = p[i] << 16;
    out += b64_alphabet[v >> 18];
    out += b64_alphabet[(v >> 12) & 63];
    out += "==";
  } else if (n - i == 2) {
    std::uint32_t v = (p[i] << 16) | (p[i + 1] << 8);
    out += b64_alphabet[v >> 18];
    out += b64_alphabet[(v >> 12) & 63];
    out += b64_alphabet[(v >> 6) & 63];
    out += '=';
  }
}

// Strict: length a multiple of 4, padding only at the end, no whitespace.
bool decode_base64(std::string_view in, std::string &out) {
  if (in.size() % 4 != 0)
    return false;
  std::size_t pad = 0;
  if (!in.empty() && in.back() == '=')
    ++pad;
  if (in.size() >= 2 && in[in.size() - 2] == '=')
    ++pad;
  out.clear();
  out.reserve(in.size() / 4 * 3);
  for (std::size_t i = 0; i < in.size(); i += 4) {
    std::uint32_t v = 0;
    const bool last = i + 4 == in.size();
    for (std::size_t j = 0; j < 4; ++j) {
      const char c = in[i + j];
      if (c == '=' && last && j >= 4 - pad) {
        v <<= 6;
        continue;
      }
      const std::int8_t d = b64_table[static_cast<unsigned char>(c)];
      if (d < 0)
        return false;
      v = (v << 6) | std::uint32_t(d);
    }
    out += char(v >> 16);
    if (!(last && pad == 2))
      out += char((v >> 8) & 0xff);
    if (!(last && pad >= 1))
      out += char(v & 0xff);
  }
  return true;
}

const char *decode_packet(std::string_view text, Packet &out) {
  if (text.empty())
    return "empty packet";
  const char type = text.front();
  std::string_view data = text.substr(1);
  if (type == 'b') {
    out.type = PacketType::message;
    out.binary = true;
    if (!decode_base64(data, out.data))
      return "invalid base64 in a binary packet";
    return nullptr;
  }
  if (type < '0' || type > '6')
    return "unknown packet type";
  out.type = static_cast<PacketType>(type);
  out.binary = false;
  out.data.assign(data);
  return nullptr;
}

const char *decode_payload(std::string_view body, std::vector<Packet> &out) {
  for (;;) {
    const std::size_t end = body.find(record_separator);
    Packet packet;
    if (const char *error = decode_packet(body.substr(0, end), packet))
      return error;
    out.push_back(std::move(packet));
    if (end == std::string_view::npos)
      return nullptr;
    body.remove_prefix(end + 1);
  }
}

void append_packet(std::string &out, PacketType type, std::string_view data, bool binary) {
  if (binary) {
    out += 'b';
    append_base64(out, data);
  } else {
    out += static_cast<char>(type);
    out += data;
  }
}

std::string encode_payload(const std::vector<Packet> &packets) {
  std::string out;
  std::size_t size = 0;
  for (const auto &p : packets)
    size += 2 + (p.binary ? base64_size(p.data.size()) : p.data.size());
  out.reserve(size);
  for (const auto &p : packets) {
    if (!out.empty())
      out += record_separator;
    append_packet(out, p.type, p.data, p.binary);
  }
  return out;
}

} // namespace nospace::engineio
