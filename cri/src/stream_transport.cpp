// SocketTransport: a connected stream socket as a ByteTransport.
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "peapod/cri/streaming/transport.h"

namespace peapod::cri::streaming {

Status ByteTransport::ReadExact(char* buf, size_t size) {
  size_t done = 0;
  while (done < size) {
    auto n = Read(buf + done, size - done);
    if (!n) return std::unexpected(std::move(n.error()));
    if (*n == 0) return Fail(ErrorCode::kUnavailable, "peer closed the connection");
    done += *n;
  }
  return Ok();
}

Result<size_t> SocketTransport::Read(char* buf, size_t size) {
  if (pending_pos_ < pending_.size()) {
    size_t n = std::min(size, pending_.size() - pending_pos_);
    std::memcpy(buf, pending_.data() + pending_pos_, n);
    pending_pos_ += n;
    if (pending_pos_ == pending_.size()) std::string().swap(pending_);
    if (pending_.empty()) pending_pos_ = 0;
    return n;
  }
  for (;;) {
    ssize_t n = ::recv(fd_.Get(), buf, size, 0);
    if (n >= 0) return static_cast<size_t>(n);
    if (errno == EINTR) continue;
    // A reset peer is an ended stream for the protocols above.
    if (errno == ECONNRESET) return size_t{0};
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      return Fail(ErrorCode::kDeadlineExceeded, "streaming connection: read timed out");
    }
    return FailErrno("read from streaming connection");
  }
}

Status SocketTransport::Write(std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(fd_.Get(), data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return FailErrno("write to streaming connection");
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return Ok();
}

void SocketTransport::CloseWrite() { ::shutdown(fd_.Get(), SHUT_WR); }

void SocketTransport::SetReadTimeout(std::chrono::milliseconds timeout) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
  ::setsockopt(fd_.Get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
}

void SocketTransport::Abort() { ::shutdown(fd_.Get(), SHUT_RDWR); }

}  // namespace peapod::cri::streaming
