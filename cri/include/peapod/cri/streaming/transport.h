// ByteTransport: the byte pipe a streaming protocol runs over (a TCP socket, or the binary
// messages of a WebSocket when SPDY is tunnelled through one). One reader thread, writers
// serialised by the protocol above; Abort may come from any thread and unblocks the reader.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>

#include "peapod/error.h"
#include "peapod/unique_fd.h"

namespace peapod::cri::streaming {

class ByteTransport {
 public:
  virtual ~ByteTransport() = default;
  // Up to `size` bytes; 0 at end of stream.
  virtual Result<size_t> Read(char* buf, size_t size) = 0;
  // All of `data`, or an error.
  virtual Status Write(std::string_view data) = 0;
  // No more writes from us; the peer reads end of stream.
  virtual void CloseWrite() = 0;
  // Both directions, now: a blocked Read returns.
  virtual void Abort() = 0;
  // Reads that wait longer than `timeout` fail with kDeadlineExceeded; 0 waits forever.
  virtual void SetReadTimeout(std::chrono::milliseconds timeout) { (void)timeout; }

  // Exactly `size` bytes; kUnavailable on end of stream before that.
  Status ReadExact(char* buf, size_t size);
};

// A connected stream socket. `already_read` holds bytes read past an HTTP head, served first.
class SocketTransport final : public ByteTransport {
 public:
  explicit SocketTransport(UniqueFd fd, std::string already_read = {})
      : fd_(std::move(fd)), pending_(std::move(already_read)) {}
  Result<size_t> Read(char* buf, size_t size) override;
  Status Write(std::string_view data) override;
  void CloseWrite() override;
  void Abort() override;
  void SetReadTimeout(std::chrono::milliseconds timeout) override;
  int fd() const { return fd_.Get(); }

 private:
  UniqueFd fd_;
  std::string pending_;
  size_t pending_pos_ = 0;
};

}  // namespace peapod::cri::streaming
