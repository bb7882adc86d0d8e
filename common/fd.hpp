#pragma once
// A move-only owner of one file descriptor: every hand-off is an explicit move or release().

#include <unistd.h>

#include <utility>

namespace nospace {

class UniqueFd {
public:
  UniqueFd() noexcept = default;
  explicit UniqueFd(int fd) noexcept : fd_(fd) {}
  UniqueFd(const UniqueFd &) = delete;
  UniqueFd &operator=(const UniqueFd &) = delete;
  UniqueFd(UniqueFd &&other) noexcept : fd_(other.release()) {}
  UniqueFd &operator=(UniqueFd &&other) noexcept {
    if (this != &other)
      reset(other.release());
    return *this;
  }
  ~UniqueFd() { reset(); }

  int get() const noexcept { return fd_; }
  bool valid() const noexcept { return fd_ >= 0; }
  explicit operator bool() const noexcept { return valid(); }

  int release() noexcept { return std::exchange(fd_, -1); }
  void reset(int fd = -1) noexcept {
    if (fd_ >= 0)
      ::close(fd_);
    fd_ = fd;
  }

private:
  int fd_ = -1;
};

// A pipe whose both ends are owned; flags as for pipe2 (O_CLOEXEC, O_NONBLOCK).
struct Pipe {
  UniqueFd read;
  UniqueFd write;
};

// Returns false and leaves errno set when the pipe cannot be created.
bool make_pipe(Pipe &out, int flags) noexcept;

} // namespace nospace
