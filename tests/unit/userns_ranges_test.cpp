// The controller's per-pod user namespace ranges: kubelet's 65536-sized ranges above the node's
// own ids, one per pod, the same one again for the same pod, never one another process holds,
// kept across a new allocator on the same directory (an agent restart), freed on release.
#include "../../agent/controller/userns_ranges.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "support/temp_dir.h"

namespace peapod::agent::controller {
namespace {

using peapod::testing::ReadFile;
using peapod::testing::TempDir;
using peapod::testing::WriteFile;

TEST(UserNamespaceRanges, EachPodGetsItsOwnRangeAndKeepsIt) {
  TempDir dir("peapod-userns-ranges");
  UserNamespaceRanges ranges(dir / "ranges");
  auto a = ranges.Acquire("uid-a");
  auto b = ranges.Acquire("uid-b");
  ASSERT_TRUE(a && b);
  EXPECT_EQ(*a, 65536u);
  EXPECT_EQ(*b, 2 * 65536u);
  EXPECT_EQ(ranges.Acquire("uid-a").value_or(0), *a) << "the same pod, the same range";
  EXPECT_EQ(ReadFile(dir / "ranges/1"), "uid-a");

  // A new allocator on the same directory, as after an agent restart.
  UserNamespaceRanges again(dir / "ranges");
  EXPECT_EQ(again.Acquire("uid-b").value_or(0), *b);
  EXPECT_EQ(again.Acquire("uid-c").value_or(0), 3 * 65536u);

  ASSERT_TRUE(again.Release("uid-a"));
  EXPECT_FALSE(std::filesystem::exists(dir / "ranges/1"));
  EXPECT_TRUE(again.Release("uid-a")) << "releasing twice is not an error";
  EXPECT_EQ(again.Acquire("uid-d").value_or(0), 65536u) << "the lowest free range is reused";
}

TEST(UserNamespaceRanges, ARangeClaimedElsewhereIsSkippedAndLeftoversAreFreed) {
  TempDir dir("peapod-userns-ranges");
  std::filesystem::create_directories(dir / "ranges");
  WriteFile(dir / "ranges/1", "uid-other");
  UserNamespaceRanges ranges(dir / "ranges");
  EXPECT_EQ(ranges.Acquire("uid-a").value_or(0), 2 * 65536u);
  ranges.ReleaseAllBut({"uid-a"});
  EXPECT_FALSE(std::filesystem::exists(dir / "ranges/1"));
  EXPECT_TRUE(std::filesystem::exists(dir / "ranges/2"));
  EXPECT_FALSE(ranges.Acquire(""));
  EXPECT_FALSE(ranges.Acquire("bad\nuid"));
}

}  // namespace
}  // namespace peapod::agent::controller
