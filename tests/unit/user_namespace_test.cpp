// The pod's ID mappings: what kubelet and critest send is accepted, what would map the node's
// root, leave the image's ids unmapped or not be a single range is refused; host ids of
// container ids; the /proc map format.
#include "peapod/runtime/user_namespace.h"

#include <gtest/gtest.h>

namespace peapod::runtime {
namespace {

TEST(PodIdMappings, KubeletsAndCritestsRangesAreAccepted) {
  EXPECT_TRUE(CheckPodIdMappings({{0, 65536, 65536}}, "uids"));
  EXPECT_TRUE(CheckPodIdMappings({{0, 65536 * 7, 65536 * 2}}, "uids"));
  EXPECT_TRUE(CheckPodIdMappings({{0, 1000, 100000}}, "uids"));  // critest's defaultMapping
}

TEST(PodIdMappings, UnsaneRangesAreRefusedNamingTheField) {
  struct Case {
    std::vector<IdMap> maps;
    const char* because;
  };
  const Case cases[] = {
      {{}, "exactly one mapping"},
      {{{0, 65536, 65536}, {65536, 131072, 65536}}, "exactly one mapping"},
      {{{1, 65536, 65536}}, "container id 0"},
      {{{0, 65536, 1000}}, "at least 65536"},
      {{{0, 0, 65536}}, "node's root"},
      {{{0, 0xFFFF0000u, 65536}}, "last host id"},
  };
  for (const auto& c : cases) {
    auto s = CheckPodIdMappings(c.maps, "linux.userns_options.uids");
    ASSERT_FALSE(s) << c.because;
    EXPECT_EQ(s.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(s.error().message.find("linux.userns_options.uids"), std::string::npos);
    EXPECT_NE(s.error().message.find(c.because), std::string::npos) << s.error().message;
  }
}

TEST(PodIdMappings, HostIdOfMapsInsideTheRangeOnly) {
  std::vector<IdMap> maps = {{0, 131072, 65536}};
  EXPECT_EQ(HostIdOf(maps, 0), 131072u);
  EXPECT_EQ(HostIdOf(maps, 65535), 131072u + 65535u);
  EXPECT_EQ(HostIdOf(maps, 65536), std::nullopt);
  EXPECT_EQ(HostIdOf({}, 0), std::nullopt);
}

TEST(PodIdMappings, FormatIsWhatProcUidMapTakes) {
  EXPECT_EQ(FormatIdMap({{0, 131072, 65536}}), "0 131072 65536\n");
  EXPECT_EQ(FormatIdMap({{0, 1, 2}, {3, 4, 5}}), "0 1 2\n3 4 5\n");
}

}  // namespace
}  // namespace peapod::runtime
