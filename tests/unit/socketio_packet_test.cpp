// The Socket.IO v5 packet codec: the encodings of the protocol specification's examples, the
// binary placeholder round trip, and every malformed input the server must refuse.
#include "gateway/socketio/packet.hpp"

#include <catch2/catch.hpp>

using nospace::socketio::Decoder;
using nospace::socketio::encode;
using nospace::socketio::Packet;
using nospace::socketio::PacketType;
using nospace::socketio::ProtocolError;
using json = nlohmann::json;

namespace {

Packet decode_one(std::string_view text) {
  Decoder decoder;
  auto packet = decoder.add_text(text);
  REQUIRE(packet);
  return *packet;
}

json bytes(std::initializer_list<std::uint8_t> b) {
  return json::binary_t(std::vector<std::uint8_t>(b));
}

} // namespace

TEST_CASE("encodes the specification's examples") {
  CHECK(encode({PacketType::connect, "/", {}, json{{"token", "123"}}}).text ==
        R"(0{"token":"123"})");
  CHECK(encode({PacketType::connect, "/admin", {}, json{{"sid", "oSO0OpakMV_3jnilAAAA"}}}).text ==
        R"(0/admin,{"sid":"oSO0OpakMV_3jnilAAAA"})");
  CHECK(encode({PacketType::disconnect, "/admin", {}, json(json::value_t::discarded)}).text ==
        "1/admin,");
  CHECK(encode({PacketType::event, "/", {}, json::array({"hello", 1})}).text == R"(2["hello",1])");
  CHECK(encode({PacketType::event, "/admin", 456, json::array({"project:delete", 123})}).text ==
        R"(2/admin,456["project:delete",123])");
  CHECK(encode({PacketType::ack, "/admin", 456, json::array()}).text == "3/admin,456[]");
  CHECK(
      encode({PacketType::connect_error, "/admin", {}, json{{"message", "Not authorized"}}}).text ==
      R"(4/admin,{"message":"Not authorized"})");
}

TEST_CASE("binary values become placeholders and attachments, and back") {
  json args = json::array({"hello", bytes({1, 2, 3}), json{{"a", bytes({4})}, {"b", 5}}});
  auto encoded = encode({PacketType::event, "/custom", 7, args});
  CHECK(encoded.text == R"(52-/custom,7["hello",{"_placeholder":true,"num":0},)"
                        R"({"a":{"_placeholder":true,"num":1},"b":5}])");
  REQUIRE(encoded.attachments.size() == 2);
  CHECK(encoded.attachments[0] == std::string("\x01\x02\x03", 3));
  CHECK(encoded.attachments[1] == std::string("\x04", 1));

  Decoder decoder;
  CHECK_FALSE(decoder.add_text(encoded.text));
  CHECK(decoder.reconstructing());
  CHECK_FALSE(decoder.add_binary(encoded.attachments[0]));
  auto packet = decoder.add_binary(encoded.attachments[1]);
  REQUIRE(packet);
  CHECK(packet->type == PacketType::binary_event);
  CHECK(packet->nsp == "/custom");
  CHECK(packet->id == 7u);
  CHECK(packet->data == args);
  CHECK_FALSE(decoder.reconstructing());
}

TEST_CASE("an ACK with binary becomes BINARY_ACK") {
  auto encoded = encode({PacketType::ack, "/", 3, json::array({bytes({9})})});
  CHECK(encoded.text == R"(61-3[{"_placeholder":true,"num":0}])");
  CHECK(encoded.attachments.size() == 1);
}

TEST_CASE("decodes valid packets") {
  auto connect = decode_one("0");
  CHECK(connect.type == PacketType::connect);
  CHECK(connect.nsp == "/");
  CHECK(connect.data.is_discarded());

  auto custom = decode_one(R"(0/custom,{"token":"abc"})");
  CHECK(custom.nsp == "/custom");
  CHECK(custom.data == json{{"token", "abc"}});
  CHECK(decode_one("0/custom").nsp == "/custom");

  auto event = decode_one(R"(2/admin,456["project:delete",123])");
  CHECK(event.type == PacketType::event);
  CHECK(event.id == 456u);
  CHECK(event.data == json::array({"project:delete", 123}));
  CHECK(decode_one("2[1]").data == json::array({1})); // a numeric event name is allowed

  auto ack = decode_one("3/admin,456[]");
  CHECK(ack.type == PacketType::ack);
  CHECK(ack.id == 456u);
  CHECK(decode_one("1/admin,").type == PacketType::disconnect);
  CHECK(decode_one(R"(4{"message":"x"})").type == PacketType::connect_error);
  CHECK(decode_one(R"(50-["a"])").type == PacketType::binary_event);
}

TEST_CASE("refuses every malformed packet") {
  struct Case {
    std::string text, error;
  };
  const std::vector<Case> cases = {
      {"", "empty packet"},
      {"7", "unknown packet type \"7\""},
      {"a[\"x\"]", "unknown packet type \"a\""},
      {"2[\"x\"", R"(bad JSON "[\"x\"")"},
      {"2[\"x\"]garbage", "bad JSON"},
      {"2{\"x\":1}", "invalid payload: EVENT data must be a non-empty array"},
      {"2[]", "invalid payload: EVENT data must be a non-empty array"},
      {"2[{}]", "invalid payload: the event name must be a string or a number"},
      {"2[\"disconnect\"]", "invalid payload: reserved event name \"disconnect\""},
      {"2", "invalid payload: packet type 2 needs data"},
      {"0[1]", "invalid payload: CONNECT data must be an object"},
      {"0\"token\"", "invalid payload: CONNECT data must be an object"},
      {"1{}", "invalid payload: DISCONNECT carries no data"},
      {"4[1]", "invalid payload: CONNECT_ERROR data must be an object or a string"},
      {"3{}", "bad ack id: ACK without an id"},
      {"3[]", "bad ack id: ACK without an id"},
      {"312a[]", "bad JSON \"a[]\""},
      {"399999999999999999999[]", "bad ack id \"99999999999999999999"},
      {"29007199254740993[\"x\"]", "bad ack id \"9007199254740993\""},
      {"3{\"1\":2}", "bad ack id: ACK without an id"},
      {"31{}", "invalid payload: ACK data must be an array"},
      {"5[\"x\"]", "illegal attachments in"},
      {"5-[\"x\"]", "illegal attachments in"},
      {"5x-[\"x\"]", "illegal attachments in"},
      {"51[\"x\"]", "illegal attachments in"},
      {"5-1-[\"x\"]", "illegal attachments in"},
      {"511-[\"x\"]", "too many attachments: 11"},
      {"599999999999999999999999-[\"x\"]", "illegal attachments in"},
      {"50-[\"x\",{\"_placeholder\":true,\"num\":0}]", "illegal attachments: bad placeholder"},
      {"2/bad\nname,[\"x\"]", R"(bad namespace "/bad\nname")"},
      {"2/" + std::string(300, 'n') + ",[\"x\"]", "bad namespace: longer than 256"},
      {"2/custom[\"x\"]", "invalid payload: packet type 2 needs data"},
      {"2" + std::string(100, '[') + std::string(100, ']'), "bad JSON: nested deeper than 64"},
  };
  for (const auto &c : cases) {
    INFO("packet: " << c.text);
    Decoder decoder;
    CHECK_THROWS_WITH(decoder.add_text(c.text), Catch::Contains(c.error));
  }
}

TEST_CASE("refuses placeholders that point past the attachments") {
  Decoder decoder;
  REQUIRE_FALSE(decoder.add_text(R"(51-["x",{"_placeholder":true,"num":1}])"));
  CHECK_THROWS_WITH(decoder.add_binary("b"), Catch::Contains("illegal attachments"));

  Decoder negative;
  REQUIRE_FALSE(negative.add_text(R"(51-["x",{"_placeholder":true,"num":-1}])"));
  CHECK_THROWS_AS(negative.add_binary("b"), ProtocolError);

  Decoder no_num;
  REQUIRE_FALSE(no_num.add_text(R"(51-["x",{"_placeholder":true}])"));
  CHECK_THROWS_AS(no_num.add_binary("b"), ProtocolError);
}

TEST_CASE("refuses frames out of order") {
  Decoder stray;
  CHECK_THROWS_WITH(stray.add_binary("abc"), "got a binary frame that no packet announced");

  Decoder interrupted;
  REQUIRE_FALSE(interrupted.add_text(R"(52-["x",{"_placeholder":true,"num":0}])"));
  REQUIRE_FALSE(interrupted.add_binary("a"));
  CHECK_THROWS_WITH(interrupted.add_text(R"(2["y"])"),
                    "got a text frame while awaiting 1 attachment(s)");
}

TEST_CASE("the attachment limit is configurable") {
  Decoder strict(1);
  CHECK_THROWS_WITH(strict.add_text(R"(52-["x"])"), "too many attachments: 2");
  Decoder lenient(20);
  CHECK_FALSE(lenient.add_text(R"(520-["x"])"));
}

TEST_CASE("non-UTF-8 strings are encoded, not thrown") {
  auto encoded = encode({PacketType::event, "/", {}, json::array({"x", std::string("\xff\xfe")})});
  CHECK(encoded.text.rfind("2[\"x\",", 0) == 0);
}
