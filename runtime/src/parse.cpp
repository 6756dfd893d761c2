#include "peapod/parse.h"

#include <string>

namespace peapod {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

std::string Quoted(std::string_view text) {
  // Long junk is cut so that a hostile value cannot flood the log line it ends up in.
  constexpr size_t kMaxShown = 64;
  std::string out = "\"";
  out += text.substr(0, kMaxShown);
  if (text.size() > kMaxShown) out += "...";
  return out + "\"";
}

std::unexpected<Error> Invalid(std::string_view text, std::string_view expected) {
  return Fail(ErrorCode::kInvalidArgument, Quoted(text) + " is not " + std::string(expected));
}

Result<uint32_t> ParseIdOf(std::string_view text, std::string_view kind) {
  auto value = ParseUnsigned(text, kMaxId);
  if (!value) {
    return Invalid(
        text, std::string("a ") + std::string(kind) + " (a decimal number from 0 to 4294967294)");
  }
  return static_cast<uint32_t>(*value);
}

// ---- quantities

struct Suffix {
  int exp10 = 0;
  int exp2 = 0;
};

// The suffix of a quantity: a decimal SI prefix, a binary one, or a decimal exponent.
std::optional<Suffix> ParseSuffix(std::string_view s) {
  if (s.empty()) return Suffix{};
  static constexpr std::pair<std::string_view, Suffix> kSuffixes[] = {
      {"n", {-9, 0}},  {"u", {-6, 0}},  {"m", {-3, 0}},  {"k", {3, 0}},   {"M", {6, 0}},
      {"G", {9, 0}},   {"T", {12, 0}},  {"P", {15, 0}},  {"E", {18, 0}},  {"Ki", {0, 10}},
      {"Mi", {0, 20}}, {"Gi", {0, 30}}, {"Ti", {0, 40}}, {"Pi", {0, 50}}, {"Ei", {0, 60}}};
  for (const auto& [text, suffix] : kSuffixes) {
    if (s == text) return suffix;
  }
  // "e3", "E-2", "e+1": at most three exponent digits, more cannot fit an int64 anyway.
  if (s.size() < 2 || (s[0] != 'e' && s[0] != 'E')) return std::nullopt;
  s.remove_prefix(1);
  bool negative = false;
  if (s[0] == '+' || s[0] == '-') {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s.empty() || s.size() > 3) return std::nullopt;
  auto exponent = ParseUnsigned(s);
  if (!exponent) return std::nullopt;
  int e = static_cast<int>(*exponent);
  return Suffix{negative ? -e : e, 0};
}

std::optional<int64_t> QuantityValue(std::string_view text, QuantityScale scale) {
  size_t i = 0;
  bool negative = false;
  if (i < text.size() && (text[i] == '+' || text[i] == '-')) negative = text[i++] == '-';
  unsigned __int128 mantissa = 0;
  int digits = 0;
  int significant = 0;
  int fraction_digits = 0;
  bool seen_point = false;
  for (; i < text.size(); ++i) {
    char c = text[i];
    if (c == '.' && !seen_point) {
      seen_point = true;
      continue;
    }
    if (!IsDigit(c)) break;
    ++digits;
    if (seen_point) ++fraction_digits;
    if (mantissa == 0 && c == '0') continue;
    // More precision than this cannot matter for an int64 of bytes or millicores.
    if (++significant > 30) return std::nullopt;
    mantissa = mantissa * 10 + static_cast<unsigned>(c - '0');
  }
  if (digits == 0) return std::nullopt;
  auto suffix = ParseSuffix(text.substr(i));
  if (!suffix) return std::nullopt;
  int exp10 = suffix->exp10 - fraction_digits + (scale == QuantityScale::kMilli ? 3 : 0);
  const auto limit = static_cast<unsigned __int128>(INT64_MAX);
  unsigned __int128 value = mantissa;
  for (int k = 0; k < suffix->exp2; ++k) {
    value <<= 1;
    if (value > (static_cast<unsigned __int128>(1) << 120)) return std::nullopt;
  }
  for (; exp10 > 0; --exp10) {
    value *= 10;
    if (value > limit) return std::nullopt;
  }
  // A negative exponent divides, rounding up as Kubernetes does.
  bool inexact = false;
  for (; exp10 < 0 && value > 0; ++exp10) {
    if (value % 10 != 0) inexact = true;
    value /= 10;
  }
  if (exp10 < 0 && mantissa != 0) inexact = true;  // divided down to zero
  if (inexact && !negative) value += 1;
  if (value > limit) return std::nullopt;
  auto magnitude = static_cast<int64_t>(value);
  return negative ? -magnitude : magnitude;
}

}  // namespace

std::optional<uint64_t> ParseUnsigned(std::string_view text, uint64_t max) {
  if (text.empty()) return std::nullopt;
  uint64_t value = 0;
  for (char c : text) {
    if (!IsDigit(c)) return std::nullopt;
    auto digit = static_cast<uint64_t>(c - '0');
    if (value > (max - digit) / 10) return std::nullopt;
    value = value * 10 + digit;
  }
  return value;
}

std::optional<int64_t> ParseSigned(std::string_view text) {
  bool negative = false;
  if (!text.empty() && (text[0] == '-' || text[0] == '+')) {
    negative = text[0] == '-';
    text.remove_prefix(1);
  }
  // INT64_MIN's magnitude is one more than INT64_MAX's.
  uint64_t max = static_cast<uint64_t>(INT64_MAX) + (negative ? 1 : 0);
  auto magnitude = ParseUnsigned(text, max);
  if (!magnitude) return std::nullopt;
  if (!negative) return static_cast<int64_t>(*magnitude);
  if (*magnitude == static_cast<uint64_t>(INT64_MAX) + 1) return INT64_MIN;
  return -static_cast<int64_t>(*magnitude);
}

Result<uint32_t> ParseUid(std::string_view text) { return ParseIdOf(text, "uid"); }

Result<uint32_t> ParseGid(std::string_view text) { return ParseIdOf(text, "gid"); }

Result<uint16_t> ParsePort(std::string_view text, bool allow_zero) {
  auto value = ParseUnsigned(text, 65535);
  if (!value || (*value == 0 && !allow_zero)) {
    return Invalid(text, allow_zero ? "a port (a decimal number from 0 to 65535)"
                                    : "a port (a decimal number from 1 to 65535)");
  }
  return static_cast<uint16_t>(*value);
}

Result<int64_t> ParseQuantity(std::string_view text, QuantityScale scale) {
  auto value = QuantityValue(text, scale);
  if (!value) return Invalid(text, "a quantity (such as 100m, 1.5, 128Mi or 1G)");
  return *value;
}

Result<std::chrono::milliseconds> ParseDuration(std::string_view text) {
  static constexpr std::string_view kExpected = "a duration (such as 500ms, 10s, 5m or 1h30m)";
  if (auto seconds = ParseUnsigned(text, INT64_MAX / 1000)) {
    return std::chrono::milliseconds(static_cast<int64_t>(*seconds) * 1000);
  }
  if (text.empty()) return Invalid(text, kExpected);
  int64_t total_ms = 0;
  std::string_view rest = text;
  while (!rest.empty()) {
    size_t digits = 0;
    while (digits < rest.size() && IsDigit(rest[digits])) ++digits;
    size_t unit_end = digits;
    while (unit_end < rest.size() && !IsDigit(rest[unit_end])) ++unit_end;
    auto number = ParseUnsigned(rest.substr(0, digits));
    std::string_view unit = rest.substr(digits, unit_end - digits);
    int64_t ms_per_unit = unit == "ms"  ? 1
                          : unit == "s" ? 1000
                          : unit == "m" ? 60'000
                          : unit == "h" ? 3'600'000
                                        : 0;
    if (!number || ms_per_unit == 0) return Invalid(text, kExpected);
    if (*number > static_cast<uint64_t>((INT64_MAX - total_ms) / ms_per_unit)) {
      return Invalid(text, kExpected);
    }
    total_ms += static_cast<int64_t>(*number) * ms_per_unit;
    rest.remove_prefix(unit_end);
  }
  return std::chrono::milliseconds(total_ms);
}

}  // namespace peapod
