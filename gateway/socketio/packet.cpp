#include "gateway/socketio/packet.hpp"

#include <array>
#include <charconv>

namespace nospace::socketio {

namespace {

using json = nlohmann::json;

// Deeper JSON than this is refused: the tree is walked recursively when it is re-encoded
// (an echo), and no legitimate event nests this far.
constexpr int max_json_depth = 64;
constexpr std::size_t max_namespace_length = 256;

const std::array<std::string_view, 6> reserved_events = {
    "connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"};

// What the peer sent, for error messages: shortened, as a JSON string (control characters
// and quotes escaped).
std::string quote(std::string_view text) {
  constexpr std::size_t shown = 40;
  std::string head(text.substr(0, shown));
  if (text.size() > shown)
    head += "...";
  return json(head).dump(-1, ' ', false, json::error_handler_t::replace);
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Replaces every binary value with a placeholder, appending its bytes to `attachments`.
// Objects are walked in key order, arrays in index order: the numbering only has to agree
// with the order of the attachment frames, which it does by construction.
void deconstruct(json &value, std::vector<std::string> &attachments) {
  if (value.is_binary()) {
    const auto &bytes = value.get_binary();
    std::string frame(bytes.begin(), bytes.end());
    value = json{{"_placeholder", true}, {"num", attachments.size()}};
    attachments.push_back(std::move(frame));
  } else if (value.is_array() || value.is_object()) {
    for (auto &child : value)
      deconstruct(child, attachments);
  }
}

bool has_binary(const json &value) {
  if (value.is_binary())
    return true;
  if (value.is_array() || value.is_object())
    for (const auto &child : value)
      if (has_binary(child))
        return true;
  return false;
}

void reconstruct(json &value, std::vector<std::string> &buffers) {
  if (value.is_object()) {
    auto flag = value.find("_placeholder");
    if (flag != value.end() && *flag == true) {
      auto num = value.find("num");
      if (num == value.end() || !num->is_number_unsigned() ||
          num->get<std::uint64_t>() >= buffers.size())
        throw ProtocolError("illegal attachments: bad placeholder " + quote(value.dump()));
      const std::string &frame = buffers[num->get<std::size_t>()];
      value = json::binary_t(std::vector<std::uint8_t>(frame.begin(), frame.end()));
      return;
    }
  }
  if (value.is_array() || value.is_object())
    for (auto &child : value)
      reconstruct(child, buffers);
}

// Nesting depth of a JSON text, counted without parsing (strings are skipped).
int json_depth(std::string_view text) {
  int depth = 0, deepest = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped)
        escaped = false;
      else if (c == '\\')
        escaped = true;
      else if (c == '"')
        in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      deepest = std::max(deepest, ++depth);
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return deepest;
}

void check_payload(PacketType type, const json &data) {
  switch (type) {
  case PacketType::connect:
    if (!data.is_object())
      throw ProtocolError("invalid payload: CONNECT data must be an object");
    return;
  case PacketType::disconnect: throw ProtocolError("invalid payload: DISCONNECT carries no data");
  case PacketType::connect_error:
    if (!data.is_object() && !data.is_string())
      throw ProtocolError("invalid payload: CONNECT_ERROR data must be an object or a string");
    return;
  case PacketType::event:
  case PacketType::binary_event:
    if (!data.is_array() || data.empty())
      throw ProtocolError("invalid payload: EVENT data must be a non-empty array");
    if (data[0].is_string()) {
      if (is_reserved_event(data[0].get_ref<const std::string &>()))
        throw ProtocolError("invalid payload: reserved event name " +
                            quote(data[0].get_ref<const std::string &>()));
    } else if (!data[0].is_number()) {
      throw ProtocolError("invalid payload: the event name must be a string or a number");
    }
    return;
  case PacketType::ack:
  case PacketType::binary_ack:
    if (!data.is_array())
      throw ProtocolError("invalid payload: ACK data must be an array");
    return;
  }
}

bool is_binary_type(PacketType type) {
  return type == PacketType::binary_event || type == PacketType::binary_ack;
}

} // namespace

bool is_reserved_event(std::string_view name) {
  for (auto reserved : reserved_events)
    if (name == reserved)
      return true;
  return false;
}

EncodedPacket encode(const Packet &packet) {
  EncodedPacket out;
  json data = packet.data;
  PacketType type = packet.type;
  if (!data.is_discarded() && has_binary(data)) {
    deconstruct(data, out.attachments);
    if (type == PacketType::event)
      type = PacketType::binary_event;
    else if (type == PacketType::ack)
      type = PacketType::binary_ack;
  }
  out.text = std::to_string(static_cast<int>(type));
  if (is_binary_type(type))
    out.text += std::to_string(out.attachments.size()) + "-";
  if (packet.nsp != "/")
    out.text += packet.nsp + ",";
  if (packet.id)
    out.text += std::to_string(*packet.id);
  if (!data.is_discarded())
    out.text += data.dump(-1, ' ', false, json::error_handler_t::replace);
  return out;
}

Packet parse_text(std::string_view frame, std::size_t max_attachments, std::size_t &attachments) {
  if (frame.empty())
    throw ProtocolError("empty packet");
  Packet packet;
  if (frame[0] < '0' || frame[0] > '6')
    throw ProtocolError("unknown packet type " + quote(frame.substr(0, 1)));
  packet.type = static_cast<PacketType>(frame[0] - '0');
  std::size_t i = 1;
  attachments = 0;

  if (is_binary_type(packet.type)) {
    std::size_t dash = frame.find('-', i);
    std::string_view count = frame.substr(i, dash == std::string_view::npos ? 0 : dash - i);
    auto [end, ec] = std::from_chars(count.data(), count.data() + count.size(), attachments);
    if (dash == std::string_view::npos || count.empty() || ec != std::errc() ||
        end != count.data() + count.size())
      throw ProtocolError("illegal attachments in " + quote(frame));
    if (attachments > max_attachments)
      throw ProtocolError("too many attachments: " + std::to_string(attachments));
    i = dash + 1;
  }

  if (i < frame.size() && frame[i] == '/') {
    std::size_t comma = frame.find(',', i);
    std::size_t end = comma == std::string_view::npos ? frame.size() : comma;
    std::string_view nsp = frame.substr(i, end - i);
    if (nsp.size() > max_namespace_length)
      throw ProtocolError("bad namespace: longer than " + std::to_string(max_namespace_length));
    for (char c : nsp)
      if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
        throw ProtocolError("bad namespace " + quote(nsp));
    packet.nsp = std::string(nsp);
    i = comma == std::string_view::npos ? frame.size() : comma + 1;
  }

  if (i < frame.size() && is_digit(frame[i])) {
    std::size_t start = i;
    while (i < frame.size() && is_digit(frame[i]))
      ++i;
    std::uint64_t id = 0;
    auto [end, ec] = std::from_chars(frame.data() + start, frame.data() + i, id);
    // Ids are JavaScript numbers on the other side: stay within its exact integers.
    if (ec != std::errc() || id > (std::uint64_t{1} << 53))
      throw ProtocolError("bad ack id " + quote(frame.substr(start, i - start)));
    packet.id = id;
  }
  if ((packet.type == PacketType::ack || packet.type == PacketType::binary_ack) && !packet.id)
    throw ProtocolError("bad ack id: ACK without an id");

  if (i < frame.size()) {
    std::string_view text = frame.substr(i);
    if (json_depth(text) > max_json_depth)
      throw ProtocolError("bad JSON: nested deeper than " + std::to_string(max_json_depth));
    packet.data = json::parse(text, nullptr, false);
    if (packet.data.is_discarded())
      throw ProtocolError("bad JSON " + quote(text));
    check_payload(packet.type, packet.data);
  } else if (packet.type != PacketType::connect && packet.type != PacketType::disconnect) {
    throw ProtocolError("invalid payload: packet type " + std::to_string(frame[0] - '0') +
                        " needs data");
  }
  return packet;
}

std::optional<Packet> Decoder::add_text(std::string_view frame) {
  if (pending_)
    throw ProtocolError("got a text frame while awaiting " +
                        std::to_string(pending_->expected - pending_->buffers.size()) +
                        " attachment(s)");
  std::size_t attachments = 0;
  Packet packet = parse_text(frame, max_attachments_, attachments);
  if (attachments == 0) {
    if (is_binary_type(packet.type)) {
      std::vector<std::string> none;
      reconstruct(packet.data, none); // any placeholder is now out of range
    }
    return packet;
  }
  pending_ = std::make_unique<Pending>(Pending{std::move(packet), attachments, {}});
  return std::nullopt;
}

std::optional<Packet> Decoder::add_binary(std::string_view frame) {
  if (!pending_)
    throw ProtocolError("got a binary frame that no packet announced");
  pending_->buffers.emplace_back(frame);
  if (pending_->buffers.size() < pending_->expected)
    return std::nullopt;
  auto done = std::move(pending_);
  reconstruct(done->packet.data, done->buffers);
  return std::move(done->packet);
}

} // namespace nospace::socketio
