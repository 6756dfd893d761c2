// Image messages.
#include "peapod/cri/convert_image.h"

#include "peapod/parse.h"

namespace peapod::cri {

image::AuthConfig FromProto(const v1::AuthConfig& in) {
  image::AuthConfig out;
  out.username = in.username();
  out.password = in.password();
  out.auth = in.auth();
  out.server_address = in.server_address();
  out.identity_token = in.identity_token();
  out.registry_token = in.registry_token();
  return out;
}

void ToProto(const image::ImageRecord& in, const std::optional<std::string>& user, v1::Image* out) {
  out->set_id(in.id);
  for (const auto& tag : in.repo_tags) out->add_repo_tags(tag);
  for (const auto& digest : in.repo_digests) out->add_repo_digests(digest);
  out->set_size(in.size);
  out->mutable_spec()->set_image(in.id);
  if (!user || user->empty()) return;
  // Only the user part counts: "uid:gid" or "name:group".
  std::string name = user->substr(0, user->find(':'));
  auto uid = ParseUnsigned(name, kMaxId);
  if (uid) {
    out->mutable_uid()->set_value(static_cast<int64_t>(*uid));
  } else {
    out->set_username(name);
  }
}

}  // namespace peapod::cri
