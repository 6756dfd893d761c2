// CriServer: serves the CRI v1 RuntimeService and ImageService of one Agent on a unix socket,
// and peapod's pod API (PodService) beside them when a pod controller is given.
// The socket's directory is made 0700 and the socket 0660; a stale socket file is replaced, a
// socket another server still answers on is refused. Shutdown leaves pods running.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "peapod/error.h"

namespace grpc {
class Server;
}

namespace peapod::agent {
class Agent;
}
namespace peapod::agent::controller {
class PodController;
}

namespace peapod::cri {

class CriRuntimeService;
class CriImageService;
namespace streaming {
class StreamingRuntime;
class StreamingServer;
}  // namespace streaming
class PodService;

struct CriServerOptions {
  std::string socket_path = "/run/peapod/peapod.sock";
  // RuntimeClass handlers accepted besides "" (the default handler).
  std::vector<std::string> runtime_handlers;
  // host:port of the HTTP streaming server behind Exec, Attach and PortForward; port 0 picks
  // a free one. "" serves no streaming.
  std::string stream_address = "127.0.0.1:0";
  // How long a streaming URL stays usable (kubelet: one minute).
  std::chrono::milliseconds stream_token_ttl = std::chrono::minutes(1);
  // When set, peapod's own pod API (peapod.v1.PodService, for the CLI) is served too.
  agent::controller::PodController* pods = nullptr;
};

class CriServer {
 public:
  static Result<std::unique_ptr<CriServer>> Start(agent::Agent& agent, CriServerOptions options);
  ~CriServer();
  CriServer(const CriServer&) = delete;
  CriServer& operator=(const CriServer&) = delete;

  // Stops accepting calls, lets running ones finish (cancelling them after a few seconds) and
  // removes the socket file. Idempotent.
  void Shutdown();
  const std::string& socket_path() const { return options_.socket_path; }
  // "127.0.0.1:41234", or "" without streaming.
  std::string stream_address() const;

 private:
  explicit CriServer(CriServerOptions options);

  CriServerOptions options_;
  std::unique_ptr<CriRuntimeService> runtime_service_;
  std::unique_ptr<CriImageService> image_service_;
  std::unique_ptr<streaming::StreamingRuntime> streaming_runtime_;
  std::unique_ptr<streaming::StreamingServer> streaming_server_;
  std::unique_ptr<PodService> pod_service_;
  std::unique_ptr<grpc::Server> server_;
};

}  // namespace peapod::cri
