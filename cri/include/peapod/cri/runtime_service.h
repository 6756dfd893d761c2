// CriRuntimeService: runtime.v1.RuntimeService over the Agent's sandbox and container managers.
// Each method translates the request, calls the manager verb of the same name and translates
// the answer; the verbs live in runtime_service_{sandbox,container,stats,events,misc}.cpp.
#pragma once

#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "cri/proto/api.grpc.pb.h"
#include "peapod/cri/cri_server.h"

namespace peapod::cri {

namespace v1 = ::runtime::v1;

namespace streaming {
class StreamingServer;
}

class CriRuntimeService final : public v1::RuntimeService::Service {
 public:
  CriRuntimeService(agent::Agent& agent, std::vector<std::string> runtime_handlers);
  // Where Exec, Attach and PortForward send their clients; null answers them UNAVAILABLE.
  void SetStreamingServer(streaming::StreamingServer* server) { streaming_ = server; }

  using Ctx = grpc::ServerContext;

  grpc::Status Version(Ctx*, const v1::VersionRequest*, v1::VersionResponse*) override;
  grpc::Status Status(Ctx*, const v1::StatusRequest*, v1::StatusResponse*) override;
  grpc::Status RuntimeConfig(Ctx*, const v1::RuntimeConfigRequest*,
                             v1::RuntimeConfigResponse*) override;
  grpc::Status UpdateRuntimeConfig(Ctx*, const v1::UpdateRuntimeConfigRequest*,
                                   v1::UpdateRuntimeConfigResponse*) override;

  // Sandboxes.
  grpc::Status RunPodSandbox(Ctx*, const v1::RunPodSandboxRequest*,
                             v1::RunPodSandboxResponse*) override;
  grpc::Status StopPodSandbox(Ctx*, const v1::StopPodSandboxRequest*,
                              v1::StopPodSandboxResponse*) override;
  grpc::Status RemovePodSandbox(Ctx*, const v1::RemovePodSandboxRequest*,
                                v1::RemovePodSandboxResponse*) override;
  grpc::Status PodSandboxStatus(Ctx*, const v1::PodSandboxStatusRequest*,
                                v1::PodSandboxStatusResponse*) override;
  grpc::Status ListPodSandbox(Ctx*, const v1::ListPodSandboxRequest*,
                              v1::ListPodSandboxResponse*) override;

  // Containers.
  grpc::Status CreateContainer(Ctx*, const v1::CreateContainerRequest*,
                               v1::CreateContainerResponse*) override;
  grpc::Status StartContainer(Ctx*, const v1::StartContainerRequest*,
                              v1::StartContainerResponse*) override;
  grpc::Status StopContainer(Ctx*, const v1::StopContainerRequest*,
                             v1::StopContainerResponse*) override;
  grpc::Status RemoveContainer(Ctx*, const v1::RemoveContainerRequest*,
                               v1::RemoveContainerResponse*) override;
  grpc::Status ListContainers(Ctx*, const v1::ListContainersRequest*,
                              v1::ListContainersResponse*) override;
  grpc::Status ContainerStatus(Ctx*, const v1::ContainerStatusRequest*,
                               v1::ContainerStatusResponse*) override;
  grpc::Status UpdateContainerResources(Ctx*, const v1::UpdateContainerResourcesRequest*,
                                        v1::UpdateContainerResourcesResponse*) override;
  // In-place pod resize (KEP-1287): the pod cgroup takes the new limits
  // (runtime_service_sandbox.cpp).
  grpc::Status UpdatePodSandboxResources(Ctx*, const v1::UpdatePodSandboxResourcesRequest*,
                                         v1::UpdatePodSandboxResourcesResponse*) override;

  grpc::Status ReopenContainerLog(Ctx*, const v1::ReopenContainerLogRequest*,
                                  v1::ReopenContainerLogResponse*) override;
  grpc::Status ExecSync(Ctx*, const v1::ExecSyncRequest*, v1::ExecSyncResponse*) override;
  // Streaming (runtime_service_streaming.cpp): validate, then answer with a streaming URL.
  grpc::Status Exec(Ctx*, const v1::ExecRequest*, v1::ExecResponse*) override;
  grpc::Status Attach(Ctx*, const v1::AttachRequest*, v1::AttachResponse*) override;
  grpc::Status PortForward(Ctx*, const v1::PortForwardRequest*, v1::PortForwardResponse*) override;
  // Not offered yet: each answers UNIMPLEMENTED with a sentence saying so.
  grpc::Status ContainerStats(Ctx*, const v1::ContainerStatsRequest*,
                              v1::ContainerStatsResponse*) override;
  grpc::Status ListContainerStats(Ctx*, const v1::ListContainerStatsRequest*,
                                  v1::ListContainerStatsResponse*) override;
  grpc::Status PodSandboxStats(Ctx*, const v1::PodSandboxStatsRequest*,
                               v1::PodSandboxStatsResponse*) override;
  grpc::Status ListPodSandboxStats(Ctx*, const v1::ListPodSandboxStatsRequest*,
                                   v1::ListPodSandboxStatsResponse*) override;
  grpc::Status CheckpointContainer(Ctx*, const v1::CheckpointContainerRequest*,
                                   v1::CheckpointContainerResponse*) override;
  grpc::Status GetContainerEvents(Ctx*, const v1::GetEventsRequest*,
                                  grpc::ServerWriter<v1::ContainerEventResponse>*) override;
  grpc::Status ListMetricDescriptors(Ctx*, const v1::ListMetricDescriptorsRequest*,
                                     v1::ListMetricDescriptorsResponse*) override;
  grpc::Status ListPodSandboxMetrics(Ctx*, const v1::ListPodSandboxMetricsRequest*,
                                     v1::ListPodSandboxMetricsResponse*) override;

  // The List* verbs streamed (KEP-5825, runtime_service_list_streams.cpp): same filters, same
  // items, in batches.
  grpc::Status StreamPodSandboxes(Ctx*, const v1::StreamPodSandboxesRequest*,
                                  grpc::ServerWriter<v1::StreamPodSandboxesResponse>*) override;
  grpc::Status StreamContainers(Ctx*, const v1::StreamContainersRequest*,
                                grpc::ServerWriter<v1::StreamContainersResponse>*) override;
  grpc::Status StreamContainerStats(Ctx*, const v1::StreamContainerStatsRequest*,
                                    grpc::ServerWriter<v1::StreamContainerStatsResponse>*) override;
  grpc::Status StreamPodSandboxStats(
      Ctx*, const v1::StreamPodSandboxStatsRequest*,
      grpc::ServerWriter<v1::StreamPodSandboxStatsResponse>*) override;
  grpc::Status StreamPodSandboxMetrics(
      Ctx*, const v1::StreamPodSandboxMetricsRequest*,
      grpc::ServerWriter<v1::StreamPodSandboxMetricsResponse>*) override;

 private:
  bool KnownRuntimeHandler(const std::string& name) const;

  agent::Agent& agent_;
  streaming::StreamingServer* streaming_ = nullptr;
  std::vector<std::string> runtime_handlers_;
  mutable std::mutex mu_;
  std::string pod_cidr_;  // from UpdateRuntimeConfig; kept for Status, CNI reads its own config
};

}  // namespace peapod::cri
