// CNI spec versions: which ones we speak, and how to compare them.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "peapod/error.h"

namespace peapod::cni {

struct SpecVersion {
  int major = 0;
  int minor = 0;
  int patch = 0;
  auto operator<=>(const SpecVersion&) const = default;
};

// "1.0.0" -> {1,0,0}; rejects anything that is not three dot-separated numbers.
Result<SpecVersion> ParseSpecVersion(std::string_view text);

// The spec versions this client can drive: 0.1.0 to 1.0.0.
const std::vector<std::string>& SupportedSpecVersions();
bool IsSupportedSpecVersion(std::string_view text);

// CHECK exists from 0.4.0 on; chaining (prevResult) from 0.3.0 on.
bool SupportsCheck(std::string_view version);
bool SupportsChaining(std::string_view version);

// The answer to CNI_COMMAND=VERSION.
struct PluginVersionInfo {
  std::string cni_version;
  std::vector<std::string> supported_versions;
};
Result<PluginVersionInfo> ParseVersionInfo(std::string_view json);

}  // namespace peapod::cni
