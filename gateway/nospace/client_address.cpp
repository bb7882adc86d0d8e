#include "gateway/nospace/client_address.hpp"

#include <string_view>

namespace nospace::gateway {

namespace {

std::string_view trimmed(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

} // namespace

ClientAddress::ClientAddress(const std::vector<std::string> &trusted_proxies) {
  for (const auto &entry : trusted_proxies)
    if (auto network = parse_ip_network(entry))
      trusted_.push_back(*network);
}

bool ClientAddress::trusted(const IpAddress &address) const {
  for (const auto &network : trusted_)
    if (network.contains(address))
      return true;
  return false;
}

std::string ClientAddress::operator()(const std::string &peer,
                                      const std::string *forwarded_for) const {
  const auto peer_address = parse_ip_address(peer);
  if (forwarded_for == nullptr || !peer_address || !trusted(*peer_address))
    return peer;
  // From the right: the nearest hop first. An entry that is no address ends the chain there:
  // the last trusted hop is then the best that is known.
  std::string client = peer;
  std::string_view rest = *forwarded_for;
  while (!rest.empty()) {
    const auto comma = rest.rfind(',');
    const std::string_view entry =
        trimmed(comma == std::string_view::npos ? rest : rest.substr(comma + 1));
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(0, comma);
    const auto address = parse_ip_address(entry);
    if (!address)
      break;
    client = std::string(entry);
    if (!trusted(*address))
      break;
  }
  return client;
}

} // namespace nospace::gateway
