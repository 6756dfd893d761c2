// A client of Kubernetes' streaming protocols, for URLs from CRI Exec, Attach and PortForward:
// SPDY/3.1 (v4.channel.k8s.io, portforward.k8s.io) or WebSocket (v5/v4.channel.k8s.io,
// v4.channel.k8s.io port-forward). Used by the tests, the benchmarks and `peapod exec -it`.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>

#include "peapod/error.h"

namespace peapod::cri::streaming {

struct TerminalSize {
  uint16_t width = 0, height = 0;
};

// Terminal sizes for a session's resize stream (e.g. from SIGWINCH). Thread-safe.
class TerminalSizeQueue {
 public:
  void Push(TerminalSize size);
  // Blocks for the next size; nullopt once `stop` is requested.
  std::optional<TerminalSize> Next(std::stop_token stop);

 private:
  std::mutex mu_;
  std::condition_variable_any cv_;
  std::deque<TerminalSize> sizes_;
};

enum class StreamProtocol {
  kSpdy,
  kWebSocket,
  // Port-forward only: SPDY frames inside WebSocket binary messages
  // ("SPDY/3.1+portforward.k8s.io", what kubectl's websocket port-forward speaks).
  kSpdyOverWebSocket,
};

struct RemoteCommandIo {
  // Each -1 when the request did not ask for it; they must match the CRI request's stdin,
  // stdout, stderr and tty. stdin is read until end of file, which closes the remote stdin.
  int stdin_fd = -1;
  int stdout_fd = -1;
  int stderr_fd = -1;
  bool tty = false;
  TerminalSizeQueue* resize = nullptr;  // with tty
  StreamProtocol protocol = StreamProtocol::kSpdy;
};

// Runs the command (or attach) behind `url` to its end and returns its exit code. A refused URL
// (unknown, reused or expired token) is kNotFound.
Result<int> RunRemoteCommand(const std::string& url, const RemoteCommandIo& io);

// Forwards one connection, `local_fd` (a socket), to `port` in the pod behind a PortForward
// `url`, both ways, until the pod's side ends it. Errors the server reports come back as errors.
Status ForwardPort(const std::string& url, uint16_t port, int local_fd,
                   StreamProtocol protocol = StreamProtocol::kSpdy);

}  // namespace peapod::cri::streaming
