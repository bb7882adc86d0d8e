#pragma once
// What the client sent when it opened an Engine.IO session.

#include "gateway/transport/http.hpp"

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace nospace::engineio {

using transport::HeaderList;

struct Handshake {
  std::string url;                                        // path and query as sent
  std::vector<std::pair<std::string, std::string>> query; // decoded query parameters
  HeaderList headers;                                     // as the client sent them
  std::string address;                                    // client IP

  const std::string *header(std::string_view name) const {
    return transport::find_header(headers, name);
  }
  const std::string *query_param(std::string_view name) const {
    for (const auto &[key, value] : query)
      if (key == name)
        return &value;
    return nullptr;
  }
};

} // namespace nospace::engineio
