// Small file helpers shared by the cgroup sources (private to runtime/src).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "peapod/error.h"

namespace peapod::runtime::cgroup_internal {

Result<std::string> ReadText(const std::string& path);
// open(O_WRONLY|O_CLOEXEC) + one write(); the error names the file and the value.
Status WriteText(const std::string& path, std::string_view value);
bool Exists(const std::string& path);
// "key value" lines (memory.stat, cpu.stat, memory.events, memory.oom_control).
std::optional<uint64_t> FlatKeyedValue(std::string_view text, std::string_view key);
std::vector<std::string_view> SplitLines(std::string_view text);
std::optional<uint64_t> ParseU64(std::string_view text);

}  // namespace peapod::runtime::cgroup_internal
