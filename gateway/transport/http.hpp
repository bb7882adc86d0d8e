#pragma once
// Plain HTTP request and response values handed between the websocketpp transport and the
// layers above it. Valid C++17: the transport (built as C++17) and the C++20 layers share it.

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace nospace::transport {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

// Case-insensitive header lookup; nullptr when absent.
const std::string *find_header(const HeaderList &headers, std::string_view name);

struct HttpRequest {
  std::string method;         // "GET", "POST", ...
  std::string target;         // path and query as sent: "/socket.io/?EIO=4&transport=polling"
  HeaderList headers;         // names as the client sent them
  std::string body;           // complete (Content-Length) body; chunked bodies are refused
  std::string remote_address; // client IP without port

  const std::string *header(std::string_view name) const { return find_header(headers, name); }
  std::string_view path() const;  // target up to '?'
  std::string_view query() const; // target after '?', empty when none
};

struct HttpResponse {
  int status = 200;
  HeaderList headers;
  std::string body;

  // Replaces an existing header of that name (case-insensitive) or adds it.
  void set_header(std::string name, std::string value);
};

// Percent-decodes a query component ('+' is a space); invalid escapes are kept as they are.
std::string url_decode(std::string_view in);
// Splits "a=1&b=2" into decoded pairs.
std::vector<std::pair<std::string, std::string>> parse_query(std::string_view query);

} // namespace nospace::transport
