#pragma once
// The Socket.IO v5 packet codec (socket.io-protocol, "Packet encoding"): one packet is a text
// frame `<type>[<attachments>-][<nsp>,][<id>][<json>]`, followed, for BINARY_EVENT and
// BINARY_ACK, by that many binary frames. Binary values live inside the JSON as
// nlohmann::json::binary_t; the encoder swaps them for {"_placeholder":true,"num":N} and the
// decoder swaps them back. Pure functions and one small state machine, no I/O: the server,
// the unit tests and the fuzzer share it.
#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace nospace::socketio {

enum class PacketType : int {
  connect = 0,
  disconnect = 1,
  event = 2,
  ack = 3,
  connect_error = 4,
  binary_event = 5,
  binary_ack = 6,
};

struct Packet {
  PacketType type = PacketType::event;
  std::string nsp = "/";
  std::optional<std::uint64_t> id;
  // Absent payload (e.g. "0" or "1") is a discarded json (data.is_discarded()).
  nlohmann::json data = nlohmann::json(nlohmann::json::value_t::discarded);
};

// A packet the peer sent that breaks the protocol. The message names what was wrong.
class ProtocolError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

struct EncodedPacket {
  std::string text;                     // the text frame
  std::vector<std::string> attachments; // binary frames, in placeholder order
};

// Encodes a packet. EVENT/ACK whose data holds binary values become BINARY_EVENT/BINARY_ACK.
EncodedPacket encode(const Packet &packet);

// Reassembles packets from the frames of one connection, in order.
class Decoder {
public:
  explicit Decoder(std::size_t max_attachments = 10) : max_attachments_(max_attachments) {}

  // Each returns the completed packet, or nothing while attachments are still due.
  // Throws ProtocolError on anything malformed; the decoder is then unusable (close the
  // connection).
  std::optional<Packet> add_text(std::string_view frame);
  std::optional<Packet> add_binary(std::string_view frame);

  bool reconstructing() const { return pending_ != nullptr; }

private:
  // A binary packet waiting for its attachments, allocated only then: there is a decoder per
  // connection, and it is idle nearly always (about 100 bytes less per connection).
  struct Pending {
    Packet packet;
    std::size_t expected = 0;
    std::vector<std::string> buffers;
  };
  std::size_t max_attachments_;
  std::unique_ptr<Pending> pending_;
};

// Parses one text frame; `attachments` receives the announced count for binary types.
Packet parse_text(std::string_view frame, std::size_t max_attachments, std::size_t &attachments);

// Event names the server must not receive or emit (socket.io's RESERVED_EVENTS).
bool is_reserved_event(std::string_view name);

} // namespace nospace::socketio
