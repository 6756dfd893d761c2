// Probes and hooks as kubelet runs them: exec inside the container, HTTP GET and TCP connect to
// the pod IP (127.0.0.1 for hostNetwork), gRPC health checks; and the per-container probe
// workers that apply initialDelay, period, timeout and the success/failure thresholds.
// Internal to the controller.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "peapod/agent/controller/manifest.h"

namespace peapod::agent {
class ContainerManager;
}

namespace peapod::agent::controller {

struct ProbeTarget {
  std::string container_id;
  std::string pod_ip;                // 127.0.0.1 is used when empty (hostNetwork)
  std::vector<ContainerPort> ports;  // for named ports
};

struct HandlerResult {
  bool success = false;
  std::string message;  // why it failed (kubelet's probe output)
};

// Runs one handler once. `timeout` bounds the whole attempt.
HandlerResult RunHandler(ContainerManager& containers, const Handler& handler,
                         const ProbeTarget& target, std::chrono::milliseconds timeout);

// One HTTP/1.1 GET; a status in [200, 400) is success.
HandlerResult HttpGet(const std::string& host, int port, const HttpGetAction& action,
                      std::chrono::milliseconds timeout);
HandlerResult TcpConnect(const std::string& host, int port, std::chrono::milliseconds timeout);
// grpc.health.v1.Health/Check over cleartext HTTP/2; SERVING is success.
HandlerResult GrpcHealthCheck(const std::string& host, int port, const std::string& service,
                              std::chrono::milliseconds timeout);

enum class ProbeKind { kStartup, kLiveness, kReadiness };
const char* ProbeKindName(ProbeKind kind);  // "Startup", "Liveness", "Readiness"

// A thread probing one container instance with one probe. Results: unknown until the thresholds
// decide. Liveness and readiness wait for `started` (the startup probe's success, or true).
// A failing startup or liveness probe stops probing once it has reported failure: the container
// is about to be killed and gets new workers when it starts again.
class ProbeWorker {
 public:
  enum Result { kUnknown = 0, kSuccess = 1, kFailure = 2 };
  // on_failure: each failed attempt (for the Unhealthy event); on_change: the result changed.
  ProbeWorker(ProbeKind kind, Probe probe, ProbeTarget target, ContainerManager& containers,
              std::shared_ptr<std::atomic<bool>> started,
              std::function<void(const std::string& message)> on_failure,
              std::function<void()> on_change);
  ~ProbeWorker();  // stops and joins
  ProbeWorker(const ProbeWorker&) = delete;
  ProbeWorker& operator=(const ProbeWorker&) = delete;

  Result result() const { return result_.load(); }
  ProbeKind kind() const { return kind_; }
  const Probe& probe() const { return probe_; }

 private:
  void Run();
  bool SleepFor(std::chrono::milliseconds d);  // false when stopped

  ProbeKind kind_;
  Probe probe_;
  ProbeTarget target_;
  ContainerManager& containers_;
  std::shared_ptr<std::atomic<bool>> started_;
  std::function<void(const std::string&)> on_failure_;
  std::function<void()> on_change_;
  std::atomic<Result> result_{kUnknown};
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace peapod::agent::controller
