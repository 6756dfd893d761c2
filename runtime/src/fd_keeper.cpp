#include "peapod/runtime/fd_keeper.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>

namespace peapod::runtime {
namespace {

constexpr size_t kMaxName = 200;

bool IsSeqpacketSocket(int fd) {
  struct stat st {};
  int type = 0;
  socklen_t len = sizeof(type);
  return ::fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode) &&
         ::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 && type == SOCK_SEQPACKET;
}

}  // namespace

Result<std::shared_ptr<FdKeeper>> FdKeeper::Create() {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
    return FailErrno("make the pod's descriptor keeper");
  }
  return std::shared_ptr<FdKeeper>(new FdKeeper(UniqueFd(sv[0]), UniqueFd(sv[1])));
}

Result<std::shared_ptr<FdKeeper>> FdKeeper::Retake(int pause_pidfd) {
  UniqueFd send(static_cast<int>(::syscall(SYS_pidfd_getfd, pause_pidfd, kPauseSendFd, 0)));
  UniqueFd receive(static_cast<int>(::syscall(SYS_pidfd_getfd, pause_pidfd, kPauseReceiveFd, 0)));
  if (!send || !receive || !IsSeqpacketSocket(send.Get()) || !IsSeqpacketSocket(receive.Get())) {
    return Fail(ErrorCode::kNotFound, "pause holds no descriptor keeper");
  }
  return std::shared_ptr<FdKeeper>(new FdKeeper(std::move(send), std::move(receive)));
}

Status FdKeeper::SendLocked(const std::string& name, int fd) {
  iovec iov{const_cast<char*>(name.data()), name.size()};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(c), &fd, sizeof(int));
  ssize_t n;
  do {
    n = ::sendmsg(send_.Get(), &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  if (n != static_cast<ssize_t>(name.size())) return FailErrno("park " + name + " in pause");
  return Ok();
}

Result<std::vector<FdKeeper::Parked>> FdKeeper::DrainLocked() {
  std::vector<Parked> parked;
  for (;;) {
    char name[kMaxName + 1];
    iovec iov{name, sizeof(name)};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    ssize_t n = ::recvmsg(receive_.Get(), &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return parked;
    if (n <= 0) return FailErrno("read the descriptors parked in pause");
    UniqueFd fd;
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
          c->cmsg_len >= CMSG_LEN(sizeof(int))) {
        int received;
        std::memcpy(&received, CMSG_DATA(c), sizeof(int));
        fd.Reset(received);
      }
    }
    if (fd) parked.push_back({std::string(name, static_cast<size_t>(n)), std::move(fd)});
  }
}

Status FdKeeper::Park(const std::string& name, int fd) {
  if (name.empty() || name.size() > kMaxName) {
    return Fail(ErrorCode::kInvalidArgument, "parked descriptor name \"" + name + "\"");
  }
  std::lock_guard lock(mu_);
  auto parked = DrainLocked();
  if (!parked) return std::unexpected(std::move(parked.error()));
  // Put back everything else first: a failure below loses only the new one.
  Status result = Ok();
  for (auto& p : *parked) {
    if (p.name == name) continue;
    if (auto s = SendLocked(p.name, p.fd.Get()); !s && result) result = s;
  }
  if (auto s = SendLocked(name, fd); !s && result) result = s;
  return result;
}

Result<std::map<std::string, UniqueFd>> FdKeeper::Find(const std::string& prefix) {
  std::lock_guard lock(mu_);
  auto parked = DrainLocked();
  if (!parked) return std::unexpected(std::move(parked.error()));
  std::map<std::string, UniqueFd> found;
  Status result = Ok();
  for (auto& p : *parked) {
    if (auto s = SendLocked(p.name, p.fd.Get()); !s && result) result = s;
    if (p.name.starts_with(prefix)) found[p.name] = std::move(p.fd);
  }
  if (!result) return std::unexpected(std::move(result.error()));
  return found;
}

Status FdKeeper::Drop(const std::string& prefix) {
  std::lock_guard lock(mu_);
  auto parked = DrainLocked();
  if (!parked) return std::unexpected(std::move(parked.error()));
  Status result = Ok();
  for (auto& p : *parked) {
    if (p.name.starts_with(prefix)) continue;  // closed when `parked` goes
    if (auto s = SendLocked(p.name, p.fd.Get()); !s && result) result = s;
  }
  return result;
}

}  // namespace peapod::runtime
