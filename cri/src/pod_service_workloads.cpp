// PodService verbs about workloads: ListWorkloads, GetWorkload, Scale, RolloutUndo (Delete of a
// workload by name is in pod_service.cpp, beside the pods').
#include <chrono>

#include "peapod/agent/controller/pod_controller.h"
#include "peapod/cri/grpc_status.h"
#include "peapod/cri/pod_service.h"

namespace peapod::cri {
namespace {

namespace pv1 = ::peapod::v1;
namespace ctl = agent::controller;

int64_t NowNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void ToProto(const ctl::WorkloadView& view, pv1::Workload* out) {
  out->set_kind(view.kind);
  out->set_namespace_(view.namespace_);
  out->set_name(view.name);
  out->set_json(view.object.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  for (const auto& pod : view.pods) out->add_pods(pod);
}

// "Deployment", "Job", "StatefulSet"; a DaemonSet is kept as a Deployment.
grpc::Status CheckKind(std::string& kind, bool allow_empty) {
  if (kind == "DaemonSet") kind = "Deployment";
  if ((allow_empty && kind.empty()) || kind == "Job" || kind == "Deployment" ||
      kind == "StatefulSet") {
    return grpc::Status::OK;
  }
  return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                      "the server doesn't have a resource type \"" + kind + "\"");
}

std::string NamespaceOr(const std::string& ns) { return ns.empty() ? "default" : ns; }

}  // namespace

grpc::Status PodService::ListWorkloads(Ctx*, const pv1::ListWorkloadsRequest* req,
                                       pv1::ListWorkloadsResponse* resp) {
  std::string kind = req->kind();
  if (auto s = CheckKind(kind, true); !s.ok()) return s;
  for (const auto& view : pods_.ListWorkloads(kind, req->namespace_())) {
    ToProto(view, resp->add_workloads());
  }
  resp->set_now(NowNanos());
  return grpc::Status::OK;
}

grpc::Status PodService::GetWorkload(Ctx*, const pv1::GetWorkloadRequest* req,
                                     pv1::GetWorkloadResponse* resp) {
  std::string kind = req->kind();
  if (auto s = CheckKind(kind, false); !s.ok()) return s;
  auto view = pods_.GetWorkload(kind, NamespaceOr(req->namespace_()), req->name());
  if (!view) return ToGrpcStatus(view.error());
  ToProto(*view, resp->mutable_workload());
  for (const auto& event : view->events) {
    auto* e = resp->add_events();
    e->set_type(event.type);
    e->set_reason(event.reason);
    e->set_object(event.object);
    e->set_message(event.message);
    e->set_count(event.count);
    e->set_first_seen(event.first_seen);
    e->set_last_seen(event.last_seen);
    e->set_source(kind == "Job"          ? "job-controller"
                  : kind == "Deployment" ? "deployment-controller"
                                         : "statefulset-controller");
  }
  resp->set_now(NowNanos());
  return grpc::Status::OK;
}

grpc::Status PodService::Scale(Ctx*, const pv1::ScaleRequest* req, pv1::ScaleResponse*) {
  std::string kind = req->kind();
  if (auto s = CheckKind(kind, false); !s.ok()) return s;
  auto scaled =
      pods_.ScaleWorkload(kind, NamespaceOr(req->namespace_()), req->name(), req->replicas());
  if (!scaled) return ToGrpcStatus(scaled.error());
  return grpc::Status::OK;
}

grpc::Status PodService::RolloutUndo(Ctx*, const pv1::RolloutUndoRequest* req,
                                     pv1::RolloutUndoResponse* resp) {
  auto revision =
      pods_.RolloutUndo(NamespaceOr(req->namespace_()), req->name(), req->to_revision());
  if (!revision) return ToGrpcStatus(revision.error());
  resp->set_revision(*revision);
  return grpc::Status::OK;
}

}  // namespace peapod::cri
