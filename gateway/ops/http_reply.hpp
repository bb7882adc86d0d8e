#pragma once
// What the operations endpoints and the static files answer, independent of the transport:
// main.cpp copies it into the Engine.IO server's HttpResponse (Server::on_http).

#include <string>
#include <utility>
#include <vector>

namespace nospace::ops {

struct HttpReply {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body; // empty for HEAD; Content-Length is in headers then
};

// "GET" and "HEAD" are the only methods the operations endpoints and static files serve.
inline bool is_get_or_head(const std::string &method) {
  return method == "GET" || method == "HEAD";
}

// A small text reply: the body, or (HEAD) only its Content-Length.
HttpReply text_reply(int status, const std::string &method, std::string body,
                     const std::string &content_type = "text/plain; charset=utf-8");

} // namespace nospace::ops
