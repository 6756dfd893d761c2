// ParseYaml over yaml-cpp. Nothing else in cli/ includes yaml-cpp.
#include "peapod/cli/yaml_tree.h"

#include <yaml-cpp/yaml.h>

#include <set>

namespace peapod::cli {
namespace {

int LineOf(const YAML::Node& node) {
  YAML::Mark mark = node.Mark();
  return mark.line < 0 ? 0 : mark.line + 1;
}

std::string At(const std::string& file, int line) {
  return line > 0 ? file + ":" + std::to_string(line) : file;
}

std::expected<YamlNode, std::string> Convert(const YAML::Node& node, const std::string& file) {
  YamlNode out;
  out.line = LineOf(node);
  switch (node.Type()) {
    case YAML::NodeType::Undefined:
    case YAML::NodeType::Null:
      return out;
    case YAML::NodeType::Scalar:
      out.kind = YamlNode::Kind::kScalar;
      out.scalar = node.Scalar();
      // yaml-cpp tags a plain scalar "?" and a quoted one "!"; any other tag was written.
      out.quoted = node.Tag() != "?";
      return out;
    case YAML::NodeType::Sequence:
      out.kind = YamlNode::Kind::kList;
      for (const auto& item : node) {
        auto converted = Convert(item, file);
        if (!converted) return converted;
        out.items.push_back(std::move(*converted));
      }
      return out;
    case YAML::NodeType::Map: {
      out.kind = YamlNode::Kind::kMap;
      std::set<std::string> seen;
      for (const auto& kv : node) {
        if (!kv.first.IsScalar()) {
          return std::unexpected(At(file, LineOf(kv.first)) + ": a key must be a plain value");
        }
        const std::string& key = kv.first.Scalar();
        if (!seen.insert(key).second) {
          return std::unexpected(At(file, LineOf(kv.first)) + ": duplicate key \"" + key + "\"");
        }
        auto value = Convert(kv.second, file);
        if (!value) return value;
        // A key with no value ("name:") has no mark of its own: give it the key's line.
        if (value->line == 0) value->line = LineOf(kv.first);
        out.entries.emplace_back(key, std::move(*value));
      }
      return out;
    }
  }
  return out;
}

}  // namespace

const YamlNode& YamlNode::operator[](const std::string& key) const {
  static const YamlNode kAbsent;
  if (kind != Kind::kMap) return kAbsent;
  for (const auto& [k, v] : entries) {
    if (k == key) return v;
  }
  return kAbsent;
}

std::expected<YamlNode, std::string> ParseYaml(const std::string& text, const std::string& file) {
  std::vector<YAML::Node> documents;
  try {
    documents = YAML::LoadAll(text);
  } catch (const YAML::Exception& e) {
    return std::unexpected(At(file, e.mark.line < 0 ? 0 : e.mark.line + 1) + ": " + e.msg);
  }
  if (documents.size() > 1) {
    return std::unexpected(At(file, LineOf(documents[1])) +
                           ": only one YAML document is expected, found " +
                           std::to_string(documents.size()));
  }
  if (documents.empty()) return YamlNode{};
  try {
    return Convert(documents.front(), file);
  } catch (const YAML::Exception& e) {
    return std::unexpected(At(file, e.mark.line < 0 ? 0 : e.mark.line + 1) + ": " + e.msg);
  }
}

}  // namespace peapod::cli
