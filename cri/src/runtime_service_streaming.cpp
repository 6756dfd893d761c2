// RuntimeService streaming verbs: Exec, Attach and PortForward. Each checks the request as
// kubelet's streaming server does and that its target exists and runs, then answers with a
// single-use URL of the streaming server, where the client continues.
#include "peapod/agent/agent.h"
#include "peapod/cri/grpc_status.h"
#include "peapod/cri/runtime_service.h"
#include "peapod/cri/streaming/server.h"

namespace peapod::cri {
namespace {

grpc::Status Invalid(const std::string& message) {
  return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, message);
}

grpc::Status CheckStreams(bool tty, bool in, bool out, bool err) {
  if (tty && err) return Invalid("tty and stderr cannot both be true");
  if (!in && !out && !err) return Invalid("one of stdin, stdout, or stderr must be set");
  return grpc::Status::OK;
}

grpc::Status UrlOrError(const Result<std::string>& url, std::string* out) {
  if (!url) return ToGrpcStatus(url.error());
  *out = *url;
  return grpc::Status::OK;
}

}  // namespace

// NOT_FOUND for an unknown container, FAILED_PRECONDITION unless it runs.
static grpc::Status CheckRunning(agent::Agent& agent, const std::string& id, const char* verb,
                                 std::string* resolved) {
  if (id.empty()) return Invalid(std::string(verb) + ": container_id is required");
  auto status = agent.containers().ContainerStatus(id);
  if (!status) return ToGrpcStatus(status.error());
  if (status->status.state != agent::ContainerState::kRunning) {
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                        std::string(verb) + ": container " + id + " is not running");
  }
  *resolved = status->status.id;  // the full id, also when the caller gave a prefix
  return grpc::Status::OK;
}

grpc::Status CriRuntimeService::Exec(Ctx*, const v1::ExecRequest* req, v1::ExecResponse* resp) {
  if (streaming_ == nullptr) {
    return grpc::Status(grpc::StatusCode::UNAVAILABLE, "exec: this peapodd serves no streaming");
  }
  if (req->cmd().empty() || req->cmd(0).empty()) return Invalid("exec: cmd is required");
  if (auto s = CheckStreams(req->tty(), req->stdin(), req->stdout(), req->stderr()); !s.ok()) {
    return s;
  }
  streaming::ExecRequest request;
  if (auto s = CheckRunning(agent_, req->container_id(), "exec", &request.container_id); !s.ok()) {
    return s;
  }
  request.cmd.assign(req->cmd().begin(), req->cmd().end());
  request.tty = req->tty();
  request.stdin = req->stdin();
  request.stdout = req->stdout();
  request.stderr = req->stderr();
  return UrlOrError(streaming_->GetExec(request), resp->mutable_url());
}

grpc::Status CriRuntimeService::Attach(Ctx*, const v1::AttachRequest* req,
                                       v1::AttachResponse* resp) {
  if (streaming_ == nullptr) {
    return grpc::Status(grpc::StatusCode::UNAVAILABLE, "attach: this peapodd serves no streaming");
  }
  if (auto s = CheckStreams(req->tty(), req->stdin(), req->stdout(), req->stderr()); !s.ok()) {
    return s;
  }
  streaming::AttachRequest request;
  if (auto s = CheckRunning(agent_, req->container_id(), "attach", &request.container_id);
      !s.ok()) {
    return s;
  }
  if (auto s = agent_.containers().CheckAttach(request.container_id, req->stdin()); !s) {
    return ToGrpcStatus(s.error());
  }
  request.tty = req->tty();
  request.stdin = req->stdin();
  request.stdout = req->stdout();
  request.stderr = req->stderr();
  return UrlOrError(streaming_->GetAttach(request), resp->mutable_url());
}

grpc::Status CriRuntimeService::PortForward(Ctx*, const v1::PortForwardRequest* req,
                                            v1::PortForwardResponse* resp) {
  if (streaming_ == nullptr) {
    return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                        "port-forward: this peapodd serves no streaming");
  }
  if (req->pod_sandbox_id().empty()) return Invalid("port-forward: pod_sandbox_id is required");
  for (int32_t port : req->port()) {
    if (port <= 0 || port > 65535) {
      return Invalid("port-forward: invalid port " + std::to_string(port));
    }
  }
  auto status = agent_.sandboxes().PodSandboxStatus(req->pod_sandbox_id());
  if (!status) return ToGrpcStatus(status.error());
  if (status->status.state != agent::PodSandboxState::kReady) {
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                        "port-forward: pod sandbox " + req->pod_sandbox_id() + " is not ready");
  }
  streaming::PortForwardRequest request;
  request.pod_sandbox_id = status->status.id;
  request.ports.assign(req->port().begin(), req->port().end());
  return UrlOrError(streaming_->GetPortForward(request), resp->mutable_url());
}

}  // namespace peapod::cri
