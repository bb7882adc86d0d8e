// Bytes with fds over a Unix socket, as the launch child and the launcher exchange them.
#include "common/fd.hpp"
#include "common/fd_passing.hpp"

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

using namespace nospace;

namespace {

struct Pair {
  UniqueFd a, b;
  Pair() {
    int sv[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    a.reset(sv[0]);
    b.reset(sv[1]);
  }
};

ino_t inode_of(int fd) {
  struct stat st {};
  REQUIRE(::fstat(fd, &st) == 0);
  return st.st_ino;
}

} // namespace

TEST_CASE("fds arrive with their bytes, close-on-exec, as the same open files") {
  Pair p;
  int pipe_fds[2];
  REQUIRE(::pipe(pipe_fds) == 0);
  UniqueFd r(pipe_fds[0]), w(pipe_fds[1]);
  const int sent[2] = {r.get(), w.get()};
  REQUIRE(send_with_fds(p.a.get(), "xy", 2, sent, 2) == 0);
  char bytes[2] = {};
  int fds[kMaxPassedFds] = {-1, -1, -1, -1};
  std::size_t count = 0;
  CHECK(receive_with_fds(p.b.get(), bytes, 2, fds, kMaxPassedFds, &count, MSG_WAITALL) == 2);
  REQUIRE(count == 2);
  UniqueFd got_r(fds[0]), got_w(fds[1]);
  CHECK(std::string(bytes, 2) == "xy");
  CHECK(inode_of(got_r.get()) == inode_of(r.get()));
  CHECK((::fcntl(got_w.get(), F_GETFD) & FD_CLOEXEC) != 0);
}

TEST_CASE("more fds than the receiver takes fail the message and leak nothing") {
  Pair p;
  const int sent[3] = {0, 1, 2};
  REQUIRE(send_with_fds(p.a.get(), "z", 1, sent, 3) == 0);
  char byte = 0;
  int fds[2] = {-1, -1};
  std::size_t count = 7;
  CHECK(receive_with_fds(p.b.get(), &byte, 1, fds, 2, &count) == -EPROTO);
  CHECK(count == 0);
  CHECK(send_with_fds(p.a.get(), "z", 1, sent, kMaxPassedFds + 1) == EINVAL);
}

TEST_CASE("a closed peer reads as 0 bytes, and sending to it is EPIPE without SIGPIPE") {
  Pair p;
  p.a.reset();
  char byte = 0;
  int fd = -1;
  std::size_t count = 0;
  CHECK(receive_with_fds(p.b.get(), &byte, 1, &fd, 1, &count) == 0);
  CHECK(send_with_fds(p.b.get(), "z", 1, nullptr, 0) == EPIPE);
}
