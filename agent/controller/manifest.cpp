// Kubernetes manifests: parsing, validation and defaulting (see manifest.h).
#include "peapod/agent/controller/manifest.h"

namespace peapod::agent::controller {

std::string ManifestIssue::ToString() const {
  std::string out = where.file;
  if (where.line > 0) out += ":" + std::to_string(where.line);
  out += ": ";
  if (!field_path.empty()) out += field_path + ": ";
  out += message;
  return out;
}

Result<ManifestSet> ParseManifests(const std::string&, const std::string& file_name,
                                   const ParseOptions&) {
  return Fail(ErrorCode::kUnimplemented, file_name + ": manifest parsing not implemented yet");
}

void ApplyDefaults(Pod&) {}

std::string SpecHash(const Pod&) { return {}; }

std::optional<Quantity> ParseQuantity(const std::string&, bool) { return std::nullopt; }

}  // namespace peapod::agent::controller
