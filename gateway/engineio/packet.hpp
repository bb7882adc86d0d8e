#pragma once
// The Engine.IO v4 packet and payload codec (engine.io-protocol, "Packet encoding").
//   packet:  one type digit then the data: "4hello"; a binary message over long-polling is
//            "b" + base64; over WebSocket a binary message is the raw frame, without a type.
//   payload: packets of one long-polling body separated by the record separator 0x1e.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace nospace::engineio {

enum class PacketType : char {
  open = '0',
  close = '1',
  ping = '2',
  pong = '3',
  message = '4',
  upgrade = '5',
  noop = '6',
};

struct Packet {
  PacketType type = PacketType::message;
  std::string data;
  bool binary = false; // only for message packets
};

inline constexpr char record_separator = '\x1e';

// Decodes one text-encoded packet (a WebSocket text frame or one payload element). Returns
// nullptr on success, else what is wrong with it (the input is not quoted: callers decide).
const char *decode_packet(std::string_view text, Packet &out);
// Decodes a long-polling body; stops at the first malformed packet (returns its error).
// An empty body is malformed, as with the reference parser.
const char *decode_payload(std::string_view body, std::vector<Packet> &out);

// Appends the text encoding of a packet: type digit + data, or "b" + base64 for binary.
void append_packet(std::string &out, PacketType type, std::string_view data, bool binary);
// Encodes packets for a long-polling response body.
std::string encode_payload(const std::vector<Packet> &packets);

void append_base64(std::string &out, std::string_view in);
bool decode_base64(std::string_view in, std::string &out); // false on invalid input
std::size_t base64_size(std::size_t n);

} // namespace nospace::engineio
