// StreamingServer: the HTTP server behind CRI's Exec, Attach and PortForward, as kubelet's
// streaming server does it. The CRI calls validate a request and trade it for a URL holding a
// single-use random token that expires after a minute; the client then upgrades that URL to
// SPDY/3.1 (v4/v3/v2 channel.k8s.io, portforward.k8s.io) or WebSocket (v5/v4.channel.k8s.io,
// portforward.k8s.io, and SPDY tunnelled through WebSocket for port-forward). One thread per
// connection; a client that goes away mid-stream has its exec killed and every thread joined.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "peapod/error.h"
#include "peapod/unique_fd.h"

namespace peapod::cri::streaming {

struct ExecRequest {
  std::string container_id;
  std::vector<std::string> cmd;
  bool tty = false, stdin = false, stdout = false, stderr = false;
};

struct AttachRequest {
  std::string container_id;
  bool tty = false, stdin = false, stdout = false, stderr = false;
};

struct PortForwardRequest {
  std::string pod_sandbox_id;
  std::vector<int32_t> ports;  // informational; clients name the port per stream
};

// A process (exec) or a container's console (attach) that a client is connected to.
class StreamTarget {
 public:
  virtual ~StreamTarget() = default;
  // Where the client's stdin goes; -1 when none. With a terminal, its master.
  virtual int input_fd() const = 0;
  // Where stdout and stderr come from; -1 when none. With a terminal, output is its master and
  // there is no separate error output.
  virtual int output_fd() const = 0;
  virtual int error_fd() const = 0;
  // The client closed its stdin.
  virtual void CloseInput() = 0;
  virtual Status Resize(uint16_t width, uint16_t height) = 0;
  // Blocks until the target is done and returns its exit code (exec) or 0 (attach: the container
  // exited). Once `cancel_fd` turns readable (the client went away), stops it first: an exec is
  // killed, an attach detached.
  virtual Result<int> Wait(int cancel_fd) = 0;
};

// What the server needs from the node: the agent implements it.
class StreamingRuntime {
 public:
  virtual ~StreamingRuntime() = default;
  virtual Result<std::unique_ptr<StreamTarget>> StartExec(const ExecRequest& request) = 0;
  virtual Result<std::unique_ptr<StreamTarget>> Attach(const AttachRequest& request) = 0;
  // A TCP connection to `port` on the pod's loopback, made in the pod's network namespace.
  virtual Result<UniqueFd> DialPod(const std::string& pod_sandbox_id, uint16_t port) = 0;
};

struct StreamingServerOptions {
  std::string address = "127.0.0.1:0";  // host:port; port 0 picks a free one
  std::chrono::milliseconds token_ttl = std::chrono::minutes(1);
  std::chrono::milliseconds stream_creation_timeout = std::chrono::seconds(30);
  size_t max_pending_tokens = 1000;
};

class StreamingServer {
 public:
  static Result<std::unique_ptr<StreamingServer>> Start(StreamingServerOptions options,
                                                        StreamingRuntime* runtime);
  ~StreamingServer();
  StreamingServer(const StreamingServer&) = delete;
  StreamingServer& operator=(const StreamingServer&) = delete;

  // URLs for validated requests: http://<address>/{exec,attach,portforward}/<token>.
  Result<std::string> GetExec(const ExecRequest& request);
  Result<std::string> GetAttach(const AttachRequest& request);
  Result<std::string> GetPortForward(const PortForwardRequest& request);

  // "127.0.0.1:41234": the address it listens on, with the port it got.
  const std::string& address() const { return address_; }
  // Stops accepting, ends every connection, joins every thread. Idempotent.
  void Shutdown();

  struct Pending;  // a request waiting for its client, by token

 private:
  StreamingServer(StreamingServerOptions options, StreamingRuntime* runtime);
  Result<std::string> Insert(const std::string& kind, std::shared_ptr<Pending> pending);
  std::shared_ptr<Pending> Consume(const std::string& kind, const std::string& token);
  void AcceptLoop();
  void Serve(uint64_t id, int fd);
  void ReapFinished();

  StreamingServerOptions options_;
  StreamingRuntime* runtime_;
  std::string address_;
  UniqueFd listen_fd_;
  UniqueFd stop_fd_;  // eventfd: readable once Shutdown began
  std::thread acceptor_;

  std::mutex mu_;
  std::map<std::string, std::shared_ptr<Pending>> pending_;  // token -> request
  struct Connection {
    std::thread thread;
    int fd = -1;  // owned by the thread; shut down (not closed) by Shutdown
    bool done = false;
  };
  std::map<uint64_t, Connection> connections_;
  uint64_t next_connection_ = 0;
  bool stopping_ = false;
};

}  // namespace peapod::cri::streaming
