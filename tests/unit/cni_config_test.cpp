#include <gtest/gtest.h>

#include "peapod/cni/config.h"
#include "peapod/cni/default_network.h"
#include "support/temp_dir.h"

namespace peapod::cni {
namespace {

using peapod::testing::TempDir;
using peapod::testing::WriteFile;

constexpr const char* kBridgeList = R"({
  "cniVersion": "1.0.0", "name": "net1",
  "plugins": [
    {"type": "bridge", "bridge": "br0", "ipam": {"type": "host-local"}},
    {"type": "portmap", "capabilities": {"portMappings": true, "bandwidth": false}}
  ]})";

TEST(CniConfig, ParsesConflistWithPluginsAndDeclaredCapabilities) {
  auto list = ParseConfigList(kBridgeList);
  ASSERT_TRUE(list) << list.error().ToString();
  EXPECT_EQ(list->name, "net1");
  EXPECT_EQ(list->cni_version, "1.0.0");
  ASSERT_EQ(list->plugins.size(), 2u);
  EXPECT_EQ(list->plugins[0].type, "bridge");
  EXPECT_EQ(list->plugins[0].raw["bridge"], "br0");
  EXPECT_TRUE(list->HasCapability(list->plugins[1], "portMappings"));
  EXPECT_FALSE(list->HasCapability(list->plugins[1], "bandwidth"));
  EXPECT_FALSE(list->HasCapability(list->plugins[0], "portMappings"));
}

TEST(CniConfig, WrapsSingleConfIntoOnePluginList) {
  auto list = ParseSingleConfig(
      R"({"cniVersion": "0.4.0", "name": "single", "type": "bridge", "bridge": "b1"})");
  ASSERT_TRUE(list) << list.error().ToString();
  EXPECT_EQ(list->name, "single");
  EXPECT_EQ(list->cni_version, "0.4.0");
  ASSERT_EQ(list->plugins.size(), 1u);
  EXPECT_EQ(list->plugins[0].type, "bridge");
  EXPECT_EQ(list->raw["plugins"][0]["bridge"], "b1");
}

TEST(CniConfig, RejectsConfigsMissingWhatTheSpecRequires) {
  EXPECT_FALSE(ParseConfigList("not json"));
  EXPECT_FALSE(ParseConfigList("[]"));
  EXPECT_FALSE(ParseConfigList(R"({"cniVersion": "1.0.0", "plugins": [{"type": "x"}]})"));
  EXPECT_FALSE(ParseConfigList(R"({"name": "n", "plugins": [{"type": "x"}]})"));
  EXPECT_FALSE(ParseConfigList(R"({"cniVersion": "1.0.0", "name": "n", "plugins": []})"));
  EXPECT_FALSE(ParseConfigList(R"({"cniVersion": "1.0.0", "name": "n", "plugins": [{}]})"));
  EXPECT_FALSE(
      ParseConfigList(R"({"cniVersion": "9.9.9", "name": "n", "plugins": [{"type": "x"}]})"));
  EXPECT_FALSE(
      ParseConfigList(R"({"cniVersion": "1.0.0", "name": "a/b", "plugins": [{"type": "x"}]})"));
  EXPECT_FALSE(
      ParseConfigList(R"({"cniVersion": "1.0.0", "name": "n", "plugins": [{"type": "../x"}]})"));
}

TEST(CniConfig, RejectsChainingBeforeVersion030) {
  auto list = ParseConfigList(
      R"({"cniVersion": "0.2.0", "name": "n", "plugins": [{"type": "a"}, {"type": "b"}]})");
  ASSERT_FALSE(list);
  EXPECT_NE(list.error().message.find("0.3.0"), std::string::npos);
}

TEST(CniConfig, ReadsDisableCheckAsBoolOrString) {
  auto a = ParseConfigList(
      R"({"cniVersion": "1.0.0", "name": "n", "disableCheck": true, "plugins": [{"type": "a"}]})");
  auto b = ParseConfigList(
      R"({"cniVersion": "1.0.0", "name": "n", "disableCheck": "true", "plugins": [{"type": "a"}]})");
  auto c = ParseConfigList(R"({"cniVersion": "1.0.0", "name": "n", "plugins": [{"type": "a"}]})");
  ASSERT_TRUE(a && b && c);
  EXPECT_TRUE(a->disable_check);
  EXPECT_TRUE(b->disable_check);
  EXPECT_FALSE(c->disable_check);
}

TEST(CniConfig, SelectsLexicallyFirstValidFileAndSkipsInvalidOnes) {
  TempDir dir;
  WriteFile(dir / "05-broken.conflist", "{ not json");
  WriteFile(dir / "10-second.conf",
            R"({"cniVersion": "1.0.0", "name": "second", "type": "bridge"})");
  WriteFile(dir / "20-third.conflist", kBridgeList);
  WriteFile(dir / "00-ignored.txt", kBridgeList);
  WriteFile(dir / ".01-hidden.conflist", kBridgeList);
  auto sel = SelectNetworkConfig(dir.path());
  ASSERT_TRUE(sel.network);
  EXPECT_EQ(sel.network->name, "second");
  EXPECT_EQ(sel.network->source_path, dir / "10-second.conf");
  ASSERT_EQ(sel.skipped.size(), 1u);
  EXPECT_NE(sel.skipped[0].find("05-broken.conflist"), std::string::npos);
}

TEST(CniConfig, AcceptsJsonExtensionAsSingleConf) {
  TempDir dir;
  WriteFile(dir / "99-net.json", R"({"cniVersion": "0.3.1", "name": "j", "type": "ptp"})");
  auto sel = SelectNetworkConfig(dir.path());
  ASSERT_TRUE(sel.network);
  EXPECT_EQ(sel.network->name, "j");
}

TEST(CniConfig, ReportsWhyNothingWasSelected) {
  TempDir dir;
  WriteFile(dir / "10-bad.conflist", R"({"cniVersion": "1.0.0", "name": "n", "plugins": []})");
  auto sel = SelectNetworkConfig(dir.path());
  EXPECT_FALSE(sel.network);
  ASSERT_EQ(sel.skipped.size(), 1u);
  EXPECT_NE(sel.skipped[0].find("\"plugins\" is empty"), std::string::npos);

  auto missing = SelectNetworkConfig(dir / "does-not-exist");
  EXPECT_FALSE(missing.network);
  ASSERT_EQ(missing.skipped.size(), 1u);
}

TEST(CniDefaultNetwork, DefaultConflistIsBridgeHostLocalPortmapWithoutMasquerade) {
  auto list = ParseConfigList(DefaultConflist());
  ASSERT_TRUE(list) << list.error().ToString();
  EXPECT_EQ(list->name, "peapod");
  ASSERT_EQ(list->plugins.size(), 2u);
  const auto& bridge = list->plugins[0].raw;
  EXPECT_EQ(bridge["type"], "bridge");
  EXPECT_EQ(bridge["bridge"], "peapod0");
  EXPECT_EQ(bridge["isGateway"], true);
  EXPECT_EQ(bridge["ipMasq"], false);
  EXPECT_EQ(bridge["hairpinMode"], true);
  EXPECT_EQ(bridge["ipam"]["type"], "host-local");
  EXPECT_EQ(bridge["ipam"]["ranges"][0][0]["subnet"], "10.88.0.0/16");
  EXPECT_EQ(bridge["ipam"]["routes"][0]["dst"], "0.0.0.0/0");
  EXPECT_EQ(list->plugins[1].type, "portmap");
  EXPECT_TRUE(list->HasCapability(list->plugins[1], "portMappings"));
  EXPECT_EQ(list->plugins[1].raw["snat"], true);

  DefaultNetworkOptions masq;
  masq.ip_masq = true;
  EXPECT_EQ(ParseConfigList(DefaultConflist(masq))->plugins[0].raw["ipMasq"], true);
}

TEST(CniDefaultNetwork, StaticConflistInScriptsMatchesTheGeneratedOne) {
  auto file = LoadConfigFile(std::string(PEAPOD_SOURCE_DIR) + "/scripts/cni/10-peapod.conflist");
  ASSERT_TRUE(file) << file.error().ToString();
  EXPECT_EQ(file->raw, ParseConfigList(DefaultConflist())->raw);
}

TEST(CniDefaultNetwork, WritesDefaultOnlyWhenDirectoryHasNoConfig) {
  TempDir dir;
  auto wrote = WriteDefaultConflistIfMissing(dir / "net.d");
  ASSERT_TRUE(wrote) << wrote.error().ToString();
  EXPECT_TRUE(*wrote);
  EXPECT_EQ(SelectNetworkConfig(dir / "net.d").network->name, "peapod");

  TempDir other;
  WriteFile(other / "50-mine.conf", R"({"cniVersion": "1.0.0", "name": "mine", "type": "ptp"})");
  auto again = WriteDefaultConflistIfMissing(other.path());
  ASSERT_TRUE(again);
  EXPECT_FALSE(*again);
  EXPECT_EQ(SelectNetworkConfig(other.path()).network->name, "mine");
}

}  // namespace
}  // namespace peapod::cni
