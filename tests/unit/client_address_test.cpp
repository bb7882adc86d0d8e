// server.trusted_proxies: IP networks, and the client address behind a trusted proxy.
#include <catch2/catch.hpp>

#include "common/ip_network.hpp"
#include "gateway/nospace/client_address.hpp"

using nospace::parse_ip_address;
using nospace::parse_ip_network;
using nospace::gateway::ClientAddress;

TEST_CASE("IP networks: addresses and prefixes, v4 and v6, v4-mapped v6 as v4") {
  auto in = [](const char *network, const char *address) {
    auto n = parse_ip_network(network);
    auto a = parse_ip_address(address);
    REQUIRE(n);
    REQUIRE(a);
    return n->contains(*a);
  };
  CHECK(in("10.0.0.0/8", "10.255.1.2"));
  CHECK_FALSE(in("10.0.0.0/8", "11.0.0.1"));
  CHECK(in("172.16.0.0/12", "172.31.255.255"));
  CHECK_FALSE(in("172.16.0.0/12", "172.32.0.0"));
  CHECK(in("192.0.2.7", "192.0.2.7"));
  CHECK_FALSE(in("192.0.2.7", "192.0.2.8"));
  CHECK(in("0.0.0.0/0", "203.0.113.9"));
  CHECK(in("fd00::/8", "fd12:3456::1"));
  CHECK_FALSE(in("fd00::/8", "fe80::1"));
  CHECK(in("127.0.0.1", "::ffff:127.0.0.1"));
  CHECK_FALSE(in("::1", "127.0.0.1"));
  for (const char *bad : {"", "10.0.0.0/33", "10.0.0.0/", "10.0.0.0/8x", "fd00::/129", "localhost",
                          "10.0.0", "1.2.3.4/-1"}) {
    INFO(bad);
    CHECK_FALSE(parse_ip_network(bad));
  }
}

TEST_CASE("behind a trusted proxy the client is the rightmost untrusted X-Forwarded-For entry") {
  const ClientAddress client({"127.0.0.1", "10.0.0.0/8"});
  const std::string forwarded = "198.51.100.1, 203.0.113.5, 10.1.2.3";
  // Each trusted hop is skipped; what the client wrote further left is not believed.
  CHECK(client("127.0.0.1", &forwarded) == "203.0.113.5");
  const std::string one = "203.0.113.5";
  CHECK(client("127.0.0.1", &one) == "203.0.113.5");
  const std::string spaced = " 2001:db8::7 ";
  CHECK(client("10.9.9.9", &spaced) == "2001:db8::7");
  // Every entry trusted: the leftmost is the best that is known.
  const std::string all_trusted = "10.0.0.5, 10.0.0.6";
  CHECK(client("127.0.0.1", &all_trusted) == "10.0.0.5");
  // Garbage ends the chain: the nearest hop that parsed stands.
  const std::string garbage = "198.51.100.1, not-an-ip, 10.0.0.6";
  CHECK(client("127.0.0.1", &garbage) == "10.0.0.6");
  const std::string only_garbage = "not-an-ip";
  CHECK(client("127.0.0.1", &only_garbage) == "127.0.0.1");
  // No header: the proxy itself.
  CHECK(client("127.0.0.1", nullptr) == "127.0.0.1");
}

TEST_CASE("from a peer that is not a trusted proxy, X-Forwarded-For is ignored") {
  const std::string forwarded = "203.0.113.5";
  CHECK(ClientAddress({"10.0.0.0/8"})("198.51.100.9", &forwarded) == "198.51.100.9");
  CHECK(ClientAddress({})("127.0.0.1", &forwarded) == "127.0.0.1");
}
