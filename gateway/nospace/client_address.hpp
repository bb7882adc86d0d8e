#pragma once
// The client's address as the per-IP limits and the logs see it. Behind a reverse proxy every
// connection comes from the proxy; for a peer in server.trusted_proxies the client is the one
// its X-Forwarded-For names: the rightmost entry that is not itself a trusted proxy (each
// proxy appends the address it was connected from; what lies further left, the client may
// have written). From any other peer, the header is ignored.

#include "common/ip_network.hpp"

#include <string>
#include <vector>

namespace nospace::gateway {

class ClientAddress {
public:
  // Entries already validated by the policy loader; one that does not parse is skipped.
  explicit ClientAddress(const std::vector<std::string> &trusted_proxies);

  std::string operator()(const std::string &peer, const std::string *forwarded_for) const;

private:
  bool trusted(const IpAddress &address) const;

  std::vector<IpNetwork> trusted_;
};

} // namespace nospace::gateway
