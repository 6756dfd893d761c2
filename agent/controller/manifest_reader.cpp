// Typed access to YAML nodes as the API server sees them, and Kubernetes' name rules.
#include "manifest_reader.h"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <set>

namespace peapod::agent::controller::manifest_internal {
namespace {

// How a plain (unquoted, untagged) scalar resolves. kubectl converts YAML to JSON with go-yaml
// v2's YAML 1.1 rules, so `yes`, `on` and `y` are booleans and `0644` is octal; a quoted scalar
// is always a string.
enum class ScalarKind { kNull, kBool, kInt, kFloat, kString };

bool IsPlain(const yaml::Node& node) { return node.Tag() == "?"; }

std::string WithoutUnderscores(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c != '_') out += c;
  }
  return out;
}

// strconv.ParseInt(s, 0, 64) after removing '_': sign, then 0x / 0o / 0b / leading-0 octal.
std::optional<int64_t> ParseYamlInt(std::string_view raw) {
  std::string text = WithoutUnderscores(raw);
  if (text.empty()) return std::nullopt;
  bool negative = false;
  size_t pos = 0;
  if (text[0] == '+' || text[0] == '-') {
    negative = text[0] == '-';
    pos = 1;
  }
  int base = 10;
  if (text.size() - pos > 1 && text[pos] == '0') {
    char p = static_cast<char>(std::tolower(static_cast<unsigned char>(text[pos + 1])));
    if (p == 'x')
      base = 16, pos += 2;
    else if (p == 'o')
      base = 8, pos += 2;
    else if (p == 'b')
      base = 2, pos += 2;
    else
      base = 8, pos += 1;
  }
  if (pos >= text.size()) return std::nullopt;
  unsigned __int128 value = 0;
  for (size_t i = pos; i < text.size(); ++i) {
    char c = static_cast<char>(std::tolower(static_cast<unsigned char>(text[i])));
    int digit = -1;
    if (c >= '0' && c <= '9') digit = c - '0';
    if (c >= 'a' && c <= 'f') digit = c - 'a' + 10;
    if (digit < 0 || digit >= base) return std::nullopt;
    value = value * static_cast<unsigned>(base) + static_cast<unsigned>(digit);
    if (value > static_cast<unsigned __int128>(INT64_MAX) + 1) return std::nullopt;
  }
  if (!negative && value > static_cast<unsigned __int128>(INT64_MAX)) return std::nullopt;
  return negative ? static_cast<int64_t>(-static_cast<__int128>(value))
                  : static_cast<int64_t>(value);
}

bool LooksLikeYamlFloat(std::string_view raw) {
  static const std::set<std::string_view> kSpecial = {".inf",  ".Inf",  ".INF",  "+.inf",
                                                      "+.Inf", "+.INF", "-.inf", "-.Inf",
                                                      "-.INF", ".nan",  ".NaN",  ".NAN"};
  if (kSpecial.contains(raw)) return true;
  std::string text = WithoutUnderscores(raw);
  size_t i = 0;
  if (i < text.size() && (text[i] == '+' || text[i] == '-')) ++i;
  size_t digits = 0;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) ++i, ++digits;
  if (i < text.size() && text[i] == '.') {
    ++i;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) ++i, ++digits;
  }
  if (digits == 0) return false;
  if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
    ++i;
    if (i < text.size() && (text[i] == '+' || text[i] == '-')) ++i;
    size_t exp_digits = 0;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) ++i, ++exp_digits;
    if (exp_digits == 0) return false;
  }
  return i == text.size();
}

ScalarKind Resolve(const yaml::Node& node) {
  const std::string& tag = node.Tag();
  if (tag == "tag:yaml.org,2002:null") return ScalarKind::kNull;
  if (tag == "tag:yaml.org,2002:bool") return ScalarKind::kBool;
  if (tag == "tag:yaml.org,2002:int") return ScalarKind::kInt;
  if (tag == "tag:yaml.org,2002:float") return ScalarKind::kFloat;
  if (!IsPlain(node)) return ScalarKind::kString;
  static const std::set<std::string_view> kNull = {"", "~", "null", "Null", "NULL"};
  static const std::set<std::string_view> kBool = {
      "y",    "Y",    "yes", "Yes", "YES", "n",     "N",     "no",    "No",  "NO",  "true",
      "True", "TRUE", "on",  "On",  "ON",  "false", "False", "FALSE", "off", "Off", "OFF"};
  const std::string& text = node.Scalar();
  if (kNull.contains(text)) return ScalarKind::kNull;
  if (kBool.contains(text)) return ScalarKind::kBool;
  if (ParseYamlInt(text)) return ScalarKind::kInt;
  if (LooksLikeYamlFloat(text)) return ScalarKind::kFloat;
  return ScalarKind::kString;
}

bool Absent(const yaml::Node& node) {
  return !node.IsDefined() || node.IsNull() ||
         (node.IsScalar() && Resolve(node) == ScalarKind::kNull);
}

std::optional<bool> ParseYamlBool(const std::string& text) {
  static const std::set<std::string_view> kTrue = {"y",    "Y",    "yes", "Yes", "YES", "true",
                                                   "True", "TRUE", "on",  "On",  "ON"};
  static const std::set<std::string_view> kFalse = {"n",     "N",     "no",  "No",  "NO", "false",
                                                    "False", "FALSE", "off", "Off", "OFF"};
  if (kTrue.contains(text)) return true;
  if (kFalse.contains(text)) return false;
  return std::nullopt;
}

bool IsLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool IsAlnum(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; }

bool IsDns1123LabelText(std::string_view value) {
  if (value.empty() || !IsLowerAlnum(value.front()) || !IsLowerAlnum(value.back())) return false;
  return std::all_of(value.begin(), value.end(),
                     [](char c) { return IsLowerAlnum(c) || c == '-'; });
}

// A label name or the name part of a qualified name: [A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?
bool IsQualifiedNamePart(std::string_view value) {
  if (value.empty() || value.size() > 63 || !IsAlnum(value.front()) || !IsAlnum(value.back())) {
    return false;
  }
  return std::all_of(value.begin(), value.end(),
                     [](char c) { return IsAlnum(c) || c == '-' || c == '_' || c == '.'; });
}

}  // namespace

int LineOf(const yaml::Node& node) { return node.mark().line; }

std::string Field(const std::string& path, std::string_view name) {
  std::string out = path;
  if (!out.empty()) out += '.';
  out += name;
  return out;
}

std::string Index(const std::string& path, size_t i) {
  std::string out = path;
  out += '[';
  out += std::to_string(i);
  out += ']';
  return out;
}

void Reader::Error(const yaml::Node& at, const std::string& path, std::string message) {
  Error(LineOf(at), path, std::move(message));
}

void Reader::Error(int line, const std::string& path, std::string message) {
  // `if (!String(...) || value.empty()) Error(..., "required")`: a value of the wrong type was
  // already reported for this path; saying "required" too would only confuse.
  if (message == "required" && !errors.empty() && errors.back().field_path == path) return;
  errors.push_back(ManifestIssue{SourceRef{file_, line}, path, std::move(message)});
}

void Reader::Unsupported(const yaml::Node& at, const std::string& path) {
  ManifestIssue issue{Source(at), path, "not supported by peapod, ignored"};
  bool harmless = HarmlessToIgnore(WithoutIndices(path));
  if (harmless ? options_.strict : !options_.ignore_unsupported) {
    issue.message = "not supported by peapod";
    errors.push_back(std::move(issue));
  } else {
    warnings.push_back(std::move(issue));
  }
}

bool Reader::Refuse(const yaml::Node& at, const std::string& path, const std::string& why) {
  if (options_.ignore_unsupported) {
    warnings.push_back(ManifestIssue{Source(at), path, why + ", ignored"});
    return false;
  }
  errors.push_back(ManifestIssue{Source(at), path, why});
  return true;
}

std::string WithoutIndices(std::string_view path) {
  std::string out;
  for (size_t i = 0; i < path.size(); ++i) {
    if (path[i] == '[') {
      size_t end = path.find(']', i);
      if (end == std::string_view::npos) break;
      i = end;
      continue;
    }
    out += path[i];
  }
  // Objects of a List: "items.spec.nodeSelector" is "spec.nodeSelector".
  if (out.starts_with("items.")) out.erase(0, 6);
  return out;
}

bool Reader::Object(const yaml::Node& node, const std::string& path,
                    std::initializer_list<std::string_view> known,
                    std::initializer_list<std::string_view> ignored) {
  if (!node.IsDefined() || node.IsNull()) return false;
  if (!node.IsMap()) {
    Error(node, path, "must be an object");
    return false;
  }
  std::set<std::string> seen;
  for (const auto& kv : node) {
    const yaml::Node& key = kv.first;
    if (!key.IsScalar()) {
      Error(key, path, "keys must be strings");
      continue;
    }
    const std::string& name = key.Scalar();
    if (!seen.insert(name).second) {
      Error(key, Field(path, name), "duplicate field");
      continue;
    }
    if (std::find(known.begin(), known.end(), name) != known.end()) continue;
    if (std::find(ignored.begin(), ignored.end(), name) != ignored.end()) continue;
    Unsupported(key, Field(path, name));
  }
  return true;
}

bool Reader::List(const yaml::Node& node, const std::string& path) {
  if (Absent(node)) return false;
  if (!node.IsSequence()) {
    Error(node, path, "must be a list");
    return false;
  }
  return true;
}

bool Reader::String(const yaml::Node& node, const std::string& path, std::string& out) {
  if (Absent(node)) return false;
  if (!node.IsScalar() || Resolve(node) != ScalarKind::kString) {
    Error(node, path, "must be a string");
    return false;
  }
  out = node.Scalar();
  return true;
}

bool Reader::String(const yaml::Node& node, const std::string& path,
                    std::optional<std::string>& out) {
  std::string value;
  if (!String(node, path, value)) return false;
  out = std::move(value);
  return true;
}

bool Reader::Int(const yaml::Node& node, const std::string& path, int64_t& out) {
  if (Absent(node)) return false;
  ScalarKind kind = node.IsScalar() ? Resolve(node) : ScalarKind::kString;
  if (kind == ScalarKind::kInt) {
    if (auto value = ParseYamlInt(node.Scalar())) {
      out = *value;
      return true;
    }
  }
  // YAML-to-JSON conversion prints floats shortest-form, so 1.0 and 1e3 arrive as integers.
  if (kind == ScalarKind::kFloat) {
    errno = 0;
    double value = std::strtod(WithoutUnderscores(node.Scalar()).c_str(), nullptr);
    if (errno == 0 && std::isfinite(value) && value == std::floor(value) &&
        std::fabs(value) < 9e15) {
      out = static_cast<int64_t>(value);
      return true;
    }
  }
  Error(node, path, "must be an integer");
  return false;
}

bool Reader::Int32(const yaml::Node& node, const std::string& path, int32_t& out) {
  int64_t value = 0;
  if (!Int(node, path, value)) return false;
  if (value < INT32_MIN || value > INT32_MAX) {
    Error(node, path, "must be a 32-bit integer");
    return false;
  }
  out = static_cast<int32_t>(value);
  return true;
}

bool Reader::Int64(const yaml::Node& node, const std::string& path, std::optional<int64_t>& out) {
  int64_t value = 0;
  if (!Int(node, path, value)) return false;
  out = value;
  return true;
}

bool Reader::Bool(const yaml::Node& node, const std::string& path, bool& out) {
  if (Absent(node)) return false;
  if (node.IsScalar() && Resolve(node) == ScalarKind::kBool) {
    if (auto value = ParseYamlBool(node.Scalar())) {
      out = *value;
      return true;
    }
  }
  Error(node, path, "must be a boolean");
  return false;
}

bool Reader::Bool(const yaml::Node& node, const std::string& path, std::optional<bool>& out) {
  bool value = false;
  if (!Bool(node, path, value)) return false;
  out = value;
  return true;
}

bool Reader::StringList(const yaml::Node& node, const std::string& path,
                        std::vector<std::string>& out) {
  if (!List(node, path)) return false;
  out.clear();
  for (size_t i = 0; i < node.size(); ++i) {
    std::string value;
    // A null element becomes "" in JSON-to-Go decoding of []string.
    String(node[i], Index(path, i), value);
    out.push_back(std::move(value));
  }
  return true;
}

bool Reader::StringMap(const yaml::Node& node, const std::string& path,
                       std::map<std::string, std::string>& out) {
  if (Absent(node)) return false;
  if (!node.IsMap()) {
    Error(node, path, "must be an object");
    return false;
  }
  for (const auto& kv : node) {
    if (!kv.first.IsScalar()) {
      Error(kv.first, path, "keys must be strings");
      continue;
    }
    const std::string& key = kv.first.Scalar();
    std::string value;
    String(kv.second, Field(path, key), value);
    if (!out.emplace(key, value).second) Error(kv.first, Field(path, key), "duplicate field");
  }
  return true;
}

bool Reader::IntOrString(const yaml::Node& node, const std::string& path,
                         std::variant<int32_t, std::string>& out) {
  if (Absent(node)) return false;
  if (node.IsScalar() && Resolve(node) == ScalarKind::kString) {
    out = node.Scalar();
    return true;
  }
  int32_t value = 0;
  if (!node.IsScalar() || Resolve(node) != ScalarKind::kInt) {
    Error(node, path, "must be an integer or a string");
    return false;
  }
  if (!Int32(node, path, value)) return false;
  out = value;
  return true;
}

bool Reader::QuantityValue(const yaml::Node& node, const std::string& path, bool cpu,
                           Quantity& out) {
  if (Absent(node)) return false;
  ScalarKind kind = node.IsScalar() ? Resolve(node) : ScalarKind::kBool;
  if (kind == ScalarKind::kBool || kind == ScalarKind::kNull) {
    Error(node, path, "must be a quantity (a number or a string such as \"100m\" or \"128Mi\")");
    return false;
  }
  auto quantity = ParseQuantity(node.Scalar(), cpu);
  if (!quantity) {
    Error(node, path,
          "quantities must match the regular expression "
          "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'");
    return false;
  }
  out = std::move(*quantity);
  return true;
}

// ---- names ----------------------------------------------------------------------------------

std::optional<std::string> CheckDns1123Label(std::string_view value) {
  if (value.size() > 63) return "must be no more than 63 characters";
  if (!IsDns1123LabelText(value)) {
    return "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or "
           "'-', and must start and end with an alphanumeric character";
  }
  return std::nullopt;
}

std::optional<std::string> CheckDns1123Subdomain(std::string_view value) {
  if (value.size() > 253) return "must be no more than 253 characters";
  bool valid = !value.empty();
  size_t start = 0;
  while (valid) {
    size_t dot = value.find('.', start);
    std::string_view part = value.substr(start, dot == std::string_view::npos ? dot : dot - start);
    valid = IsDns1123LabelText(part);
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  if (!valid) {
    return "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
           "'-' or '.', and must start and end with an alphanumeric character";
  }
  return std::nullopt;
}

std::optional<std::string> CheckIanaServiceName(std::string_view value) {
  if (value.size() > 15) return "must be no more than 15 characters";
  bool chars = !value.empty() && std::all_of(value.begin(), value.end(),
                                             [](char c) { return IsLowerAlnum(c) || c == '-'; });
  if (!chars) return "must contain only lower case alphanumeric characters or '-'";
  if (std::none_of(value.begin(), value.end(), [](char c) { return c >= 'a' && c <= 'z'; })) {
    return "must contain at least one letter";
  }
  if (value.find("--") != std::string_view::npos) return "must not contain consecutive hyphens";
  if (value.front() == '-' || value.back() == '-') return "must not begin or end with a hyphen";
  return std::nullopt;
}

std::optional<std::string> CheckEnvVarName(std::string_view value) {
  auto ok_first = [](char c) {
    return std::isalpha(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
  };
  auto ok_rest = [&](char c) { return ok_first(c) || std::isdigit(static_cast<unsigned char>(c)); };
  if (value.empty() || !ok_first(value.front()) ||
      !std::all_of(value.begin(), value.end(), ok_rest)) {
    return "a valid environment variable name must consist of alphabetic characters, digits, "
           "'_', '-', or '.', and must not start with a digit";
  }
  return std::nullopt;
}

std::optional<std::string> CheckConfigMapKey(std::string_view value) {
  if (value.size() > 253) return "must be no more than 253 characters";
  bool chars = !value.empty() && std::all_of(value.begin(), value.end(), [](char c) {
    return IsAlnum(c) || c == '-' || c == '_' || c == '.';
  });
  if (!chars) return "a valid config key must consist of alphanumeric characters, '-', '_' or '.'";
  if (value == "." || value == "..") return "must not be '.' or '..'";
  if (value.starts_with("..")) return "must not start with '..'";
  return std::nullopt;
}

std::optional<std::string> CheckLabelKey(std::string_view value) {
  std::string_view name = value;
  size_t slash = value.find('/');
  if (slash != std::string_view::npos) {
    std::string_view prefix = value.substr(0, slash);
    name = value.substr(slash + 1);
    if (auto problem = CheckDns1123Subdomain(prefix)) return "prefix part " + *problem;
  }
  if (!IsQualifiedNamePart(name)) {
    return "name part must consist of alphanumeric characters, '-', '_' or '.', must start and "
           "end with an alphanumeric character, and be at most 63 characters";
  }
  return std::nullopt;
}

std::optional<std::string> CheckLabelValue(std::string_view value) {
  if (value.empty()) return std::nullopt;
  if (!IsQualifiedNamePart(value)) {
    return "a valid label must be an empty string or consist of alphanumeric characters, '-', "
           "'_' or '.', must start and end with an alphanumeric character, and be at most 63 "
           "characters";
  }
  return std::nullopt;
}

std::optional<std::string> CheckRelativePath(std::string_view value) {
  if (value.empty()) return "must not be empty";
  if (value.front() == '/') return "must be a relative path";
  size_t start = 0;
  while (true) {
    size_t slash = value.find('/', start);
    std::string_view part =
        value.substr(start, slash == std::string_view::npos ? slash : slash - start);
    if (part == "..") return "must not contain '..'";
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  if (value.starts_with("..")) return "must not start with '..'";
  return std::nullopt;
}

bool IsIpAddress(const std::string& value) {
  std::array<unsigned char, 16> buffer{};
  return inet_pton(AF_INET, value.c_str(), buffer.data()) == 1 ||
         inet_pton(AF_INET6, value.c_str(), buffer.data()) == 1;
}

std::optional<std::string> DecodeBase64(std::string_view text) {
  auto value_of = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  // Go's decoder skips \r and \n (block scalars wrap long values); nothing else.
  std::string clean;
  for (char c : text) {
    if (c != '\n' && c != '\r') clean += c;
  }
  if (clean.size() % 4 != 0) return std::nullopt;
  std::string out;
  for (size_t i = 0; i < clean.size(); i += 4) {
    int v[4];
    int padding = 0;
    for (int j = 0; j < 4; ++j) {
      char c = clean[i + j];
      if (c == '=' && i + 4 == clean.size() && j >= 2) {
        v[j] = 0;
        ++padding;
        continue;
      }
      if (padding > 0) return std::nullopt;
      v[j] = value_of(c);
      if (v[j] < 0) return std::nullopt;
    }
    uint32_t bits = (static_cast<uint32_t>(v[0]) << 18) | (static_cast<uint32_t>(v[1]) << 12) |
                    (static_cast<uint32_t>(v[2]) << 6) | static_cast<uint32_t>(v[3]);
    out += static_cast<char>((bits >> 16) & 0xff);
    if (padding < 2) out += static_cast<char>((bits >> 8) & 0xff);
    if (padding < 1) out += static_cast<char>(bits & 0xff);
  }
  return out;
}

// ---- shared by the pod and container readers --------------------------------------------

std::string Quote(std::string_view value) {
  std::string out = "\"";
  out += value;
  out += '"';
  return out;
}

// "must be one of \"A\", \"B\"" for the values an enum field accepts.
std::string OneOf(std::initializer_list<std::string_view> values) {
  std::string out = "must be one of ";
  bool first = true;
  for (std::string_view v : values) {
    if (!first) out += ", ";
    first = false;
    out += '"';
    out += v;
    out += '"';
  }
  return out;
}

// A list element that must be an object (a null element is not allowed either).
bool ListItem(Reader& r, const yaml::Node& item, const std::string& path,
              std::initializer_list<std::string_view> known) {
  if (item.IsNull()) {
    r.Error(item, path, "must be an object");
    return false;
  }
  return r.Object(item, path, known);
}

// Reads an enum-like string field and checks it against `values`.
void Enum(Reader& r, const yaml::Node& node, const std::string& path, std::string& out,
          std::initializer_list<std::string_view> values) {
  if (!r.String(node, path, out)) return;
  if (std::find(values.begin(), values.end(), out) == values.end()) {
    r.Error(node, path, OneOf(values));
  }
}

void PortNumber(Reader& r, const yaml::Node& node, const std::string& path, int32_t value,
                bool allow_zero) {
  if ((allow_zero && value == 0) || (value >= 1 && value <= 65535)) return;
  r.Error(node, path, allow_zero ? "must be 0-65535" : "must be 1-65535");
}

void NonNegative(Reader& r, const yaml::Node& node, const std::string& path, int64_t value) {
  if (value < 0) r.Error(node, path, "must be greater than or equal to 0");
}

void FileMode(Reader& r, const yaml::Node& node, const std::string& path,
              std::optional<int32_t>& out) {
  int32_t mode = 0;
  if (!r.Int32(node, path, mode)) return;
  if (mode < 0 || mode > 0777) {
    r.Error(node, path, "must be a number between 0 and 0777 (octal), both inclusive");
    return;
  }
  out = mode;
}

// Names in the pod that refer to this container's ports (probe and hook ports by name).

std::optional<SeccompProfile> ReadSeccomp(Reader& r, const yaml::Node& node,
                                          const std::string& path) {
  if (!r.Object(node, path, {"type", "localhostProfile"})) return std::nullopt;
  SeccompProfile profile;
  if (!node["type"].IsDefined()) {
    r.Error(node, Field(path, "type"), "required");
  } else {
    Enum(r, node["type"], Field(path, "type"), profile.type,
         {"RuntimeDefault", "Unconfined", "Localhost"});
  }
  profile.source = r.Source(node["localhostProfile"].IsDefined() ? node["localhostProfile"] : node);
  if (r.String(node["localhostProfile"], Field(path, "localhostProfile"),
               profile.localhost_profile)) {
    CheckLocalhostProfilePath(r, node["localhostProfile"], Field(path, "localhostProfile"),
                              profile.localhost_profile);
  }
  if (profile.type == "Localhost" && profile.localhost_profile.empty()) {
    r.Error(node, Field(path, "localhostProfile"), "must be set when seccomp type is Localhost");
  }
  if (profile.type != "Localhost" && !profile.localhost_profile.empty()) {
    r.Error(node["localhostProfile"], Field(path, "localhostProfile"),
            "can only be set when seccomp type is Localhost");
  }
  return profile;
}

void IdField(Reader& r, const yaml::Node& node, const std::string& path,
             std::optional<int64_t>& out) {
  if (r.Int64(node, path, out) && (*out < 0 || *out > 2147483647)) {
    r.Error(node, path, "must be between 0 and 2147483647, inclusive");
  }
}

nlohmann::json ToJson(const yaml::Node& node) {
  switch (node.Type()) {
    case yaml::NodeType::kUndefined:
    case yaml::NodeType::kNull:
      return nullptr;
    case yaml::NodeType::kSequence: {
      nlohmann::json out = nlohmann::json::array();
      for (const auto& item : node.Items()) out.push_back(ToJson(item));
      return out;
    }
    case yaml::NodeType::kMap: {
      nlohmann::json out = nlohmann::json::object();
      // The first of duplicate keys, as lookups see them (the readers report duplicates).
      for (const auto& [key, value] : node) {
        if (!out.contains(key.Scalar())) out[key.Scalar()] = ToJson(value);
      }
      return out;
    }
    case yaml::NodeType::kScalar:
      break;
  }
  switch (Resolve(node)) {
    case ScalarKind::kNull:
      return nullptr;
    case ScalarKind::kBool:
      if (auto value = ParseYamlBool(node.Scalar())) return *value;
      break;
    case ScalarKind::kInt:
      if (auto value = ParseYamlInt(node.Scalar())) return *value;
      break;
    case ScalarKind::kFloat: {
      errno = 0;
      double value = std::strtod(WithoutUnderscores(node.Scalar()).c_str(), nullptr);
      if (errno == 0 && std::isfinite(value)) return value;
      break;
    }
    case ScalarKind::kString:
      break;
  }
  return node.Scalar();
}

}  // namespace peapod::agent::controller::manifest_internal
