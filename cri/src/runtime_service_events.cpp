// GetContainerEvents: streams the agent's lifecycle events until the client cancels (or the
// server shuts down). A client too slow to keep up is cut off with RESOURCE_EXHAUSTED, so it
// relists instead of silently missing events.
#include <spdlog/spdlog.h>

#include "peapod/agent/agent.h"
#include "peapod/cri/convert_stats.h"
#include "peapod/cri/runtime_service.h"

namespace peapod::cri {
namespace {
// How often a quiet stream looks whether its client is still there.
constexpr std::chrono::milliseconds kCancelPoll{200};
}  // namespace

grpc::Status CriRuntimeService::GetContainerEvents(
    Ctx* ctx, const v1::GetEventsRequest*, grpc::ServerWriter<v1::ContainerEventResponse>* writer) {
  auto subscription = agent_.events().Subscribe();
  // Tells the client the stream is open: gRPC sends headers lazily otherwise, and a client
  // cannot know its subscription is in place before the first event.
  writer->SendInitialMetadata();
  agent::ContainerEvent event;
  while (!ctx->IsCancelled()) {
    switch (subscription->Next(&event, kCancelPoll)) {
      case agent::EventSubscription::Wait::kTimeout:
        continue;
      case agent::EventSubscription::Wait::kDropped:
        return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                            "GetContainerEvents: the client fell too far behind; events were "
                            "dropped, relist and subscribe again");
      case agent::EventSubscription::Wait::kEvent:
        break;
    }
    v1::ContainerEventResponse response;
    ToProto(event, &response);
    if (!writer->Write(response)) break;  // the client went away
  }
  return grpc::Status::OK;
}

}  // namespace peapod::cri
