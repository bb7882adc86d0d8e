#pragma once
// Bytes with file descriptors (SCM_RIGHTS) over a Unix socket, without allocating: usable in
// the launch child, which shares the launcher's memory and may only make syscalls.

#include <cstddef>

namespace nospace {

// The most fds one call carries.
constexpr std::size_t kMaxPassedFds = 4;

// Sends `size` bytes with `count` fds (MSG_NOSIGNAL, retried on EINTR). Returns 0, EINVAL
// for more than kMaxPassedFds, EPIPE for a short send, or the errno of sendmsg.
int send_with_fds(int socket, const void *bytes, std::size_t size, const int *fds,
                  std::size_t count) noexcept;

// Receives up to `size` bytes and up to `max_fds` fds (close-on-exec) into `fds`, retried on
// EINTR; `flags` as for recvmsg (MSG_WAITALL, MSG_DONTWAIT). *received_fds is how many came
// (fds beyond `max_fds` are closed and make the call fail with EPROTO). Returns the byte count
// (0 at EOF) or -errno.
long receive_with_fds(int socket, void *bytes, std::size_t size, int *fds, std::size_t max_fds,
                      std::size_t *received_fds, int flags = 0) noexcept;

} // namespace nospace
