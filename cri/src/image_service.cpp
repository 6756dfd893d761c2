// ImageService verbs: ListImages, ImageStatus, PullImage, RemoveImage, ImageFsInfo.
#include "peapod/cri/image_service.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <nlohmann/json.hpp>

#include "peapod/agent/agent.h"
#include "peapod/cri/convert_image.h"
#include "peapod/cri/grpc_status.h"
#include "peapod/cri/list_stream.h"
#include "peapod/image/image_service.h"

namespace peapod::cri {
namespace {

// The image's default user, for Image.uid / Image.username; none when the config is unreadable.
std::optional<std::string> DefaultUser(const image::ImageService& images, const std::string& id) {
  auto resolved = images.Resolve(id);
  if (!resolved) return std::nullopt;
  return resolved->config.defaults.user;
}

}  // namespace

grpc::Status CriImageService::ListImages(grpc::ServerContext*, const v1::ListImagesRequest* req,
                                         v1::ListImagesResponse* resp) {
  auto& images = agent_.images();
  const std::string& wanted = req->filter().image().image();
  if (!wanted.empty()) {
    auto record = images.ImageStatus(wanted);
    if (!record) {
      if (record.error().code == ErrorCode::kNotFound) return grpc::Status::OK;
      return ToGrpcStatus(record.error());
    }
    ToProto(*record, DefaultUser(images, record->id), resp->add_images());
    return grpc::Status::OK;
  }
  for (const auto& record : images.List()) {
    ToProto(record, DefaultUser(images, record.id), resp->add_images());
  }
  return grpc::Status::OK;
}

grpc::Status CriImageService::StreamImages(grpc::ServerContext* ctx,
                                           const v1::StreamImagesRequest* req,
                                           grpc::ServerWriter<v1::StreamImagesResponse>* writer) {
  v1::ListImagesRequest list_req;
  if (req->has_filter()) *list_req.mutable_filter() = req->filter();
  v1::ListImagesResponse list;
  if (auto s = ListImages(ctx, &list_req, &list); !s.ok()) return s;
  return WriteInBatches(list.mutable_images(), writer, &v1::StreamImagesResponse::mutable_images);
}

grpc::Status CriImageService::ImageStatus(grpc::ServerContext*, const v1::ImageStatusRequest* req,
                                          v1::ImageStatusResponse* resp) {
  const std::string& ref = req->image().image();
  if (ref.empty()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "ImageStatus: image.image is empty");
  }
  auto& images = agent_.images();
  auto record = images.ImageStatus(ref);
  // CRI: an image that is not present is an empty response, not an error.
  if (!record) {
    if (record.error().code == ErrorCode::kNotFound) return grpc::Status::OK;
    return ToGrpcStatus(record.error());
  }
  ToProto(*record, DefaultUser(images, record->id), resp->mutable_image());
  if (req->verbose()) {
    nlohmann::json layers = nlohmann::json::array();
    for (const auto& layer : record->layers) {
      layers.push_back({{"digest", layer.digest},
                        {"mediaType", layer.media_type},
                        {"size", layer.size},
                        {"diffID", layer.diff_id}});
    }
    nlohmann::json info = {{"id", record->id},
                           {"manifestDigest", record->manifest_digest},
                           {"created", record->created},
                           {"layers", layers}};
    (*resp->mutable_info())["info"] = info.dump();
  }
  return grpc::Status::OK;
}

grpc::Status CriImageService::PullImage(grpc::ServerContext*, const v1::PullImageRequest* req,
                                        v1::PullImageResponse* resp) {
  const std::string& ref = req->image().image();
  if (ref.empty()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "PullImage: image.image is empty");
  }
  auto started = std::chrono::steady_clock::now();
  auto id = agent_.images().Pull(ref, FromProto(req->auth()));
  if (!id) {
    spdlog::warn("PullImage {}: {}", ref, id.error().ToString());
    return ToGrpcStatus(id.error());
  }
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                  started)
                .count();
  spdlog::info("pulled image {} as {} in {} ms", ref, *id, ms);
  resp->set_image_ref(*id);
  return grpc::Status::OK;
}

grpc::Status CriImageService::RemoveImage(grpc::ServerContext*, const v1::RemoveImageRequest* req,
                                          v1::RemoveImageResponse*) {
  const std::string& ref = req->image().image();
  if (ref.empty()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "RemoveImage: image.image is empty");
  }
  auto removed = agent_.images().Remove(ref);
  // CRI: removing an image that is already gone succeeds.
  if (!removed && removed.error().code == ErrorCode::kNotFound) return grpc::Status::OK;
  if (removed) spdlog::info("removed image {}", ref);
  return ToGrpcStatus(removed);
}

grpc::Status CriImageService::ImageFsInfo(grpc::ServerContext*, const v1::ImageFsInfoRequest*,
                                          v1::ImageFsInfoResponse* resp) {
  auto usage = agent_.images().FsInfo();
  if (!usage) return ToGrpcStatus(usage.error());
  auto* fs = resp->add_image_filesystems();
  fs->set_timestamp(std::chrono::duration_cast<std::chrono::nanoseconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count());
  fs->mutable_fs_id()->set_mountpoint(usage->mountpoint);
  fs->mutable_used_bytes()->set_value(usage->used_bytes);
  fs->mutable_inodes_used()->set_value(usage->inodes_used);
  return grpc::Status::OK;
}

}  // namespace peapod::cri
