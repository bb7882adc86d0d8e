// libFuzzer target: the Engine.IO v4 payload and packet decoder (gateway/engineio/packet.cpp),
// fed a long-polling POST body as a client could send it.
// Properties: decoding never crashes; a decoded payload re-encodes to a body that decodes to
// the same packets (types, bytes, binary flags); base64 round-trips any bytes.
#include "gateway/engineio/packet.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

using namespace nospace::engineio;

namespace {

bool same(const std::vector<Packet> &a, const std::vector<Packet> &b) {
  if (a.size() != b.size())
    return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (a[i].type != b[i].type || a[i].data != b[i].data || a[i].binary != b[i].binary)
      return false;
  return true;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char *>(data), size);

  std::vector<Packet> packets;
  if (decode_payload(input, packets) == nullptr) {
    std::vector<Packet> again;
    if (decode_payload(encode_payload(packets), again) != nullptr || !same(packets, again))
      std::abort();
  }

  Packet packet;
  (void)decode_packet(input, packet);

  std::string encoded, decoded;
  append_base64(encoded, input);
  if (encoded.size() != base64_size(size) || !decode_base64(encoded, decoded) || decoded != input)
    std::abort();
  return 0;
}
