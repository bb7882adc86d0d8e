#pragma once
// An IP address or network ("10.0.0.0/8", "fd00::/8", "192.0.2.7"), IPv4 or IPv6, and whether
// an address lies in it: server.trusted_proxies in the policy. IPv4-mapped IPv6 addresses
// ("::ffff:192.0.2.7") count as the IPv4 address they carry.

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

namespace nospace {

struct IpAddress {
  bool v4 = false;
  std::array<std::uint8_t, 16> bytes{}; // v4: the first 4
};

std::optional<IpAddress> parse_ip_address(std::string_view text);

struct IpNetwork {
  IpAddress base;
  unsigned prefix = 0; // bits

  bool contains(const IpAddress &address) const;
};

// "ADDRESS" (a single host) or "ADDRESS/PREFIX"; nullopt when it is neither.
std::optional<IpNetwork> parse_ip_network(std::string_view text);

} // namespace nospace
