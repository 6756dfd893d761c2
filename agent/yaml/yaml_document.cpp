// Building the document model from libyaml events. libyaml's parser keeps its own state on the
// heap and needs no recursion; this builder keeps one frame per open collection, so depth costs
// neither side any stack.
#include "peapod/yaml_document.h"

#include <yaml.h>

#include <algorithm>
#include <optional>
#include <unordered_set>

namespace peapod::yaml {
namespace {

const std::string kEmpty;
const std::vector<Node> kNoItems;
const std::vector<Node::Entry> kNoEntries;

// Maps with more entries than this get a key index.
constexpr size_t kIndexThreshold = 16;

Mark ToMark(const yaml_mark_t& mark) {
  return Mark{static_cast<int>(mark.line) + 1, static_cast<int>(mark.column) + 1};
}

// libyaml's reader reports a byte offset only (invalid UTF-8, a control character).
Mark MarkAtOffset(std::string_view text, size_t offset) {
  offset = std::min(offset, text.size());
  Mark mark{1, 1};
  for (size_t i = 0; i < offset; ++i) {
    if (text[i] == '\n') {
      ++mark.line;
      mark.column = 1;
    } else {
      ++mark.column;
    }
  }
  return mark;
}

// libyaml places the end of the input on a line of its own even without a final newline; the
// last character's line reads better in a message about a one-line file.
Mark MarkIn(std::string_view text, const yaml_mark_t& mark) {
  if (mark.index < text.size()) return ToMark(mark);
  return MarkAtOffset(text, text.ends_with('\n') ? text.size() - 1 : text.size());
}

bool IsNullText(std::string_view text) {
  return text.empty() || text == "~" || text == "null" || text == "Null" || text == "NULL";
}

// The key `<<`, plain and untagged (or explicitly `!!merge`), as go-yaml recognises it.
bool IsMergeKey(const Node& key) {
  if (!key.IsScalar() || key.Scalar() != "<<") return false;
  return (key.Tag() == "?" && key.Style() == ScalarStyle::kPlain) ||
         key.Tag() == "tag:yaml.org,2002:merge";
}

std::string TagOf(const yaml_char_t* tag, bool plain) {
  if (tag != nullptr) return reinterpret_cast<const char*>(tag);
  return plain ? "?" : "!";
}

ScalarStyle StyleOf(yaml_scalar_style_t style) {
  switch (style) {
    case YAML_SINGLE_QUOTED_SCALAR_STYLE:
      return ScalarStyle::kSingleQuoted;
    case YAML_DOUBLE_QUOTED_SCALAR_STYLE:
      return ScalarStyle::kDoubleQuoted;
    case YAML_LITERAL_SCALAR_STYLE:
      return ScalarStyle::kLiteral;
    case YAML_FOLDED_SCALAR_STYLE:
      return ScalarStyle::kFolded;
    default:
      return ScalarStyle::kPlain;
  }
}

uint64_t SaturatingAdd(uint64_t a, uint64_t b) { return a > UINT64_MAX - b ? UINT64_MAX : a + b; }

class Parser {
 public:
  explicit Parser(std::string_view text) {
    ok_ = yaml_parser_initialize(&parser_) != 0;
    if (ok_) {
      yaml_parser_set_input_string(&parser_, reinterpret_cast<const unsigned char*>(text.data()),
                                   text.size());
    }
  }
  ~Parser() {
    if (ok_) yaml_parser_delete(&parser_);
  }
  Parser(const Parser&) = delete;
  Parser& operator=(const Parser&) = delete;

  bool ok() const { return ok_; }
  yaml_parser_t* get() { return &parser_; }

 private:
  yaml_parser_t parser_{};
  bool ok_ = false;
};

class Event {
 public:
  Event() = default;
  ~Event() { Reset(); }
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;

  // The next event, or false with libyaml's error state set.
  bool Next(yaml_parser_t* parser) {
    Reset();
    live_ = yaml_parser_parse(parser, &event_) != 0;
    return live_;
  }
  const yaml_event_t& operator*() const { return event_; }
  const yaml_event_t* operator->() const { return &event_; }

 private:
  void Reset() {
    if (live_) yaml_event_delete(&event_);
    live_ = false;
  }
  yaml_event_t event_{};
  bool live_ = false;
};

ParseError LibyamlError(const yaml_parser_t& parser, std::string_view text) {
  ParseError error;
  error.problem = parser.problem != nullptr ? parser.problem : "cannot parse";
  switch (parser.error) {
    case YAML_MEMORY_ERROR:
      error.problem = "out of memory";
      break;
    case YAML_READER_ERROR:
      error.mark = MarkAtOffset(text, parser.problem_offset);
      break;
    default:
      error.mark = MarkIn(text, parser.problem_mark);
      if (parser.problem_mark.index >= text.size() &&
          error.problem.find("end of stream") == std::string::npos) {
        error.problem += " at the end of the input";
      }
      break;
  }
  if (parser.context != nullptr) {
    error.context = parser.context;
    error.context_mark = MarkIn(text, parser.context_mark);
  }
  return error;
}

}  // namespace

// ---- Node -------------------------------------------------------------------------------------

NodeType Node::Type() const { return data_ ? data_->type : NodeType::kUndefined; }
const std::string& Node::Scalar() const {
  return data_ && data_->type == NodeType::kScalar ? data_->scalar : kEmpty;
}
ScalarStyle Node::Style() const { return data_ ? data_->style : ScalarStyle::kPlain; }
const std::string& Node::Tag() const { return data_ ? data_->tag : kEmpty; }
Mark Node::mark() const { return data_ ? data_->mark : Mark{}; }
const std::vector<Node::Entry>& Node::Entries() const {
  return data_ && data_->type == NodeType::kMap ? data_->entries : kNoEntries;
}
const std::vector<Node>& Node::Items() const {
  return data_ && data_->type == NodeType::kSequence ? data_->items : kNoItems;
}

size_t Node::size() const {
  if (IsMap()) return data_->entries.size();
  if (IsSequence()) return data_->items.size();
  return 0;
}

Node Node::operator[](size_t i) const {
  const std::vector<Node>& items = Items();
  return i < items.size() ? items[i] : Node();
}

Node Node::operator[](std::string_view key) const {
  const std::vector<Entry>& entries = Entries();
  if (entries.empty()) return Node();
  if (data_->index) {
    auto it = data_->index->find(key);
    return it == data_->index->end() ? Node() : entries[it->second].second;
  }
  for (const Entry& entry : entries) {
    if (entry.first.IsScalar() && entry.first.Scalar() == key) return entry.second;
  }
  return Node();
}

// ---- errors -----------------------------------------------------------------------------------

std::string ParseError::Message() const {
  std::string out = problem;
  if (!context.empty()) {
    out += ", " + context;
    if (context_mark.line > 0) {
      out += " that starts at line " + std::to_string(context_mark.line) + ", column " +
             std::to_string(context_mark.column);
    }
  }
  return out;
}

std::string ParseError::ToString() const {
  return "line " + std::to_string(mark.line) + ", column " + std::to_string(mark.column) + ": " +
         Message();
}

// ---- building ---------------------------------------------------------------------------------

// Turns one stream's events into documents. One frame per open collection; anchors map to
// finished nodes only, so an alias can never make a cycle.
class Builder {
 public:
  Builder(std::string_view text, const Limits& limits) : text_(text), limits_(limits) {}

  std::expected<std::vector<Node>, ParseError> Run() {
    Parser parser(text_);
    if (!parser.ok()) return std::unexpected(ParseError{{}, "out of memory", "", {}});
    Event event;
    while (true) {
      if (!event.Next(parser.get())) return std::unexpected(LibyamlError(*parser.get(), text_));
      if (event->type == YAML_STREAM_END_EVENT) break;
      if (auto error = Handle(*event)) return std::unexpected(std::move(*error));
    }
    return std::move(documents_);
  }

 private:
  struct Frame {
    std::shared_ptr<detail::NodeData> node;
    std::string anchor;
    Node key;  // a map's key waiting for its value
    bool have_key = false;
  };

  static ParseError ErrorAt(Mark mark, std::string problem) {
    return ParseError{mark, std::move(problem), "", {}};
  }

  std::optional<ParseError> Handle(const yaml_event_t& event) {
    Mark mark = ToMark(event.start_mark);
    switch (event.type) {
      case YAML_DOCUMENT_START_EVENT:
        anchors_.clear();
        root_ = Node();
        return std::nullopt;
      case YAML_DOCUMENT_END_EVENT:
        documents_.push_back(root_.IsDefined() ? root_ : Node());
        return std::nullopt;
      case YAML_SCALAR_EVENT:
        return Scalar(event, mark);
      case YAML_SEQUENCE_START_EVENT:
        return Open(NodeType::kSequence, event.data.sequence_start.anchor,
                    event.data.sequence_start.tag, mark);
      case YAML_MAPPING_START_EVENT:
        return Open(NodeType::kMap, event.data.mapping_start.anchor, event.data.mapping_start.tag,
                    mark);
      case YAML_SEQUENCE_END_EVENT:
      case YAML_MAPPING_END_EVENT:
        return Close();
      case YAML_ALIAS_EVENT:
        return Alias(reinterpret_cast<const char*>(event.data.alias.anchor), mark);
      default:
        return std::nullopt;
    }
  }

  std::optional<ParseError> Count(Mark mark) {
    if (++nodes_ <= limits_.max_nodes) return std::nullopt;
    return ErrorAt(mark, "more than " + std::to_string(limits_.max_nodes) + " nodes");
  }

  std::optional<ParseError> Scalar(const yaml_event_t& event, Mark mark) {
    if (auto error = Count(mark)) return error;
    const auto& scalar = event.data.scalar;
    auto data = std::make_shared<detail::NodeData>();
    data->mark = mark;
    data->style = StyleOf(scalar.style);
    bool plain = data->style == ScalarStyle::kPlain;
    data->tag = TagOf(scalar.tag, plain);
    data->scalar.assign(reinterpret_cast<const char*>(scalar.value), scalar.length);
    data->type = plain && scalar.tag == nullptr && IsNullText(data->scalar) ? NodeType::kNull
                                                                            : NodeType::kScalar;
    if (data->type == NodeType::kNull) data->scalar.clear();
    return Finish(std::move(data), scalar.anchor);
  }

  std::optional<ParseError> Open(NodeType type, const yaml_char_t* anchor, const yaml_char_t* tag,
                                 Mark mark) {
    if (static_cast<int>(stack_.size()) >= limits_.max_depth) {
      return ErrorAt(mark,
                     "nested more than " + std::to_string(limits_.max_depth) + " levels deep");
    }
    if (auto error = Count(mark)) return error;
    Frame frame;
    frame.node = std::make_shared<detail::NodeData>();
    frame.node->type = type;
    frame.node->mark = mark;
    frame.node->tag = TagOf(tag, true);
    if (anchor != nullptr) frame.anchor = reinterpret_cast<const char*>(anchor);
    stack_.push_back(std::move(frame));
    return std::nullopt;
  }

  std::optional<ParseError> Close() {
    Frame frame = std::move(stack_.back());
    stack_.pop_back();
    if (frame.node->type == NodeType::kMap) {
      if (auto error = ApplyMergeKeys(*frame.node)) return error;
      IndexKeys(*frame.node);
    }
    uint64_t size = 1;
    for (const Node& item : frame.node->items) {
      size = SaturatingAdd(size, item.data_->expanded_size);
    }
    for (const Node::Entry& entry : frame.node->entries) {
      size = SaturatingAdd(size, entry.first.data_->expanded_size);
      size = SaturatingAdd(size, entry.second.data_->expanded_size);
    }
    frame.node->expanded_size = size;
    const yaml_char_t* anchor =
        frame.anchor.empty() ? nullptr : reinterpret_cast<const yaml_char_t*>(frame.anchor.c_str());
    return Finish(std::move(frame.node), anchor);
  }

  std::optional<ParseError> Alias(const std::string& name, Mark mark) {
    auto it = anchors_.find(name);
    if (it == anchors_.end()) {
      bool open = std::any_of(stack_.begin(), stack_.end(),
                              [&](const Frame& f) { return f.anchor == name; });
      return ErrorAt(mark, open ? "alias *" + name + " refers to a node that contains it"
                                : "alias *" + name + " refers to an unknown anchor");
    }
    alias_nodes_ = SaturatingAdd(alias_nodes_, it->second.data_->expanded_size);
    if (alias_nodes_ > limits_.max_alias_nodes) {
      return ErrorAt(mark, "too many nodes through aliases (more than " +
                               std::to_string(limits_.max_alias_nodes) + ")");
    }
    Add(it->second);
    return std::nullopt;
  }

  // A node is complete: remember its anchor and put it in its parent (or make it the root).
  std::optional<ParseError> Finish(std::shared_ptr<detail::NodeData> data,
                                   const yaml_char_t* anchor) {
    Node node(std::move(data));
    // A later anchor of the same name replaces the earlier one (YAML 1.2, 3.2.2.2).
    if (anchor != nullptr) anchors_[reinterpret_cast<const char*>(anchor)] = node;
    Add(std::move(node));
    return std::nullopt;
  }

  void Add(Node node) {
    if (stack_.empty()) {
      root_ = std::move(node);
      return;
    }
    Frame& parent = stack_.back();
    if (parent.node->type == NodeType::kSequence) {
      parent.node->items.push_back(std::move(node));
    } else if (!parent.have_key) {
      parent.key = std::move(node);
      parent.have_key = true;
    } else {
      parent.node->entries.emplace_back(std::move(parent.key), std::move(node));
      parent.key = Node();
      parent.have_key = false;
    }
  }

  // `<<: map` or `<<: [map, ...]`: entries whose key is not written in the map are appended, the
  // first merged map winning over later ones, as go-yaml (and so kubectl) resolves them.
  std::optional<ParseError> ApplyMergeKeys(detail::NodeData& map) {
    std::vector<Node> sources;
    std::vector<Node::Entry> written;
    for (Node::Entry& entry : map.entries) {
      if (!IsMergeKey(entry.first)) {
        written.push_back(std::move(entry));
        continue;
      }
      const Node& value = entry.second;
      bool maps_only = value.IsMap() || (value.IsSequence() &&
                                         std::all_of(value.Items().begin(), value.Items().end(),
                                                     [](const Node& n) { return n.IsMap(); }));
      if (!maps_only) {
        return ErrorAt(value.IsDefined() ? value.mark() : entry.first.mark(),
                       "a merge key (<<) needs a map or a list of maps");
      }
      if (value.IsMap()) {
        sources.push_back(value);
      } else {
        sources.insert(sources.end(), value.Items().begin(), value.Items().end());
      }
    }
    map.entries = std::move(written);
    if (sources.empty()) return std::nullopt;
    std::unordered_set<std::string_view> present;
    for (const Node::Entry& entry : map.entries) {
      if (entry.first.IsScalar()) present.insert(entry.first.Scalar());
    }
    for (const Node& source : sources) {
      for (const Node::Entry& entry : source.Entries()) {
        if (!entry.first.IsScalar() || !present.insert(entry.first.Scalar()).second) continue;
        map.entries.push_back(entry);
      }
    }
    return std::nullopt;
  }

  static void IndexKeys(detail::NodeData& map) {
    if (map.entries.size() <= kIndexThreshold) return;
    map.index = std::make_unique<std::unordered_map<std::string_view, size_t>>();
    map.index->reserve(map.entries.size());
    for (size_t i = 0; i < map.entries.size(); ++i) {
      const Node& key = map.entries[i].first;
      if (key.IsScalar()) map.index->emplace(key.Scalar(), i);  // the first of duplicates stays
    }
  }

  std::string_view text_;
  Limits limits_;
  std::vector<Frame> stack_;
  std::unordered_map<std::string, Node> anchors_;
  Node root_;
  std::vector<Node> documents_;
  uint64_t nodes_ = 0;
  uint64_t alias_nodes_ = 0;
};

std::expected<std::vector<Node>, ParseError> LoadAll(std::string_view text, const Limits& limits) {
  return Builder(text, limits).Run();
}

}  // namespace peapod::yaml
