// Parsing what a plugin prints: results (1.0.0, 0.4.0, 0.3.x and the 0.1/0.2 ip4/ip6 form)
// and the spec's error object.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "peapod/cni/types.h"
#include "peapod/error.h"

namespace peapod::cni {

// Parses an ADD result. The version comes from the result's own "cniVersion".
Result<AddResult> ParseAddResult(std::string_view json);

// The spec's error object: {"cniVersion", "code", "msg", "details"}.
struct PluginError {
  int code = 0;
  std::string msg;
  std::string details;
};
// Returns the error object if `output` is one, nullopt otherwise.
std::optional<PluginError> ParsePluginError(std::string_view output);

}  // namespace peapod::cni
