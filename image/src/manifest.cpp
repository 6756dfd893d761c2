#include "peapod/image/manifest.h"

#include <sys/utsname.h>

#include <nlohmann/json.hpp>

namespace peapod::image {
namespace {

using nlohmann::json;

std::string Str(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

Result<Descriptor> ParseDescriptor(const json& j) {
  if (!j.is_object()) return Fail(ErrorCode::kInvalidArgument, "descriptor is not an object");
  Descriptor d;
  d.media_type = Str(j, "mediaType");
  d.digest = Str(j, "digest");
  if (auto it = j.find("size"); it != j.end() && it->is_number_integer()) d.size = it->get<int64_t>();
  if (d.digest.empty()) return Fail(ErrorCode::kInvalidArgument, "descriptor without digest");
  if (auto it = j.find("annotations"); it != j.end() && it->is_object()) {
    for (auto& [k, v] : it->items())
      if (v.is_string()) d.annotations[k] = v.get<std::string>();
  }
  if (auto it = j.find("platform"); it != j.end() && it->is_object()) {
    d.has_platform = true;
    d.platform.os = Str(*it, "os");
    d.platform.architecture = Str(*it, "architecture");
    d.platform.variant = Str(*it, "variant");
  }
  return d;
}

bool VariantMatches(const Platform& have, const Platform& want) {
  if (want.variant.empty() || have.variant == want.variant) return true;
  if (want.architecture == "arm64") {
    auto norm = [](const std::string& v) { return v.empty() ? std::string("v8") : v; };
    return norm(have.variant) == norm(want.variant);
  }
  return false;
}

}  // namespace

Platform PlatformForMachine(std::string_view m) {
  Platform p{"linux", std::string(m), ""};
  if (m == "x86_64" || m == "amd64") p.architecture = "amd64";
  else if (m == "aarch64" || m == "arm64") p = {"linux", "arm64", "v8"};
  else if (m == "armv7l" || m == "armv7") p = {"linux", "arm", "v7"};
  else if (m == "armv6l") p = {"linux", "arm", "v6"};
  else if (m == "i386" || m == "i686") p.architecture = "386";
  else if (m == "ppc64le") p.architecture = "ppc64le";
  else if (m == "s390x") p.architecture = "s390x";
  else if (m == "riscv64") p.architecture = "riscv64";
  return p;
}

Platform HostPlatform() {
  struct utsname u {};
  ::uname(&u);
  return PlatformForMachine(u.machine);
}

bool IsIndexMediaType(std::string_view t) {
  return t == media::kOciIndex || t == media::kDockerManifestList;
}
bool IsManifestMediaType(std::string_view t) {
  return t == media::kOciManifest || t == media::kDockerManifest;
}

Result<ParsedManifest> ParseManifest(std::string_view text, std::string_view content_type) {
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return Fail(ErrorCode::kInvalidArgument, "manifest is not a JSON object");
  ParsedManifest m;
  m.media_type = Str(j, "mediaType");
  if (m.media_type.empty()) m.media_type = std::string(content_type);
  if (auto v = j.find("schemaVersion"); v != j.end() && v->is_number_integer() && *v == 1) {
    return Fail(ErrorCode::kUnimplemented,
                "Docker schema1 manifests are not supported (deprecated; re-push the image)");
  }
  // A document without a media type is recognised by shape, as the OCI spec allows.
  bool is_index = IsIndexMediaType(m.media_type) ||
                  (m.media_type.empty() && j.contains("manifests") && !j.contains("config"));
  bool is_manifest = IsManifestMediaType(m.media_type) ||
                     (m.media_type.empty() && j.contains("config") && j.contains("layers"));
  if (is_index) {
    m.kind = ManifestKind::kIndex;
    auto it = j.find("manifests");
    if (it == j.end() || !it->is_array())
      return Fail(ErrorCode::kInvalidArgument, "index without a manifests array");
    for (const auto& e : *it) {
      auto d = ParseDescriptor(e);
      if (!d) return std::unexpected(d.error());
      m.manifests.push_back(std::move(*d));
    }
    return m;
  }
  if (!is_manifest) {
    return Fail(ErrorCode::kInvalidArgument,
                "unsupported manifest media type \"" + m.media_type + "\"");
  }
  m.kind = ManifestKind::kManifest;
  auto cfg = j.find("config");
  if (cfg == j.end()) return Fail(ErrorCode::kInvalidArgument, "manifest without config");
  auto c = ParseDescriptor(*cfg);
  if (!c) return std::unexpected(c.error());
  m.config = std::move(*c);
  auto layers = j.find("layers");
  if (layers == j.end() || !layers->is_array())
    return Fail(ErrorCode::kInvalidArgument, "manifest without a layers array");
  for (const auto& e : *layers) {
    auto d = ParseDescriptor(e);
    if (!d) return std::unexpected(d.error());
    m.layers.push_back(std::move(*d));
  }
  return m;
}

Result<Descriptor> SelectPlatform(const ParsedManifest& index, const Platform& want) {
  std::string available;
  for (const auto& d : index.manifests) {
    if (!d.has_platform) continue;
    const Platform& p = d.platform;
    if (!available.empty()) available += ", ";
    available += p.os + "/" + p.architecture + (p.variant.empty() ? "" : "/" + p.variant);
    // Attestation manifests (buildkit) carry platform unknown/unknown and never match.
    if (p.os == want.os && p.architecture == want.architecture && VariantMatches(p, want))
      return d;
  }
  std::string wanted = want.os + "/" + want.architecture;
  if (!want.variant.empty()) wanted += "/" + want.variant;
  return Fail(ErrorCode::kNotFound, "no manifest for platform " + wanted +
                                        " (available: " + (available.empty() ? "none" : available) +
                                        ")");
}

}  // namespace peapod::image
