#pragma once
// What the client sent when it opened an Engine.IO session.

#include "gateway/transport/http.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace nospace::engineio {

using transport::HeaderList;

// Kept for the session's lifetime, so only what an application may still want is stored:
// the query is decoded from `url` when asked for, and the headers that served only the
// HTTP exchange or the WebSocket handshake are dropped (gateway/engineio/server.cpp).
struct Handshake {
  std::string url;     // path and query as sent
  HeaderList headers;  // as the client sent them
  std::string address; // client IP

  const std::string *header(std::string_view name) const {
    return transport::find_header(headers, name);
  }
  // The first query parameter of that name, decoded.
  std::optional<std::string> query_param(std::string_view name) const {
    const auto question = url.find('?');
    if (question == std::string::npos)
      return std::nullopt;
    for (auto &[key, value] : transport::parse_query(std::string_view(url).substr(question + 1)))
      if (key == name)
        return std::move(value);
    return std::nullopt;
  }
};

} // namespace nospace::engineio
