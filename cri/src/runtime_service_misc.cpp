// RuntimeService verbs about the runtime itself (Version, Status, RuntimeConfig,
// UpdateRuntimeConfig) and the verbs peapod does not offer yet, which answer UNIMPLEMENTED
// with a sentence instead of gRPC's bare default. Stats and metrics are in
// runtime_service_stats.cpp, GetContainerEvents in runtime_service_events.cpp.
#include <spdlog/spdlog.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <nlohmann/json.hpp>

#include "peapod/agent/agent.h"
#include "peapod/cni/cni_client.h"
#include "peapod/cri/grpc_status.h"
#include "peapod/cri/runtime_service.h"

#ifndef PEAPOD_VERSION
#define PEAPOD_VERSION "0.0.0"
#endif

namespace peapod::cri {
namespace {

constexpr char kRuntimeName[] = "peapod";
constexpr char kCriVersion[] = "0.1.0";
constexpr char kRuntimeApiVersion[] = "v1";

// Recursive read-only binds are mount_setattr(AT_RECURSIVE) on the copied tree (Linux 5.12).
// Asked once: a kernel without the syscall answers ENOSYS, one with it EBADF for the bad fd.
bool KernelHasRecursiveReadOnly() {
  static const bool has = [] {
    errno = 0;
    long rc = ::syscall(SYS_mount_setattr, -1, "", 0, nullptr, 0);
    return !(rc < 0 && errno == ENOSYS);
  }();
  return has;
}

}  // namespace

CriRuntimeService::CriRuntimeService(agent::Agent& agent, std::vector<std::string> runtime_handlers)
    : agent_(agent), runtime_handlers_(std::move(runtime_handlers)) {}

bool CriRuntimeService::KnownRuntimeHandler(const std::string& name) const {
  return name.empty() || std::find(runtime_handlers_.begin(), runtime_handlers_.end(), name) !=
                             runtime_handlers_.end();
}

grpc::Status CriRuntimeService::Version(Ctx*, const v1::VersionRequest*,
                                        v1::VersionResponse* resp) {
  resp->set_version(kCriVersion);
  resp->set_runtime_name(kRuntimeName);
  resp->set_runtime_version(PEAPOD_VERSION);
  resp->set_runtime_api_version(kRuntimeApiVersion);
  return grpc::Status::OK;
}

grpc::Status CriRuntimeService::Status(Ctx*, const v1::StatusRequest* req,
                                       v1::StatusResponse* resp) {
  auto* runtime_ready = resp->mutable_status()->add_conditions();
  runtime_ready->set_type("RuntimeReady");
  runtime_ready->set_status(true);

  cni::NetworkStatus network = agent_.cni().GetNetworkStatus();
  auto* network_ready = resp->mutable_status()->add_conditions();
  network_ready->set_type("NetworkReady");
  network_ready->set_status(network.ready);
  if (!network.ready) {
    network_ready->set_reason(network.reason.empty() ? "NetworkPluginNotReady" : network.reason);
    network_ready->set_message(network.message);
  }

  // Every handler runs containers the same way, so they share the features. kubelet refuses
  // hostUsers: false pods when a handler does not say user_namespaces (as probed at start-up: a
  // user namespace and idmapped mounts on this node's file systems).
  bool userns = agent_.sandboxes().user_namespace_support().has_value();
  auto add_handler = [&](const std::string& name) {
    auto* handler = resp->add_runtime_handlers();
    handler->set_name(name);
    handler->mutable_features()->set_recursive_read_only_mounts(KernelHasRecursiveReadOnly());
    handler->mutable_features()->set_user_namespaces(userns);
  };
  add_handler("");
  for (const auto& name : runtime_handlers_) add_handler(name);
  // Strict supplemental groups and ContainerStatus.user (KEP-3619) are the agent's own doing.
  resp->mutable_features()->set_supplemental_groups_policy(true);

  if (req->verbose()) {
    const auto& config = agent_.config();
    nlohmann::json runtime = {
        {"stateRoot", config.state_root},       {"runRoot", config.run_root},
        {"pauseBinary", config.pause_binary},   {"cgroupDriver", "cgroupfs"},
        {"runtimeHandlers", runtime_handlers_},
    };
    {
      std::lock_guard lock(mu_);
      runtime["podCIDR"] = pod_cidr_;
    }
    nlohmann::json cni = {
        {"confDir", config.cni.conf_dir},
        {"pluginDirs", config.cni.plugin_dirs},
        {"networkName", network.network_name},
        {"configPath", network.config_path},
        {"ready", network.ready},
    };
    (*resp->mutable_info())["config"] = runtime.dump();
    (*resp->mutable_info())["cni"] = cni.dump();
  }
  return grpc::Status::OK;
}

grpc::Status CriRuntimeService::RuntimeConfig(Ctx*, const v1::RuntimeConfigRequest*,
                                              v1::RuntimeConfigResponse* resp) {
  // peapod writes cgroup files itself (runtime/cgroup*), it never asks systemd.
  resp->mutable_linux()->set_cgroup_driver(v1::CgroupDriver::CGROUPFS);
  return grpc::Status::OK;
}

grpc::Status CriRuntimeService::UpdateRuntimeConfig(Ctx*, const v1::UpdateRuntimeConfigRequest* req,
                                                    v1::UpdateRuntimeConfigResponse*) {
  // Like containerd with a static CNI config: the pod CIDR is recorded, IPAM keeps its own range.
  const std::string& cidr = req->runtime_config().network_config().pod_cidr();
  std::lock_guard lock(mu_);
  if (!cidr.empty() && cidr != pod_cidr_) {
    spdlog::info("UpdateRuntimeConfig: pod CIDR is now {}", cidr);
    pod_cidr_ = cidr;
  }
  return grpc::Status::OK;
}

grpc::Status CriRuntimeService::ReopenContainerLog(Ctx*, const v1::ReopenContainerLogRequest* req,
                                                   v1::ReopenContainerLogResponse*) {
  return ToGrpcStatus(agent_.containers().ReopenContainerLog(req->container_id()));
}

grpc::Status CriRuntimeService::ExecSync(Ctx*, const v1::ExecSyncRequest* req,
                                         v1::ExecSyncResponse* resp) {
  std::vector<std::string> cmd(req->cmd().begin(), req->cmd().end());
  auto result = agent_.containers().ExecSync(req->container_id(), cmd, req->timeout());
  if (!result) return ToGrpcStatus(result.error());
  // As containerd: a timed-out exec is killed and answered with DEADLINE_EXCEEDED, which
  // kubelet reports as a probe timeout.
  if (result->timed_out) {
    return grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED,
                        "timeout " + std::to_string(req->timeout()) + "s exceeded");
  }
  resp->set_stdout(std::move(result->stdout_data));
  resp->set_stderr(std::move(result->stderr_data));
  resp->set_exit_code(result->status.ShellCode());
  return grpc::Status::OK;
}

grpc::Status CriRuntimeService::CheckpointContainer(Ctx*, const v1::CheckpointContainerRequest*,
                                                    v1::CheckpointContainerResponse*) {
  return grpc::Status(grpc::StatusCode::UNIMPLEMENTED,
                      "CheckpointContainer is not supported by peapod");
}

}  // namespace peapod::cri
