// A YAML document as a plain tree with the line of every node: the one place the CLI touches a
// YAML parser (peapod/yaml_document.h, in yaml_tree.cpp), so that readers of config files such as
// machine_config.cpp depend on this small type only and the parser can be swapped in one file.
#pragma once

#include <expected>
#include <string>
#include <utility>
#include <vector>

namespace peapod::cli {

struct YamlEntry;

struct YamlNode {
  enum class Kind { kNull, kScalar, kMap, kList };
  Kind kind = Kind::kNull;
  int line = 0;         // 1-based; 0 for a node that is absent
  std::string scalar;   // kScalar: the text
  bool quoted = false;  // kScalar: written quoted (always a string) or with an explicit tag
  // kMap, in document order. A struct of our own, not std::pair: a pair of the still-incomplete
  // YamlNode is ill-formed, and clang with libstdc++ refuses it.
  std::vector<YamlEntry> entries;
  std::vector<YamlNode> items;  // kList

  bool IsNull() const { return kind == Kind::kNull; }
  // The value under `key` of a map; a null node (line 0) when absent or not a map.
  const YamlNode& operator[](const std::string& key) const;
};

struct YamlEntry {
  std::string key;
  YamlNode value;
};

// Parses `text` as one YAML document (an empty text is a null node). Map keys must be scalars
// and unique. The error reads "FILE:LINE: message".
std::expected<YamlNode, std::string> ParseYaml(const std::string& text, const std::string& file);

}  // namespace peapod::cli
