#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

#include "peapod/cni/result_cache.h"
#include "support/temp_dir.h"

namespace peapod::cni {
namespace {

using nlohmann::json;
using peapod::testing::TempDir;

CacheEntry SampleEntry(const std::string& id, const std::string& network) {
  CacheEntry e;
  e.container_id = id;
  e.ifname = "eth0";
  e.network_name = network;
  e.netns = "/run/netns/" + id;
  e.cni_args = "IgnoreUnknown=1;K8S_POD_INFRA_CONTAINER_ID=" + id;
  e.config = {{"cniVersion", "1.0.0"}, {"name", network}, {"plugins", {{{"type", "bridge"}}}}};
  e.capability_args = {{"portMappings", {{{"hostPort", 1}, {"containerPort", 2}}}}};
  e.result = json{{"cniVersion", "1.0.0"}, {"ips", {{{"address", "10.0.0.2/24"}}}}};
  return e;
}

TEST(CniResultCache, RoundTripsAnEntryExactly) {
  TempDir dir;
  ResultCache cache(dir / "cache");
  CacheEntry e = SampleEntry("sb1", "net");
  ASSERT_TRUE(cache.Write(e));
  auto found = cache.Find("sb1", "eth0");
  ASSERT_TRUE(found) << found.error().ToString();
  ASSERT_EQ(found->size(), 1u);
  const CacheEntry& got = (*found)[0];
  EXPECT_EQ(got.container_id, "sb1");
  EXPECT_EQ(got.netns, e.netns);
  EXPECT_EQ(got.cni_args, e.cni_args);
  EXPECT_EQ(got.config, e.config);
  EXPECT_EQ(got.capability_args, e.capability_args);
  ASSERT_TRUE(got.result);
  EXPECT_EQ(*got.result, *e.result);
}

TEST(CniResultCache, OverwritesAndLeavesNoTempFiles) {
  TempDir dir;
  ResultCache cache(dir.path());
  CacheEntry e = SampleEntry("sb1", "net");
  e.result.reset();
  ASSERT_TRUE(cache.Write(e));
  EXPECT_FALSE((*cache.Find("sb1", "eth0"))[0].result);
  e.result = json{{"cniVersion", "1.0.0"}};
  ASSERT_TRUE(cache.Write(e));
  EXPECT_TRUE((*cache.Find("sb1", "eth0"))[0].result);
  int files = 0;
  for (const auto& f : std::filesystem::directory_iterator(dir.path())) {
    ++files;
    EXPECT_EQ(f.path().extension(), ".json") << f.path();
  }
  EXPECT_EQ(files, 1);
}

TEST(CniResultCache, FindsOnlyTheAskedSandboxAndInterface) {
  TempDir dir;
  ResultCache cache(dir.path());
  ASSERT_TRUE(cache.Write(SampleEntry("sb1", "net")));
  ASSERT_TRUE(cache.Write(SampleEntry("sb1", "other")));
  ASSERT_TRUE(cache.Write(SampleEntry("sb1_eth0", "net")));  // a '_' must not confuse lookup
  ASSERT_TRUE(cache.Write(SampleEntry("sb2", "net")));
  EXPECT_EQ(cache.Find("sb1", "eth0")->size(), 2u);
  EXPECT_EQ(cache.Find("sb2", "eth0")->size(), 1u);
  EXPECT_EQ(cache.Find("sb1", "eth1")->size(), 0u);
  EXPECT_EQ(cache.Find("sb1_eth0", "eth0")->size(), 1u);
}

TEST(CniResultCache, RemoveDeletesTheEntryAndIsIdempotent) {
  TempDir dir;
  ResultCache cache(dir.path());
  CacheEntry e = SampleEntry("sb1", "net");
  ASSERT_TRUE(cache.Write(e));
  ASSERT_TRUE(cache.Remove(e));
  EXPECT_TRUE(cache.Find("sb1", "eth0")->empty());
  EXPECT_TRUE(cache.Remove(e));
}

TEST(CniResultCache, MissingDirectoryMeansNothingCached) {
  TempDir dir;
  ResultCache cache(dir / "nope");
  auto found = cache.Find("sb1", "eth0");
  ASSERT_TRUE(found);
  EXPECT_TRUE(found->empty());
}

TEST(CniResultCache, EscapesIdsThatAreNotSafeFileNames) {
  TempDir dir;
  ResultCache cache(dir.path());
  CacheEntry e = SampleEntry("../../etc/x", "net");
  ASSERT_TRUE(cache.Write(e));
  EXPECT_EQ(std::filesystem::path(cache.PathFor(e)).parent_path(), dir.path());
  EXPECT_EQ(cache.Find("../../etc/x", "eth0")->size(), 1u);
}

TEST(CniResultCache, RejectsFilesThatAreNotCacheEntries) {
  EXPECT_FALSE(CacheEntryFromJson("{}"));
  EXPECT_FALSE(CacheEntryFromJson("not json"));
  EXPECT_FALSE(CacheEntryFromJson(R"({"kind": "peapod-cni-cache", "containerId": "x"})"));
}

}  // namespace
}  // namespace peapod::cni
