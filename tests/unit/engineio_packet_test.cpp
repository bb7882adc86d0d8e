// The Engine.IO v4 packet and payload codec: every packet type, binary as base64, the
// 0x1e payload separator, and every malformed input with the error it is reported as.
#include "gateway/engineio/packet.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using namespace nospace::engineio;

namespace {

std::string base64(std::string_view in) {
  std::string out;
  append_base64(out, in);
  return out;
}

} // namespace

TEST_CASE("every packet type decodes with its data") {
  const std::vector<std::pair<std::string, PacketType>> cases = {
      {"0{\"sid\":\"x\"}", PacketType::open},
      {"1", PacketType::close},
      {"2probe", PacketType::ping},
      {"3", PacketType::pong},
      {"4hello", PacketType::message},
      {"5", PacketType::upgrade},
      {"6", PacketType::noop},
  };
  for (const auto &[text, type] : cases) {
    Packet packet;
    REQUIRE(decode_packet(text, packet) == nullptr);
    CHECK(packet.type == type);
    CHECK(packet.data == text.substr(1));
    CHECK_FALSE(packet.binary);
  }
}

TEST_CASE("a message keeps its bytes: UTF-8, separators inside JSON, NUL") {
  Packet packet;
  const std::string data = std::string("\xc3\xa9t\xc3\xa9 [\"a\",1]\0z", 13);
  REQUIRE(decode_packet("4" + data, packet) == nullptr);
  CHECK(packet.data == data);
}

TEST_CASE("binary packets are b + base64 and round-trip every byte value") {
  std::string all;
  for (int i = 0; i < 256; ++i)
    all += char(i);
  for (std::size_t n : {0u, 1u, 2u, 3u, 4u, 5u, 255u, 256u}) {
    const std::string in = all.substr(0, n);
    std::string text;
    append_packet(text, PacketType::message, in, true);
    std::string expected = "b"; // (not "b" + ...: a g++ 12 -Wrestrict false positive)
    expected += base64(in);
    CHECK(text == expected);
    Packet packet;
    REQUIRE(decode_packet(text, packet) == nullptr);
    CHECK(packet.binary);
    CHECK(packet.type == PacketType::message);
    CHECK(packet.data == in);
  }
  CHECK(base64("\x01\x02\x03") == "AQID");
  CHECK(base64("ab") == "YWI=");
  CHECK(base64("a") == "YQ==");
}

TEST_CASE("malformed packets are reported, never accepted") {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "empty packet"},
      {"7", "unknown packet type"},
      {"9x", "unknown packet type"},
      {"a4", "unknown packet type"},
      {"/", "unknown packet type"},
      {"\x1e", "unknown packet type"},
      {"b!!!!", "invalid base64 in a binary packet"},
      {"bAQI", "invalid base64 in a binary packet"},      // not a multiple of 4
      {"bA===", "invalid base64 in a binary packet"},     // too much padding
      {"bA=QI", "invalid base64 in a binary packet"},     // padding in the middle
      {"bAQ==AQID", "invalid base64 in a binary packet"}, // padding before the end
      {"bAQ I", "invalid base64 in a binary packet"},     // whitespace
  };
  for (const auto &[text, error] : cases) {
    INFO("input: " << text);
    Packet packet;
    const char *got = decode_packet(text, packet);
    REQUIRE(got != nullptr);
    CHECK(std::string(got) == error);
  }
}

TEST_CASE("payloads split on 0x1e") {
  std::vector<Packet> packets;
  REQUIRE(decode_payload("4hello\x1e"
                         "bAQID\x1e"
                         "3\x1e"
                         "4",
                         packets) == nullptr);
  REQUIRE(packets.size() == 4);
  CHECK(packets[0].data == "hello");
  CHECK(packets[1].binary);
  CHECK(packets[1].data == "\x01\x02\x03");
  CHECK(packets[2].type == PacketType::pong);
  CHECK(packets[3].type == PacketType::message);
  CHECK(packets[3].data.empty());
}

TEST_CASE("malformed payloads: empty, empty element, trailing separator, a bad packet") {
  for (const std::string &body : {std::string(""), std::string("\x1e"), std::string("4a\x1e"),
                                  std::string("4a\x1e\x1e"
                                              "4b"),
                                  std::string("4a\x1e"
                                              "8b"),
                                  std::string("4a\x1e"
                                              "b@@@@")}) {
    INFO("body size " << body.size());
    std::vector<Packet> packets;
    CHECK(decode_payload(body, packets) != nullptr);
  }
}

TEST_CASE("encode_payload joins text and binary packets the way decode_payload splits them") {
  const std::vector<Packet> packets = {
      {PacketType::message, "hello", false},
      {PacketType::message, std::string("\0\xff", 2), true},
      {PacketType::ping, "", false},
      {PacketType::close, "", false},
  };
  const std::string body = encode_payload(packets);
  CHECK(body == "4hello\x1e"
                "bAP8=\x1e"
                "2\x1e"
                "1");
  std::vector<Packet> back;
  REQUIRE(decode_payload(body, back) == nullptr);
  REQUIRE(back.size() == packets.size());
  for (std::size_t i = 0; i < back.size(); ++i) {
    CHECK(back[i].type == packets[i].type);
    CHECK(back[i].data == packets[i].data);
    CHECK(back[i].binary == packets[i].binary);
  }
}

TEST_CASE("decode_base64 is strict") {
  std::string out;
  CHECK(decode_base64("", out));
  CHECK(out.empty());
  CHECK(decode_base64("YWI=", out));
  CHECK(out == "ab");
  CHECK(decode_base64("-_-_", out) == false); // URL-safe alphabet is not base64 here
  CHECK(decode_base64("====", out) == false);
  CHECK(decode_base64("Y===", out) == false);
}
