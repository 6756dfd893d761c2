// PodService::PruneImages: `peapod image prune` — the image garbage collector's manual pass.
#include "peapod/agent/agent.h"
#include "peapod/cri/pod_service.h"

namespace peapod::cri {

grpc::Status PodService::PruneImages(Ctx*, const ::peapod::v1::PruneImagesRequest* req,
                                     ::peapod::v1::PruneImagesResponse* resp) {
  agent::ImageGcReport report = agent_.image_gc().Prune(req->all());
  for (const auto& removed : report.removed) {
    auto* image = resp->add_images();
    image->set_id(removed.id);
    for (const auto& tag : removed.repo_tags) image->add_repo_tags(tag);
    image->set_freed_bytes(removed.freed_bytes);
  }
  resp->set_freed_bytes(report.freed_bytes);
  for (const auto& error : report.errors) resp->add_errors(error);
  return grpc::Status::OK;
}

}  // namespace peapod::cri
