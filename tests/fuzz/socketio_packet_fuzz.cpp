// libFuzzer target: the Socket.IO v5 packet decoder (gateway/socketio/packet.cpp).
// The input is a run of frames separated by 0x1e; a frame starting with 'b' is a binary frame
// (the rest of it), any other a text frame, as they would arrive from one connection.
// Properties: the decoder throws nothing but ProtocolError, and every packet it produces
// re-encodes to a text that decodes to the same encoding (encode is stable after one pass).
#include "gateway/socketio/packet.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

using namespace nospace::socketio;

namespace {

Packet redecode(const EncodedPacket &encoded) {
  Decoder decoder(encoded.attachments.size());
  auto packet = decoder.add_text(encoded.text);
  for (const auto &attachment : encoded.attachments)
    packet = decoder.add_binary(attachment);
  if (!packet)
    std::abort();
  return *packet;
}

void check_round_trip(const Packet &packet) {
  EncodedPacket first = encode(packet);
  Packet again = redecode(first);
  EncodedPacket second = encode(again);
  if (first.text != second.text || first.attachments != second.attachments ||
      again.nsp != packet.nsp || again.id != packet.id)
    std::abort();
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char *>(data), size);
  Decoder decoder;
  while (true) {
    std::size_t end = input.find('\x1e');
    std::string_view frame = input.substr(0, end);
    try {
      auto packet = !frame.empty() && frame[0] == 'b' ? decoder.add_binary(frame.substr(1))
                                                      : decoder.add_text(frame);
      if (packet)
        check_round_trip(*packet);
    } catch (const ProtocolError &) {
      return 0; // the connection would be closed here
    }
    if (end == std::string_view::npos)
      return 0;
    input.remove_prefix(end + 1);
  }
}
