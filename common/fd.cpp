#include "common/fd.hpp"

#include <fcntl.h>
#include <unistd.h>

namespace nospace {

bool make_pipe(Pipe &out, int flags) noexcept {
  int fds[2];
  if (::pipe2(fds, flags) != 0)
    return false;
  out.read.reset(fds[0]);
  out.write.reset(fds[1]);
  return true;
}

} // namespace nospace
