// PodService verbs about pods: Apply, Delete, ListPods, GetPod, Exec, Info.
#include "peapod/cri/pod_service.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <nlohmann/json.hpp>

#include "peapod/agent/agent.h"
#include "peapod/agent/controller/pod_controller.h"
#include "peapod/cni/cni_client.h"
#include "peapod/cri/grpc_status.h"
#include "peapod/cri/pod_json.h"
#include "peapod/image/image_service.h"

#ifndef PEAPOD_VERSION
#define PEAPOD_VERSION "0.0.0"
#endif

namespace peapod::cri {
namespace {

namespace pv1 = ::peapod::v1;
namespace ctl = agent::controller;

int64_t NowNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::vector<ctl::ManifestSource> Sources(
    const google::protobuf::RepeatedPtrField<pv1::ManifestFile>& files) {
  std::vector<ctl::ManifestSource> out;
  out.reserve(files.size());
  for (const auto& f : files) out.push_back({f.name(), f.text()});
  return out;
}

void ToProto(const ctl::PodView& view, int64_t now, pv1::Pod* out) {
  out->set_namespace_(view.namespace_);
  out->set_name(view.name);
  out->set_json(PodViewToJson(view, now).dump());
}

grpc::Status NeedsPod(const std::string& name) {
  if (!name.empty()) return grpc::Status::OK;
  return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "a pod name is required");
}

std::string NamespaceOr(const std::string& ns) { return ns.empty() ? "default" : ns; }

}  // namespace

grpc::Status PodService::Apply(Ctx*, const pv1::ApplyRequest* req, pv1::ApplyResponse* resp) {
  if (req->files().empty()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "apply: no manifest given");
  }
  auto result = pods_.Apply(
      Sources(req->files()),
      ctl::ParseOptions{.strict = req->strict(), .ignore_unsupported = req->ignore_unsupported()});
  if (!result) return ToGrpcStatus(result.error());
  for (const auto& object : result->objects) {
    auto* o = resp->add_objects();
    o->set_kind(object.kind);
    o->set_namespace_(object.namespace_);
    o->set_name(object.name);
    o->set_action(object.action);
    spdlog::info("apply: {} {}/{} {}", object.kind, object.namespace_, object.name, object.action);
  }
  for (const auto& warning : result->warnings) resp->add_warnings(warning);
  return grpc::Status::OK;
}

grpc::Status PodService::Delete(Ctx*, const pv1::DeleteRequest* req, pv1::DeleteResponse* resp) {
  if (!req->files().empty()) {
    auto deleted = pods_.DeleteManifests(Sources(req->files()), req->wait());
    if (!deleted) return ToGrpcStatus(deleted.error());
    for (const auto& object : *deleted) {
      auto* o = resp->add_objects();
      o->set_kind(object.kind);
      o->set_namespace_(object.namespace_);
      o->set_name(object.name);
      o->set_action(object.found ? "deleted" : "not found");
    }
    return grpc::Status::OK;
  }
  if (auto s = NeedsPod(req->name()); !s.ok()) return s;
  const std::string ns = NamespaceOr(req->namespace_());
  const std::string kind = req->kind().empty() ? "Pod" : req->kind();
  auto deleted = kind == "Pod" ? pods_.DeletePod(ns, req->name(), req->wait())
                               : pods_.DeleteWorkload(kind, ns, req->name(), req->wait());
  if (!deleted) return ToGrpcStatus(deleted.error());
  auto* o = resp->add_objects();
  o->set_kind(kind);
  o->set_namespace_(ns);
  o->set_name(req->name());
  o->set_action("deleted");
  return grpc::Status::OK;
}

grpc::Status PodService::ListPods(Ctx*, const pv1::ListPodsRequest* req,
                                  pv1::ListPodsResponse* resp) {
  int64_t now = NowNanos();
  for (const auto& view : pods_.ListPods(req->namespace_())) ToProto(view, now, resp->add_pods());
  resp->set_now(now);
  return grpc::Status::OK;
}

grpc::Status PodService::GetPod(Ctx*, const pv1::GetPodRequest* req, pv1::GetPodResponse* resp) {
  if (auto s = NeedsPod(req->name()); !s.ok()) return s;
  auto view = pods_.GetPod(NamespaceOr(req->namespace_()), req->name());
  if (!view) return ToGrpcStatus(view.error());
  int64_t now = NowNanos();
  ToProto(*view, now, resp->mutable_pod());
  for (const auto& event : view->events) {
    auto* e = resp->add_events();
    e->set_type(event.type);
    e->set_reason(event.reason);
    e->set_object(event.object);
    e->set_message(event.message);
    e->set_count(event.count);
    e->set_first_seen(event.first_seen);
    e->set_last_seen(event.last_seen);
    e->set_source("peapodd");
  }
  resp->set_now(now);
  return grpc::Status::OK;
}

grpc::Status PodService::ResolveContainer(const std::string& namespace_, const std::string& pod,
                                          std::string& container) {
  if (!container.empty()) return grpc::Status::OK;
  auto view = pods_.GetPod(namespace_, pod);
  if (!view) return ToGrpcStatus(view.error());
  const auto& annotations = view->spec.metadata.annotations;
  if (auto it = annotations.find("kubectl.kubernetes.io/default-container");
      it != annotations.end()) {
    container = it->second;
    return grpc::Status::OK;
  }
  if (view->spec.spec.containers.empty()) {
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                        "pod " + namespace_ + "/" + pod + " has no containers");
  }
  container = view->spec.spec.containers.front().name;
  return grpc::Status::OK;
}

grpc::Status PodService::Exec(Ctx*, const pv1::ExecRequest* req, pv1::ExecResponse* resp) {
  if (auto s = NeedsPod(req->pod()); !s.ok()) return s;
  if (req->command().empty()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "exec: no command given");
  }
  const std::string ns = NamespaceOr(req->namespace_());
  std::string container = req->container();
  if (auto s = ResolveContainer(ns, req->pod(), container); !s.ok()) return s;
  auto id = pods_.ContainerId(ns, req->pod(), container);
  if (!id) return ToGrpcStatus(id.error());
  std::vector<std::string> cmd(req->command().begin(), req->command().end());
  auto result = agent_.containers().ExecSync(*id, cmd, req->timeout_seconds());
  if (!result) {
    return ToGrpcStatus(
        std::move(result.error())
            .Context("exec in container " + container + " of pod " + ns + "/" + req->pod()));
  }
  if (result->timed_out) {
    return grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED,
                        "exec: timeout " + std::to_string(req->timeout_seconds()) + "s exceeded");
  }
  resp->set_stdout(std::move(result->stdout_data));
  resp->set_stderr(std::move(result->stderr_data));
  resp->set_exit_code(result->status.ShellCode());
  resp->set_container(container);
  return grpc::Status::OK;
}

grpc::Status PodService::Info(Ctx*, const pv1::InfoRequest*, pv1::InfoResponse* resp) {
  const auto& config = agent_.config();
  auto network = agent_.cni().GetNetworkStatus();
  resp->set_version(PEAPOD_VERSION);
  resp->set_state_root(config.state_root);
  resp->set_run_root(config.run_root);
  resp->set_socket(socket_path_);
  resp->set_cni_network(network.network_name);
  resp->set_cni_config(network.config_path);
  resp->set_network_ready(network.ready);
  resp->set_pods(static_cast<int32_t>(pods_.ListPods().size()));
  resp->set_images(static_cast<int32_t>(agent_.images().List().size()));
  nlohmann::json extra = {{"cgroupParent", config.cgroup_parent},
                          {"pauseBinary", config.pause_binary},
                          {"cniConfDir", config.cni.conf_dir},
                          {"cniPluginDirs", config.cni.plugin_dirs}};
  resp->set_config_json(extra.dump());
  return grpc::Status::OK;
}

}  // namespace peapod::cri
