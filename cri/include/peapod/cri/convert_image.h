// Protobuf <-> image library translation: registry credentials in, image records out.
#pragma once

#include <optional>

#include "cri/proto/api.pb.h"
#include "peapod/cri/convert_common.h"
#include "peapod/image/image_store.h"
#include "peapod/image/registry_client.h"

namespace peapod::cri {

image::AuthConfig FromProto(const v1::AuthConfig& in);

// `user` is the image config's User ("1000", "1000:1000", "nginx", "nginx:nginx" or empty):
// a numeric user becomes Image.uid, a name Image.username, as kubelet's runAsNonRoot reads them.
void ToProto(const image::ImageRecord& in, const std::optional<std::string>& user, v1::Image* out);

}  // namespace peapod::cri
