// PodService: peapod's own pod API (peapod.v1, cri/proto/pod_api.proto) over the pod controller
// and the agent's image service. It is what the `peapod` CLI talks to; CriServer serves it on
// the CRI socket. Verbs live in pod_service.cpp (pods, exec, info), pod_service_logs.cpp and
// pod_service_images.cpp.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "cri/proto/pod_api.grpc.pb.h"

namespace peapod::agent {
class Agent;
}
namespace peapod::agent::controller {
class PodController;
struct PodView;
}  // namespace peapod::agent::controller

namespace peapod::cri {

class PodService final : public ::peapod::v1::PodService::Service {
 public:
  PodService(agent::Agent& agent, agent::controller::PodController& pods, std::string socket_path)
      : agent_(agent), pods_(pods), socket_path_(std::move(socket_path)) {}

  using Ctx = grpc::ServerContext;

  grpc::Status Apply(Ctx*, const ::peapod::v1::ApplyRequest*,
                     ::peapod::v1::ApplyResponse*) override;
  grpc::Status Delete(Ctx*, const ::peapod::v1::DeleteRequest*,
                      ::peapod::v1::DeleteResponse*) override;
  grpc::Status ListPods(Ctx*, const ::peapod::v1::ListPodsRequest*,
                        ::peapod::v1::ListPodsResponse*) override;
  grpc::Status GetPod(Ctx*, const ::peapod::v1::GetPodRequest*,
                      ::peapod::v1::GetPodResponse*) override;
  grpc::Status Logs(Ctx*, const ::peapod::v1::LogsRequest*,
                    grpc::ServerWriter<::peapod::v1::LogChunk>*) override;
  grpc::Status Exec(Ctx*, const ::peapod::v1::ExecRequest*, ::peapod::v1::ExecResponse*) override;
  grpc::Status PullImage(Ctx*, const ::peapod::v1::PullImageRequest*,
                         grpc::ServerWriter<::peapod::v1::PullImageProgress>*) override;
  grpc::Status LoadImage(Ctx*, grpc::ServerReader<::peapod::v1::LoadImageChunk>*,
                         ::peapod::v1::LoadImageResponse*) override;
  grpc::Status Info(Ctx*, const ::peapod::v1::InfoRequest*, ::peapod::v1::InfoResponse*) override;
  // pod_service_workloads.cpp
  grpc::Status ListWorkloads(Ctx*, const ::peapod::v1::ListWorkloadsRequest*,
                             ::peapod::v1::ListWorkloadsResponse*) override;
  grpc::Status GetWorkload(Ctx*, const ::peapod::v1::GetWorkloadRequest*,
                           ::peapod::v1::GetWorkloadResponse*) override;
  grpc::Status Scale(Ctx*, const ::peapod::v1::ScaleRequest*,
                     ::peapod::v1::ScaleResponse*) override;
  grpc::Status RolloutUndo(Ctx*, const ::peapod::v1::RolloutUndoRequest*,
                           ::peapod::v1::RolloutUndoResponse*) override;
  grpc::Status PruneImages(Ctx*, const ::peapod::v1::PruneImagesRequest*,
                           ::peapod::v1::PruneImagesResponse*) override;

 private:
  // The container a request names, or the pod's default one as kubectl picks it (the
  // kubectl.kubernetes.io/default-container annotation, else the first app container).
  grpc::Status ResolveContainer(const std::string& namespace_, const std::string& pod,
                                std::string& container);

  agent::Agent& agent_;
  agent::controller::PodController& pods_;
  std::string socket_path_;
};

// One line of a CRI log file ("<RFC3339Nano> <stdout|stderr> <P|F> <content>"), split.
struct CriLogLine {
  std::string timestamp;
  std::string stream;
  bool partial = false;
  std::string content;  // without the line's newline
};
std::optional<CriLogLine> ParseCriLogLine(std::string_view line);

// What `kubectl logs` prints for one CRI log line: the content, a newline unless the line is a
// partial one, and with `timestamps` the line's timestamp and a space in front.
std::string FormatCriLogLine(const CriLogLine& line, bool timestamps);

// The byte offset in `text` (whole lines of a CRI log) where its last `lines` lines start;
// 0 when it has fewer, or `lines` is negative (all).
size_t TailOffset(std::string_view text, int64_t lines);

}  // namespace peapod::cri
