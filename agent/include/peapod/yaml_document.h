// A small YAML document model for the manifest parser, built from libyaml's event parser with an
// explicit stack (no recursion) and hard limits, so a hostile manifest cannot exhaust the stack or
// the heap: nesting depth is bounded and aliases ("billion laughs") have a node budget.
#pragma once

#include <cstddef>
#include <cstdint>
#include <expected>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace peapod::yaml {

// Where a node or an error starts in the source, 1-based; 0 when unknown (an absent node).
struct Mark {
  int line = 0;
  int column = 0;
};

enum class NodeType { kUndefined, kNull, kScalar, kSequence, kMap };
enum class ScalarStyle { kPlain, kSingleQuoted, kDoubleQuoted, kLiteral, kFolded };

class Node;
namespace detail {
struct NodeData;
}  // namespace detail

// One node of a loaded document. Cheap to copy (shared, immutable); an alias is the very node its
// anchor names. A default-constructed Node is "undefined": what a lookup of a missing key or an
// out-of-range index returns; every accessor is safe on it.
//
// A plain, untagged scalar spelled "", "~", "null", "Null" or "NULL" is a null node (IsNull, not
// IsScalar), as in the YAML core schema; every other scalar is kept as text and typed by its user.
class Node {
 public:
  using Entry = std::pair<Node, Node>;

  Node() = default;

  NodeType Type() const;
  bool IsDefined() const { return data_ != nullptr; }
  bool IsNull() const { return Type() == NodeType::kNull; }
  bool IsScalar() const { return Type() == NodeType::kScalar; }
  bool IsSequence() const { return Type() == NodeType::kSequence; }
  bool IsMap() const { return Type() == NodeType::kMap; }

  // The scalar's text; "" for any other node.
  const std::string& Scalar() const;
  ScalarStyle Style() const;
  // The resolved tag as written ("tag:yaml.org,2002:str" for `!!str`, "!local" for `!local`), or
  // the non-specific tag: "?" for a plain scalar or a collection, "!" for a quoted or block scalar.
  // "" for an undefined node.
  const std::string& Tag() const;
  Mark mark() const;

  // Elements of a sequence or entries of a map; 0 otherwise.
  size_t size() const;
  // The i-th element of a sequence; undefined when out of range or not a sequence.
  Node operator[](size_t i) const;
  // The value of the first entry whose key is the scalar `key`; undefined when there is none or
  // this is not a map. Duplicate keys are kept in the map, in order, for the caller to report.
  Node operator[](std::string_view key) const;

  // A map's entries in source order (with merged entries after the written ones); empty for any
  // other node.
  const std::vector<Entry>& Entries() const;
  const std::vector<Node>& Items() const;
  std::vector<Entry>::const_iterator begin() const { return Entries().begin(); }
  std::vector<Entry>::const_iterator end() const { return Entries().end(); }

 private:
  friend class Builder;
  explicit Node(std::shared_ptr<const detail::NodeData> data) : data_(std::move(data)) {}

  std::shared_ptr<const detail::NodeData> data_;
};

namespace detail {
struct NodeData {
  NodeType type = NodeType::kNull;
  ScalarStyle style = ScalarStyle::kPlain;
  Mark mark;
  std::string tag;
  std::string scalar;
  std::vector<Node> items;
  std::vector<Node::Entry> entries;
  // First entry of each scalar key, for large maps only (a 100k-key ConfigMap is looked up key by
  // key; a linear scan would make that quadratic).
  std::unique_ptr<std::unordered_map<std::string_view, size_t>> index;
  // Nodes in this subtree with aliases expanded: what an alias to it costs from the budget.
  uint64_t expanded_size = 1;
};
}  // namespace detail

struct Limits {
  // Collections nested deeper than this are refused.
  int max_depth = 100;
  // Nodes built from the text (aliases not counted): bounds the memory a large input can take.
  uint64_t max_nodes = 1000000;
  // Nodes reachable through aliases (each alias counts its target's whole subtree), over all
  // documents of one stream.
  uint64_t max_alias_nodes = 1000000;
};

struct ParseError {
  Mark mark;
  // What is wrong, e.g. "did not find expected ',' or ']'".
  std::string problem;
  // What was being read, e.g. "while parsing a flow sequence", and where that started.
  std::string context;
  Mark context_mark;

  // "did not find expected ',' or ']', while parsing a flow sequence that starts at line 6,
  // column 14": all but `mark`, which the caller prints its own way.
  std::string Message() const;
  // "line 9, column 3: " + Message().
  std::string ToString() const;
};

// Every document of a YAML stream (`---` separated); an empty document is a null node. Anchors
// are scoped to their document and an alias may only name an anchor whose node is complete.
// Merge keys (`<<: *base`, `<<: [*a, *b]`) are applied as go-yaml does for kubectl: the keys
// written in the map win, then the merged maps in order.
std::expected<std::vector<Node>, ParseError> LoadAll(std::string_view text,
                                                     const Limits& limits = {});

}  // namespace peapod::yaml
