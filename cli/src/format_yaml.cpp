// JSON -> block YAML for `-o yaml`: maps as "key: value", lists as "- item" at the parent's
// indentation (as kubectl prints them), strings quoted only where YAML would misread them.
#include <cctype>
#include <string>

#include "peapod/cli/format.h"

namespace peapod::cli {
namespace {

using nlohmann::json;

// Whether a plain (unquoted) scalar would read back as this same string.
bool NeedsQuotes(const std::string& s) {
  if (s.empty()) return true;
  static const char* kSpecial[] = {"true",  "false", "yes", "no", "on",  "off", "null", "~",
                                   "True",  "False", "Yes", "No", "On",  "Off", "Null", "TRUE",
                                   "FALSE", "YES",   "NO",  "ON", "OFF", "NULL"};
  for (const char* word : kSpecial) {
    if (s == word) return true;
  }
  if (std::isspace(static_cast<unsigned char>(s.front())) ||
      std::isspace(static_cast<unsigned char>(s.back())))
    return true;
  if (std::string("-?:,[]{}#&*!|>'\"%@`").find(s.front()) != std::string::npos) return true;
  if (s.find(": ") != std::string::npos || s.find(" #") != std::string::npos) return true;
  if (s.find('\n') != std::string::npos || s.back() == ':') return true;
  // Numbers (and things that look like them) stay strings only when quoted.
  bool numeric = true;
  for (char c : s) {
    if (!std::isdigit(static_cast<unsigned char>(c)) && c != '.' && c != '-' && c != '+' &&
        c != 'e' && c != 'E')
      numeric = false;
  }
  return numeric;
}

std::string Scalar(const json& v) {
  if (v.is_string()) {
    const auto& s = v.get_ref<const std::string&>();
    return NeedsQuotes(s) ? json(s).dump() : s;
  }
  if (v.is_null()) return "null";
  return v.dump();
}

void Emit(const json& v, int indent, std::string& out);

bool IsEmptyContainer(const json& v) { return (v.is_object() || v.is_array()) && v.empty(); }

void EmitObject(const json& obj, int indent, std::string& out, bool first_inline) {
  bool first = true;
  for (const auto& [key, value] : obj.items()) {
    if (!(first && first_inline)) out += std::string(static_cast<size_t>(indent), ' ');
    first = false;
    std::string k = NeedsQuotes(key) ? json(key).dump() : key;
    if (IsEmptyContainer(value)) {
      out += k + (value.is_object() ? ": {}\n" : ": []\n");
    } else if (value.is_object()) {
      out += k + ":\n";
      Emit(value, indent + 2, out);
    } else if (value.is_array()) {
      out += k + ":\n";
      Emit(value, indent, out);
    } else {
      out += k + ": " + Scalar(value) + "\n";
    }
  }
}

void Emit(const json& v, int indent, std::string& out) {
  if (v.is_object()) {
    EmitObject(v, indent, out, false);
    return;
  }
  if (v.is_array()) {
    for (const auto& item : v) {
      out += std::string(static_cast<size_t>(indent), ' ') + "- ";
      if (item.is_object() && !item.empty()) {
        EmitObject(item, indent + 2, out, true);
      } else if (item.is_array() && !item.empty()) {
        out += "\n";
        Emit(item, indent + 2, out);
      } else if (IsEmptyContainer(item)) {
        out += item.is_object() ? "{}\n" : "[]\n";
      } else {
        out += Scalar(item) + "\n";
      }
    }
    return;
  }
  out += std::string(static_cast<size_t>(indent), ' ') + Scalar(v) + "\n";
}

}  // namespace

std::string ToYaml(const json& value) {
  std::string out;
  Emit(value, 0, out);
  return out;
}

}  // namespace peapod::cli
