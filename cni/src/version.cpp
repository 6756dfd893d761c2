#include "peapod/cni/version.h"

#include <algorithm>
#include <charconv>
#include <nlohmann/json.hpp>

namespace peapod::cni {

namespace {

bool ParseNumber(std::string_view text, int& out) {
  if (text.empty()) return false;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && ptr == text.data() + text.size();
}

}  // namespace

Result<SpecVersion> ParseSpecVersion(std::string_view text) {
  SpecVersion v;
  size_t first = text.find('.');
  size_t second = first == std::string_view::npos ? first : text.find('.', first + 1);
  if (second == std::string_view::npos || !ParseNumber(text.substr(0, first), v.major) ||
      !ParseNumber(text.substr(first + 1, second - first - 1), v.minor) ||
      !ParseNumber(text.substr(second + 1), v.patch)) {
    return Fail(ErrorCode::kInvalidArgument, "invalid CNI version \"" + std::string(text) + "\"");
  }
  return v;
}

const std::vector<std::string>& SupportedSpecVersions() {
  static const std::vector<std::string> versions = {"0.1.0", "0.2.0", "0.3.0",
                                                    "0.3.1", "0.4.0", "1.0.0"};
  return versions;
}

bool IsSupportedSpecVersion(std::string_view text) {
  const auto& v = SupportedSpecVersions();
  return std::find(v.begin(), v.end(), text) != v.end();
}

bool SupportsCheck(std::string_view version) {
  auto v = ParseSpecVersion(version);
  return v && *v >= SpecVersion{0, 4, 0};
}

bool SupportsChaining(std::string_view version) {
  auto v = ParseSpecVersion(version);
  return v && *v >= SpecVersion{0, 3, 0};
}

Result<PluginVersionInfo> ParseVersionInfo(std::string_view json) {
  auto doc = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) {
    return Fail(ErrorCode::kInternal, "VERSION output is not a JSON object");
  }
  PluginVersionInfo info;
  if (auto it = doc.find("cniVersion"); it != doc.end() && it->is_string()) {
    info.cni_version = it->get<std::string>();
  }
  auto it = doc.find("supportedVersions");
  if (it == doc.end() || !it->is_array()) {
    // Plugins older than 0.3.0 only ever spoke 0.1.0 and 0.2.0.
    info.supported_versions = {"0.1.0", "0.2.0"};
    return info;
  }
  for (const auto& v : *it) {
    if (v.is_string()) info.supported_versions.push_back(v.get<std::string>());
  }
  return info;
}

}  // namespace peapod::cni
