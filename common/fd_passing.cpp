#include "common/fd_passing.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace nospace {

int send_with_fds(int socket, const void *bytes, std::size_t size, const int *fds,
                  std::size_t count) noexcept {
  if (count > kMaxPassedFds)
    return EINVAL;
  iovec iov{const_cast<void *>(bytes), size};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxPassedFds)] = {};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  if (count > 0) {
    msg.msg_control = control;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * count);
    cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(sizeof(int) * count);
    std::memcpy(CMSG_DATA(cmsg), fds, sizeof(int) * count);
  }
  ssize_t n;
  do
    n = ::sendmsg(socket, &msg, MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  if (n < 0)
    return errno;
  return std::size_t(n) == size ? 0 : EPIPE;
}

long receive_with_fds(int socket, void *bytes, std::size_t size, int *fds, std::size_t max_fds,
                      std::size_t *received_fds, int flags) noexcept {
  *received_fds = 0;
  iovec iov{bytes, size};
  // Room for more than kMaxPassedFds, so extra ones arrive (and are closed) instead of being
  // dropped silently with MSG_CTRUNC.
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxPassedFds * 2)];
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t n;
  do
    n = ::recvmsg(socket, &msg, flags | MSG_CMSG_CLOEXEC);
  while (n < 0 && errno == EINTR);
  if (n < 0)
    return -errno;
  bool extra = (msg.msg_flags & MSG_CTRUNC) != 0;
  for (cmsghdr *cmsg = CMSG_FIRSTHDR(&msg); cmsg != nullptr; cmsg = CMSG_NXTHDR(&msg, cmsg)) {
    if (cmsg->cmsg_level != SOL_SOCKET || cmsg->cmsg_type != SCM_RIGHTS)
      continue;
    const std::size_t count = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (std::size_t i = 0; i < count; ++i) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(cmsg) + i * sizeof(int), sizeof fd);
      if (*received_fds < max_fds)
        fds[(*received_fds)++] = fd;
      else {
        ::close(fd);
        extra = true;
      }
    }
  }
  if (extra) {
    for (std::size_t i = 0; i < *received_fds; ++i)
      ::close(fds[i]);
    *received_fds = 0;
    return -EPROTO;
  }
  return long(n);
}

} // namespace nospace
