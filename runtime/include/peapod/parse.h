// Parsers for the numbers that come from outside the agent: uids and gids, ports, Kubernetes
// quantities and durations. One parser each, used by every module, so that no input (an image's
// USER, a manifest, a CRI request, a stream client, a flag) reaches a throwing conversion.
// Each takes the whole text (no leading or trailing space, no trailing junk) and fails with
// kInvalidArgument and a message that quotes the text and says what was expected.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

#include "peapod/error.h"

namespace peapod {

// Decimal digits only (no sign, space or prefix), at most `max`; nullopt otherwise.
std::optional<uint64_t> ParseUnsigned(std::string_view text, uint64_t max = UINT64_MAX);

// An optional '-' or '+' then decimal digits, within int64_t; nullopt otherwise.
std::optional<int64_t> ParseSigned(std::string_view text);

// A numeric uid or gid: 0 to 4294967294 ((uid_t)-1 is "no id" to the kernel).
inline constexpr uint32_t kMaxId = 4294967294u;
Result<uint32_t> ParseUid(std::string_view text);
Result<uint32_t> ParseGid(std::string_view text);

// A TCP/UDP port, 1 to 65535; 0 too when `allow_zero` (a listen address: "any free port").
Result<uint16_t> ParsePort(std::string_view text, bool allow_zero = false);

// A Kubernetes resource quantity ("100m", "1.5", "128Mi", "1G", "1e3", "-2"), as an integer in
// `scale` units: kMilli for cpu (millicores), kUnits for bytes and counts. Fractions round up,
// as Kubernetes rounds them (0.1 byte is 1 byte); values beyond int64_t are refused.
enum class QuantityScale { kUnits, kMilli };
Result<int64_t> ParseQuantity(std::string_view text, QuantityScale scale = QuantityScale::kUnits);

// A non-negative duration: "250ms", "10s", "5m", "1h", sequences like "1h30m", or a bare number
// of seconds. Units: ms, s, m, h. Values beyond ~292 million years are refused.
Result<std::chrono::milliseconds> ParseDuration(std::string_view text);

}  // namespace peapod
