// ParseYaml over peapod's YAML document model (peapod/yaml_document.h: bounded depth, node and
// alias budgets). Nothing else in cli/ touches a YAML parser.
#include "peapod/cli/yaml_tree.h"

#include <set>

#include "peapod/yaml_document.h"

namespace peapod::cli {
namespace {

std::string At(const std::string& file, int line) {
  return line > 0 ? file + ":" + std::to_string(line) : file;
}

std::expected<YamlNode, std::string> Convert(const yaml::Node& node, const std::string& file) {
  YamlNode out;
  out.line = node.mark().line;
  switch (node.Type()) {
    case yaml::NodeType::kUndefined:
    case yaml::NodeType::kNull:
      return out;
    case yaml::NodeType::kScalar:
      out.kind = YamlNode::Kind::kScalar;
      out.scalar = node.Scalar();
      // A plain scalar has the non-specific tag "?"; a quoted one "!"; any other tag was written.
      out.quoted = node.Tag() != "?";
      return out;
    case yaml::NodeType::kSequence:
      out.kind = YamlNode::Kind::kList;
      for (const auto& item : node.Items()) {
        auto converted = Convert(item, file);
        if (!converted) return converted;
        out.items.push_back(std::move(*converted));
      }
      return out;
    case yaml::NodeType::kMap: {
      out.kind = YamlNode::Kind::kMap;
      std::set<std::string> seen;
      for (const auto& [key_node, value_node] : node) {
        if (!key_node.IsScalar()) {
          return std::unexpected(At(file, key_node.mark().line) + ": a key must be a plain value");
        }
        const std::string& key = key_node.Scalar();
        if (!seen.insert(key).second) {
          return std::unexpected(At(file, key_node.mark().line) + ": duplicate key \"" + key +
                                 "\"");
        }
        auto value = Convert(value_node, file);
        if (!value) return value;
        // A key with no value ("name:") has no mark of its own: give it the key's line.
        if (value->line == 0) value->line = key_node.mark().line;
        out.entries.push_back({key, std::move(*value)});
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
  auto documents = yaml::LoadAll(text);
  if (!documents) {
    return std::unexpected(At(file, documents.error().mark.line) + ": invalid YAML at column " +
                           std::to_string(documents.error().mark.column) + ": " +
                           documents.error().Message());
  }
  if (documents->size() > 1) {
    return std::unexpected(At(file, (*documents)[1].mark().line) +
                           ": only one YAML document is expected, found " +
                           std::to_string(documents->size()));
  }
  if (documents->empty()) return YamlNode{};
  return Convert(documents->front(), file);
}

}  // namespace peapod::cli
