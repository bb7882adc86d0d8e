// libFuzzer target for the launcher request format (common/launch_protocol.hpp): both
// decoders on arbitrary bytes with an arbitrary fd count. Beyond "no crash, no read past the
// end", every accepted message must re-encode to exactly the input: the format has one
// encoding per value, so a decoder that accepts anything else lets two sides disagree.
#include "common/launch_protocol.hpp"

#include <cstdlib>
#include <variant>

using namespace nospace::launch;

namespace {

template <typename Variant> Bytes reencode(const Variant &v) {
  return std::visit([](const auto &m) { return encode(m); }, v);
}

void check_canonical(const Bytes &again, const std::uint8_t *data, std::size_t size) {
  if (again.size() != size || !std::equal(again.begin(), again.end(), data))
    std::abort();
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size) {
  if (size < 1)
    return 0;
  std::size_t fd_count = data[0] % 5; // 0..4: every valid count and one too many
  const std::uint8_t *body = data + 1;
  std::size_t body_size = size - 1;

  auto to_launcher = decode_to_launcher(body, body_size, fd_count);
  if (to_launcher.value.has_value() == !to_launcher.error.empty())
    std::abort(); // exactly one of value and error
  if (to_launcher.value)
    check_canonical(reencode(*to_launcher.value), body, body_size);

  auto to_gateway = decode_to_gateway(body, body_size, fd_count);
  if (to_gateway.value.has_value() == !to_gateway.error.empty())
    std::abort();
  if (to_gateway.value)
    check_canonical(reencode(*to_gateway.value), body, body_size);
  return 0;
}
