#include "common/ip_network.hpp"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>
#include <string>

namespace nospace {

std::optional<IpAddress> parse_ip_address(std::string_view text) {
  const std::string s(text); // inet_pton wants a terminated string
  IpAddress out;
  if (::inet_pton(AF_INET, s.c_str(), out.bytes.data()) == 1) {
    out.v4 = true;
    return out;
  }
  if (::inet_pton(AF_INET6, s.c_str(), out.bytes.data()) != 1)
    return std::nullopt;
  static constexpr std::uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::memcmp(out.bytes.data(), kMapped, sizeof kMapped) == 0) {
    std::memmove(out.bytes.data(), out.bytes.data() + 12, 4);
    std::memset(out.bytes.data() + 4, 0, 12);
    out.v4 = true;
  }
  return out;
}

bool IpNetwork::contains(const IpAddress &address) const {
  if (address.v4 != base.v4)
    return false;
  const unsigned whole = prefix / 8, rest = prefix % 8;
  if (std::memcmp(address.bytes.data(), base.bytes.data(), whole) != 0)
    return false;
  if (rest == 0)
    return true;
  const std::uint8_t mask = std::uint8_t(0xff << (8 - rest));
  return (address.bytes[whole] & mask) == (base.bytes[whole] & mask);
}

std::optional<IpNetwork> parse_ip_network(std::string_view text) {
  const auto slash = text.find('/');
  auto base = parse_ip_address(text.substr(0, slash));
  if (!base)
    return std::nullopt;
  const unsigned bits = base->v4 ? 32 : 128;
  IpNetwork out{*base, bits};
  if (slash == std::string_view::npos)
    return out;
  const std::string_view digits = text.substr(slash + 1);
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), out.prefix);
  if (ec != std::errc() || end != digits.data() + digits.size() || digits.empty() ||
      out.prefix > bits)
    return std::nullopt;
  return out;
}

} // namespace nospace
