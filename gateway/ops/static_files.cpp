#include "gateway/ops/static_files.hpp"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <utility>

namespace nospace::ops {

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

std::optional<std::string> percent_decode(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out += in[i];
      continue;
    }
    if (i + 2 >= in.size())
      return std::nullopt;
    int hi = hex_value(in[i + 1]), lo = hex_value(in[i + 2]);
    if (hi < 0 || lo < 0)
      return std::nullopt;
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return out;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char &c : out)
    if (c >= 'A' && c <= 'Z')
      c = static_cast<char>(c - 'A' + 'a');
  return out;
}

} // namespace

HttpReply text_reply(int status, const std::string &method, std::string body,
                     const std::string &content_type) {
  HttpReply reply;
  reply.status = status;
  reply.headers = {{"Content-Type", content_type},
                   {"Content-Length", std::to_string(body.size())},
                   {"Cache-Control", "no-store"}};
  if (method != "HEAD")
    reply.body = std::move(body);
  return reply;
}

std::string mime_type(std::string_view file_name) {
  auto dot = file_name.rfind('.');
  auto slash = file_name.rfind('/');
  if (dot == std::string_view::npos || (slash != std::string_view::npos && dot < slash))
    return "application/octet-stream";
  static const std::pair<const char *, const char *> types[] = {
      {"html", "text/html; charset=utf-8"},
      {"htm", "text/html; charset=utf-8"},
      {"css", "text/css; charset=utf-8"},
      {"js", "text/javascript; charset=utf-8"},
      {"mjs", "text/javascript; charset=utf-8"},
      {"json", "application/json"},
      {"map", "application/json"},
      {"webmanifest", "application/manifest+json"},
      {"txt", "text/plain; charset=utf-8"},
      {"md", "text/markdown; charset=utf-8"},
      {"xml", "application/xml"},
      {"svg", "image/svg+xml"},
      {"png", "image/png"},
      {"jpg", "image/jpeg"},
      {"jpeg", "image/jpeg"},
      {"gif", "image/gif"},
      {"webp", "image/webp"},
      {"avif", "image/avif"},
      {"ico", "image/x-icon"},
      {"wasm", "application/wasm"},
      {"woff", "font/woff"},
      {"woff2", "font/woff2"},
      {"ttf", "font/ttf"},
      {"otf", "font/otf"},
      {"pdf", "application/pdf"},
  };
  std::string ext = lower(file_name.substr(dot + 1));
  for (const auto &[e, type] : types)
    if (ext == e)
      return type;
  return "application/octet-stream";
}

std::optional<std::string> safe_relative_path(std::string_view target) {
  // The query and fragment are not part of the file name.
  target = target.substr(0, target.find_first_of("?#"));
  if (target.empty() || target[0] != '/')
    return std::nullopt;
  auto decoded = percent_decode(target);
  if (!decoded)
    return std::nullopt;
  std::string path;
  std::size_t start = 1;
  const std::string &d = *decoded;
  while (start <= d.size()) {
    std::size_t end = d.find('/', start);
    if (end == std::string::npos)
      end = d.size();
    std::string_view segment(d.data() + start, end - start);
    // Empty segments ("//") are harmless; "." and ".." and every other dotfile are not served:
    // that refuses traversal and hides .git, .env, .htpasswd left in the front end's folder.
    if (!segment.empty()) {
      if (segment[0] == '.' || segment.find('\0') != std::string_view::npos ||
          segment.find('\\') != std::string_view::npos)
        return std::nullopt;
      path += path.empty() ? "" : "/";
      path += segment;
    }
    start = end + 1;
  }
  if (path.empty() || d.back() == '/')
    path += path.empty() ? "index.html" : "/index.html";
  return path;
}

StaticFiles::StaticFiles(const std::string &root, std::size_t max_file_size)
    : root_(root), max_file_size_(max_file_size) {
  root_fd_.reset(::open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root_fd_)
    throw std::runtime_error("server.static_dir: cannot open directory '" + root +
                             "': " + std::strerror(errno));
}

UniqueFd StaticFiles::open_beneath(const std::string &relative) const {
  // The kernel resolves every component and refuses to leave root_fd_ (absolute symlinks,
  // "..", mount points crossed through magic links): a symlink planted in the folder cannot
  // expose /etc/shadow. RESOLVE_BENEATH needs Linux 5.6; older kernels get no static files.
  open_how how{};
  how.flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
  long fd = ::syscall(SYS_openat2, root_fd_.get(), relative.c_str(), &how, sizeof how);
  return UniqueFd(fd < 0 ? -1 : static_cast<int>(fd));
}

std::optional<HttpReply> StaticFiles::serve(const std::string &method,
                                            std::string_view target) const {
  auto relative = safe_relative_path(target);
  if (!relative)
    return std::nullopt;
  UniqueFd fd = open_beneath(*relative);
  struct stat st {};
  if (fd && ::fstat(fd.get(), &st) == 0 && S_ISDIR(st.st_mode)) {
    // "/app" naming a folder: its index.html, as web servers do.
    *relative += "/index.html";
    fd = open_beneath(*relative);
    if (fd && ::fstat(fd.get(), &st) != 0)
      return std::nullopt;
  }
  if (!fd || !S_ISREG(st.st_mode))
    return std::nullopt;
  if (!is_get_or_head(method)) {
    HttpReply reply = text_reply(405, method, "method not allowed\n");
    reply.headers.emplace_back("Allow", "GET, HEAD");
    return reply;
  }
  if (static_cast<std::size_t>(st.st_size) > max_file_size_)
    return text_reply(500, method, "file too large to serve\n");

  HttpReply reply;
  reply.headers = {{"Content-Type", mime_type(*relative)},
                   {"Content-Length", std::to_string(st.st_size)},
                   {"X-Content-Type-Options", "nosniff"},
                   {"Cache-Control", "no-cache"}};
  if (method == "HEAD")
    return reply;
  reply.body.resize(static_cast<std::size_t>(st.st_size));
  std::size_t got = 0;
  while (got < reply.body.size()) {
    ssize_t n = ::read(fd.get(), reply.body.data() + got, reply.body.size() - got);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return text_reply(500, method, "cannot read file\n");
    got += static_cast<std::size_t>(n);
  }
  return reply;
}

} // namespace nospace::ops
