// CriImageService: runtime.v1.ImageService over the Agent's image service (pull, list, status,
// remove, filesystem usage).
#pragma once

#include "cri/proto/api.grpc.pb.h"
#include "peapod/cri/cri_server.h"

namespace peapod::cri {

namespace v1 = ::runtime::v1;

class CriImageService final : public ::runtime::v1::ImageService::Service {
 public:
  explicit CriImageService(agent::Agent& agent) : agent_(agent) {}

  grpc::Status ListImages(grpc::ServerContext*, const ::runtime::v1::ListImagesRequest*,
                          ::runtime::v1::ListImagesResponse*) override;
  // ListImages' answer in batches (KEP-5825).
  grpc::Status StreamImages(grpc::ServerContext*, const ::runtime::v1::StreamImagesRequest*,
                            grpc::ServerWriter<::runtime::v1::StreamImagesResponse>*) override;
  grpc::Status ImageStatus(grpc::ServerContext*, const ::runtime::v1::ImageStatusRequest*,
                           ::runtime::v1::ImageStatusResponse*) override;
  grpc::Status PullImage(grpc::ServerContext*, const ::runtime::v1::PullImageRequest*,
                         ::runtime::v1::PullImageResponse*) override;
  grpc::Status RemoveImage(grpc::ServerContext*, const ::runtime::v1::RemoveImageRequest*,
                           ::runtime::v1::RemoveImageResponse*) override;
  grpc::Status ImageFsInfo(grpc::ServerContext*, const ::runtime::v1::ImageFsInfoRequest*,
                           ::runtime::v1::ImageFsInfoResponse*) override;

 private:
  agent::Agent& agent_;
};

}  // namespace peapod::cri
