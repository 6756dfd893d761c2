// The manifest parser's YAML document model: what it builds from libyaml's events, and that hostile
// input (deep nesting, alias bombs, malformed flow collections) is refused with a clear error
// instead of exhausting the stack or the heap.
#include "peapod/yaml_document.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace peapod::yaml {
namespace {

Node LoadOne(const std::string& text) {
  auto documents = LoadAll(text);
  EXPECT_TRUE(documents) << documents.error().ToString();
  if (!documents) return Node();
  EXPECT_EQ(documents->size(), 1u);
  return documents->empty() ? Node() : documents->front();
}

ParseError ErrorOf(const std::string& text, const Limits& limits = {}) {
  auto documents = LoadAll(text, limits);
  EXPECT_FALSE(documents) << text.substr(0, 80);
  return documents ? ParseError{} : documents.error();
}

TEST(YamlDocument, ScalarsKeepTheirTextStyleAndTag) {
  Node root = LoadOne(
      "plain: hello\n"
      "single: 'it''s'\n"
      "double: \"a\\tb\"\n"
      "literal: |\n  one\n  two\n"
      "folded: >-\n  one\n  two\n"
      "typed: !!str 0644\n"
      "local: !mine x\n"
      "number: 0644\n");
  ASSERT_TRUE(root.IsMap());
  EXPECT_EQ(root["plain"].Scalar(), "hello");
  EXPECT_EQ(root["plain"].Tag(), "?");
  EXPECT_EQ(root["plain"].Style(), ScalarStyle::kPlain);
  EXPECT_EQ(root["single"].Scalar(), "it's");
  EXPECT_EQ(root["single"].Tag(), "!");
  EXPECT_EQ(root["single"].Style(), ScalarStyle::kSingleQuoted);
  EXPECT_EQ(root["double"].Scalar(), "a\tb");
  EXPECT_EQ(root["double"].Style(), ScalarStyle::kDoubleQuoted);
  EXPECT_EQ(root["literal"].Scalar(), "one\ntwo\n");
  EXPECT_EQ(root["literal"].Tag(), "!");
  EXPECT_EQ(root["literal"].Style(), ScalarStyle::kLiteral);
  EXPECT_EQ(root["folded"].Scalar(), "one two");
  EXPECT_EQ(root["folded"].Style(), ScalarStyle::kFolded);
  EXPECT_EQ(root["typed"].Scalar(), "0644");
  EXPECT_EQ(root["typed"].Tag(), "tag:yaml.org,2002:str");
  EXPECT_EQ(root["local"].Tag(), "!mine");
  // Typing numbers and booleans is the reader's business: the model keeps the text.
  EXPECT_TRUE(root["number"].IsScalar());
  EXPECT_EQ(root["number"].Scalar(), "0644");
  EXPECT_EQ(root.Tag(), "?");
}

TEST(YamlDocument, PlainNullSpellingsAreNullButQuotedOrTaggedOnesAreScalars) {
  Node root = LoadOne(
      "empty:\n"
      "tilde: ~\n"
      "lower: null\n"
      "title: Null\n"
      "upper: NULL\n"
      "quoted: \"null\"\n"
      "tagged: !!str null\n"
      "mixed: nULL\n");
  for (const char* key : {"empty", "tilde", "lower", "title", "upper"}) {
    SCOPED_TRACE(key);
    EXPECT_TRUE(root[key].IsDefined());
    EXPECT_TRUE(root[key].IsNull());
    EXPECT_FALSE(root[key].IsScalar());
    EXPECT_EQ(root[key].Scalar(), "");
  }
  for (const char* key : {"quoted", "tagged", "mixed"}) {
    SCOPED_TRACE(key);
    EXPECT_TRUE(root[key].IsScalar());
    EXPECT_FALSE(root[key].IsNull());
  }
  EXPECT_EQ(root["quoted"].Scalar(), "null");
}

TEST(YamlDocument, MissingKeysAndIndexesAreUndefinedAndSafeToAskAnything) {
  Node root = LoadOne("a: [x, y]\nb: text\n");
  Node missing = root["nope"]["deeper"][3];
  EXPECT_FALSE(missing.IsDefined());
  EXPECT_FALSE(missing.IsNull());
  EXPECT_FALSE(missing.IsMap());
  EXPECT_EQ(missing.Type(), NodeType::kUndefined);
  EXPECT_EQ(missing.size(), 0u);
  EXPECT_EQ(missing.Scalar(), "");
  EXPECT_EQ(missing.Tag(), "");
  EXPECT_EQ(missing.mark().line, 0);
  EXPECT_EQ(missing.begin(), missing.end());
  EXPECT_FALSE(root["a"][2].IsDefined());
  EXPECT_FALSE(root["a"]["x"].IsDefined());  // a sequence has no keys
  EXPECT_FALSE(root["b"][0].IsDefined());    // nor a scalar elements
  EXPECT_EQ(root["a"][1].Scalar(), "y");
}

TEST(YamlDocument, NestingAndMarksFollowTheSource) {
  std::string text =
      "apiVersion: v1\n"
      "spec:\n"
      "  containers:\n"
      "  - name: app\n"
      "    args: [a,\n"
      "      b]\n"
      "    env: {X: '1'}\n";
  Node root = LoadOne(text);
  EXPECT_EQ(root.mark().line, 1);
  Node containers = root["spec"]["containers"];
  ASSERT_TRUE(containers.IsSequence());
  ASSERT_EQ(containers.size(), 1u);
  EXPECT_EQ(containers.mark().line, 4);
  EXPECT_EQ(containers.mark().column, 3);
  Node app = containers[0];
  EXPECT_EQ(app.mark().line, 4);
  EXPECT_EQ(app.mark().column, 5);
  EXPECT_EQ(app["args"][1].Scalar(), "b");
  EXPECT_EQ(app["args"][1].mark().line, 6);
  EXPECT_EQ(app["env"]["X"].Scalar(), "1");
  EXPECT_EQ(app["env"]["X"].mark().line, 7);
  // Range-for walks a map's entries in source order.
  std::vector<std::string> keys;
  for (const auto& kv : app) keys.push_back(kv.first.Scalar());
  EXPECT_EQ(keys, (std::vector<std::string>{"name", "args", "env"}));
  EXPECT_EQ(app.begin()->first.mark().line, 4);
}

TEST(YamlDocument, DuplicateKeysAreKeptInOrderAndLookupFindsTheFirst) {
  Node root = LoadOne("a: 1\nb: 2\na: 3\n");
  ASSERT_EQ(root.size(), 3u);
  EXPECT_EQ(root["a"].Scalar(), "1");
  EXPECT_EQ(root.Entries()[2].first.Scalar(), "a");
  EXPECT_EQ(root.Entries()[2].first.mark().line, 3);
  // Large maps are looked up through an index; it must agree.
  std::string big;
  for (int i = 0; i < 100; ++i) big += "k" + std::to_string(i) + ": v" + std::to_string(i) + "\n";
  big += "k7: again\n";
  Node map = LoadOne(big);
  EXPECT_EQ(map.size(), 101u);
  EXPECT_EQ(map["k7"].Scalar(), "v7");
  EXPECT_EQ(map["k99"].Scalar(), "v99");
  EXPECT_FALSE(map["k100"].IsDefined());
}

TEST(YamlDocument, NonScalarKeysAreKeptButNeverMatchALookup) {
  Node root = LoadOne("? [a, b]\n: list\n{c: d}: map\n~: null-key\nplain: x\n");
  ASSERT_EQ(root.size(), 4u);
  EXPECT_TRUE(root.Entries()[0].first.IsSequence());
  EXPECT_TRUE(root.Entries()[1].first.IsMap());
  EXPECT_TRUE(root.Entries()[2].first.IsNull());
  EXPECT_FALSE(root["~"].IsDefined());
  EXPECT_EQ(root["plain"].Scalar(), "x");
}

TEST(YamlDocument, AliasesAreTheAnchoredNode) {
  Node root = LoadOne(
      "base: &base {image: busybox, args: [sleep, '1']}\n"
      "copy: *base\n"
      "word: &w hello\n"
      "again: *w\n"
      "redefined: &w bye\n"
      "latest: *w\n");
  EXPECT_EQ(root["copy"]["image"].Scalar(), "busybox");
  EXPECT_EQ(root["copy"]["args"][1].Scalar(), "1");
  EXPECT_EQ(root["copy"].mark().line, 1);  // where the anchored node is written
  EXPECT_EQ(root["again"].Scalar(), "hello");
  EXPECT_EQ(root["latest"].Scalar(), "bye");  // a later anchor of the same name replaces it
}

TEST(YamlDocument, AliasesMayOnlyNameFinishedAnchorsOfTheirDocument) {
  ParseError unknown = ErrorOf("a: *nope\n");
  EXPECT_EQ(unknown.mark.line, 1);
  EXPECT_EQ(unknown.problem, "alias *nope refers to an unknown anchor");
  ParseError cycle = ErrorOf("a: &loop\n  b: [1, *loop]\n");
  EXPECT_EQ(cycle.mark.line, 2);
  EXPECT_EQ(cycle.problem, "alias *loop refers to a node that contains it");
  ParseError other_document = ErrorOf("a: &x 1\n---\nb: *x\n");
  EXPECT_EQ(other_document.mark.line, 3);
  EXPECT_EQ(other_document.problem, "alias *x refers to an unknown anchor");
}

TEST(YamlDocument, MergeKeysAddWhatTheMapDoesNotWrite) {
  Node root = LoadOne(
      "base: &base {name: a, image: busybox, command: [sleep]}\n"
      "extra: &extra {workingDir: /w, name: x}\n"
      "one:\n"
      "  <<: *base\n"
      "  name: b\n"
      "list:\n"
      "  <<: [{name: c}, *base, *extra]\n"
      "explicit:\n"
      "  !!merge <<: *extra\n"
      "quoted:\n"
      "  '<<': *extra\n");
  Node one = root["one"];
  EXPECT_EQ(one["name"].Scalar(), "b");  // written in the map: wins even after the merge
  EXPECT_EQ(one["image"].Scalar(), "busybox");
  EXPECT_EQ(one["command"][0].Scalar(), "sleep");
  EXPECT_FALSE(one["<<"].IsDefined());
  std::vector<std::string> keys;
  for (const auto& kv : one) keys.push_back(kv.first.Scalar());
  EXPECT_EQ(keys, (std::vector<std::string>{"name", "image", "command"}));

  Node list = root["list"];
  EXPECT_EQ(list["name"].Scalar(), "c");  // the first merged map wins
  EXPECT_EQ(list["image"].Scalar(), "busybox");
  EXPECT_EQ(list["workingDir"].Scalar(), "/w");
  EXPECT_EQ(list.size(), 4u);

  EXPECT_EQ(root["explicit"]["workingDir"].Scalar(), "/w");
  // A quoted "<<" is an ordinary key, as in go-yaml.
  EXPECT_TRUE(root["quoted"]["<<"].IsMap());
  EXPECT_FALSE(root["quoted"]["workingDir"].IsDefined());
}

TEST(YamlDocument, MergeKeyOfAnythingButMapsIsAnError) {
  for (const char* text : {"a:\n  <<: 3\n  b: 1\n", "a:\n  <<: [{b: 1}, 3]\n", "a:\n  <<:\n"}) {
    SCOPED_TRACE(text);
    ParseError error = ErrorOf(text);
    EXPECT_EQ(error.mark.line, 2);
    EXPECT_EQ(error.problem, "a merge key (<<) needs a map or a list of maps");
  }
}

TEST(YamlDocument, EveryDocumentOfAStreamIsLoaded) {
  auto documents = LoadAll("a: 1\n---\n---\n# only a comment\n...\n---\n- x\n");
  ASSERT_TRUE(documents) << documents.error().ToString();
  ASSERT_EQ(documents->size(), 4u);
  EXPECT_EQ((*documents)[0]["a"].Scalar(), "1");
  EXPECT_TRUE((*documents)[1].IsNull());
  EXPECT_TRUE((*documents)[2].IsNull());
  EXPECT_TRUE((*documents)[3].IsSequence());
  EXPECT_EQ((*documents)[3].mark().line, 7);

  auto nothing = LoadAll("# comments only\n");
  ASSERT_TRUE(nothing);
  EXPECT_TRUE(nothing->empty());
  auto empty = LoadAll("");
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->empty());
}

TEST(YamlDocument, SyntaxErrorsSayWhatAndWhere) {
  ParseError flow = ErrorOf(
      "apiVersion: v1\n"
      "spec:\n"
      "  command: [sh, -c\n"
      "  volumes: x\n");
  EXPECT_EQ(flow.mark.line, 4);
  EXPECT_EQ(flow.Message(),
            "did not find expected ',' or ']', while parsing a flow sequence that starts at line "
            "3, column 12");
  EXPECT_EQ(flow.ToString(),
            "line 4, column 10: did not find expected ',' or ']', while parsing a flow sequence "
            "that starts at line 3, column 12");

  ParseError indent = ErrorOf("a:\n  b: 1\n c: 2\n");
  EXPECT_EQ(indent.mark.line, 3);
  EXPECT_EQ(indent.problem, "did not find expected key");

  ParseError value = ErrorOf("a: b: c\n");
  EXPECT_EQ(value.mark.line, 1);
  EXPECT_EQ(value.problem, "mapping values are not allowed in this context");
}

TEST(YamlDocument, UnterminatedQuotesAreRefused) {
  ParseError dq = ErrorOf("a: \"never closed\nb: 1\n");
  EXPECT_EQ(dq.problem, "found unexpected end of stream");
  EXPECT_EQ(dq.context, "while scanning a quoted scalar");
  EXPECT_EQ(dq.context_mark.line, 1);
  EXPECT_EQ(dq.context_mark.column, 4);
  EXPECT_EQ(dq.mark.line, 2);  // the end of the input, not a line past it

  ParseError sq = ErrorOf("a: 'never closed");
  EXPECT_EQ(sq.problem, "found unexpected end of stream");
  EXPECT_EQ(sq.mark.line, 1);
}

TEST(YamlDocument, MalformedFlowInputIsRefusedQuickly) {
  ParseError short_flow = ErrorOf("[[[[{{{{");
  EXPECT_EQ(short_flow.mark.line, 1);
  EXPECT_EQ(short_flow.problem, "did not find expected node content at the end of the input");

  for (const std::string& text : {std::string("{[}]"), std::string("[a, b}"),
                                  std::string("{a: [b, {c: ]}"), std::string("\t\x01\xff: [")}) {
    SCOPED_TRACE(text);
    ParseError error = ErrorOf(text);
    EXPECT_EQ(error.mark.line, 1);
    EXPECT_FALSE(error.problem.empty());
  }
  // Invalid UTF-8 is found by libyaml's reader, which counts bytes: the line is still right.
  ParseError utf8 = ErrorOf("a: 1\nb: \xff\xfe\n");
  EXPECT_EQ(utf8.mark.line, 2);
  EXPECT_EQ(utf8.problem, "invalid leading UTF-8 octet");
}

TEST(YamlDocument, DeepNestingIsRefusedAtTheLimit) {
  std::string flow = std::string(1000000, '[');
  ParseError error = ErrorOf(flow);
  EXPECT_EQ(error.problem, "nested more than 100 levels deep");
  EXPECT_EQ(error.mark.line, 1);
  EXPECT_EQ(error.mark.column, 101);

  std::string mixed;
  for (int i = 0; i < 100000; ++i) mixed += "[[[[{{{{";
  EXPECT_EQ(ErrorOf(mixed).problem, "nested more than 100 levels deep");

  std::string block;
  for (int i = 0; i < 200; ++i) block += std::string(static_cast<size_t>(i) * 2, ' ') + "a:\n";
  ParseError block_error = ErrorOf(block);
  EXPECT_EQ(block_error.problem, "nested more than 100 levels deep");
  EXPECT_EQ(block_error.mark.line, 101);

  // Exactly at the limit is fine.
  std::string at_limit = std::string(100, '[') + std::string(100, ']');
  Node root = LoadOne(at_limit);
  int depth = 0;
  for (Node n = root; n.IsSequence(); n = n[0]) ++depth;
  EXPECT_EQ(depth, 100);
  EXPECT_EQ(ErrorOf(at_limit, Limits{.max_depth = 99}).problem, "nested more than 99 levels deep");
}

// Ten aliases of ten aliases of ... ("billion laughs"): 10^10 nodes from a few hundred bytes. The
// budget trips while the text is being read, long before anything is expanded.
TEST(YamlDocument, AliasBombIsRefused) {
  std::string yaml = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i <= 9; ++i) {
    std::string prev = "*a" + std::to_string(i - 1);
    yaml += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [";
    for (int j = 0; j < 10; ++j) yaml += (j ? ", " : "") + prev;
    yaml += "]\n";
  }
  ParseError error = ErrorOf(yaml);
  EXPECT_EQ(error.problem, "too many nodes through aliases (more than 1000000)");
  EXPECT_EQ(error.mark.line, 6);  // a5: its aliases are the ones that pass the budget

  // The same shape stays within the budget when it is small.
  auto small =
      LoadAll("a: &a [x, x]\nb: &b [*a, *a]\nc: [*b, *b]\n", Limits{.max_alias_nodes = 20});
  ASSERT_TRUE(small) << small.error().ToString();
  EXPECT_EQ((*small)[0]["c"][1][1][0].Scalar(), "x");
  EXPECT_FALSE(
      LoadAll("a: &a [x, x]\nb: &b [*a, *a]\nc: [*b, *b]\n", Limits{.max_alias_nodes = 19}));
}

TEST(YamlDocument, MergingAnAliasedMapCountsAgainstTheBudget) {
  std::string yaml = "a: &a {";
  for (int i = 0; i < 1000; ++i) yaml += "k" + std::to_string(i) + ": v,";
  yaml += "}\nb: [";
  for (int i = 0; i < 10000; ++i) yaml += "{<<: *a},";
  yaml += "]\n";
  EXPECT_EQ(ErrorOf(yaml).problem, "too many nodes through aliases (more than 1000000)");
}

TEST(YamlDocument, TooManyNodesAreRefused) {
  std::string yaml = "[";
  for (int i = 0; i < 100; ++i) yaml += "a,";
  yaml += "]";
  EXPECT_TRUE(LoadAll(yaml, Limits{.max_nodes = 101}));
  ParseError error = ErrorOf(yaml, Limits{.max_nodes = 100});
  EXPECT_EQ(error.problem, "more than 100 nodes");
}

}  // namespace
}  // namespace peapod::yaml
