#pragma once
// Optional static file serving from server.static_dir, so a built web front end can be served
// on the same origin as /socket.io/.
//
// Safe path resolution, in layers: the request path is percent-decoded once and split into
// segments; "..", NUL, and segments starting with "." (dotfiles, .git, .env) are refused before
// the file system is touched; the file is then opened with openat2(RESOLVE_BENEATH) relative
// to the root directory, so the kernel refuses any symlink or mount crossing out of it; only
// regular files are served, never a directory listing.

#include "gateway/ops/http_reply.hpp"

#include "common/fd.hpp"

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace nospace::ops {

// The Content-Type for a file name, by extension (lower-cased); application/octet-stream when
// unknown. Text types carry charset=utf-8.
std::string mime_type(std::string_view file_name);

// The request target's path, percent-decoded and split into safe segments joined by '/', with
// "index.html" appended for a directory-style path. nullopt when the path is not one we would
// ever serve (traversal, NUL, dotfile, bad escape, not absolute).
std::optional<std::string> safe_relative_path(std::string_view target);

class StaticFiles {
public:
  // Throws std::runtime_error naming the directory when it cannot be opened as a directory.
  explicit StaticFiles(const std::string &root, std::size_t max_file_size = 32u << 20);

  // nullopt: no such file here (let the caller answer 404 or try something else). Otherwise
  // 200 with the file (HEAD: headers only), 405 for other methods on an existing file.
  std::optional<HttpReply> serve(const std::string &method, std::string_view target) const;

  const std::string &root() const { return root_; }

private:
  UniqueFd open_beneath(const std::string &relative) const;
  std::string root_;
  UniqueFd root_fd_;
  std::size_t max_file_size_;
};

} // namespace nospace::ops
