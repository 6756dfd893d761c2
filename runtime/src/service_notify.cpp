#include "peapod/runtime/service_notify.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstdlib>
#include <cstring>

namespace peapod::runtime {

Status NotifySocket(const std::string& address, std::string_view state) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (address.size() < 2 || address.size() >= sizeof(addr.sun_path) ||
      (address[0] != '/' && address[0] != '@')) {
    return Fail(ErrorCode::kInvalidArgument,
                "NOTIFY_SOCKET \"" + address + "\": expected an absolute path or @abstract name");
  }
  std::memcpy(addr.sun_path, address.data(), address.size());
  // An abstract socket's name starts with a NUL byte and is not NUL-terminated.
  if (address[0] == '@') addr.sun_path[0] = '\0';
  socklen_t len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + address.size() +
                                         (address[0] == '@' ? 0 : 1));
  int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return FailErrno("socket for NOTIFY_SOCKET");
  ssize_t sent = ::sendto(fd, state.data(), state.size(), MSG_NOSIGNAL,
                          reinterpret_cast<const sockaddr*>(&addr), len);
  int saved = errno;
  ::close(fd);
  if (sent < 0) {
    errno = saved;
    return FailErrno("notify the service manager at " + address);
  }
  return Ok();
}

Status NotifyServiceManager(std::string_view state) {
  const char* address = std::getenv("NOTIFY_SOCKET");
  if (address == nullptr || *address == '\0') return Ok();
  return NotifySocket(address, state);
}

}  // namespace peapod::runtime
