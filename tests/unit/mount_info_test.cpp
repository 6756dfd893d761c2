// FindMountHolding: which mount of a mountinfo text holds a path, and its propagation.
#include "peapod/runtime/mount_info.h"

#include <gtest/gtest.h>

namespace peapod::runtime {
namespace {

constexpr char kMountinfo[] =
    "22 1 253:0 / / rw,relatime - ext4 /dev/vda rw\n"
    "30 22 0:25 / /mnt rw shared:7 - tmpfs tmpfs rw\n"
    "31 30 0:26 / /mnt/slave rw master:7 - tmpfs tmpfs rw\n"
    "32 30 0:27 / /mnt/both rw shared:9 master:7 - tmpfs tmpfs rw\n"
    "33 22 0:28 / /with\\040space rw shared:3 - tmpfs tmpfs rw\n"
    "34 30 0:29 / /mnt/stacked rw shared:11 - tmpfs tmpfs rw\n"
    "35 34 0:30 / /mnt/stacked rw - tmpfs tmpfs rw\n";

TEST(FindMountHolding, TheDeepestMountPointContainingThePathWins) {
  auto root = FindMountHolding(kMountinfo, "/var/lib/x");
  ASSERT_TRUE(root);
  EXPECT_EQ(root->mount_point, "/");
  EXPECT_FALSE(root->shared);
  EXPECT_FALSE(root->slave);

  auto shared = FindMountHolding(kMountinfo, "/mnt/data/dir");
  ASSERT_TRUE(shared);
  EXPECT_EQ(shared->mount_point, "/mnt");
  EXPECT_TRUE(shared->shared);
  EXPECT_FALSE(shared->slave);

  auto slave = FindMountHolding(kMountinfo, "/mnt/slave");
  ASSERT_TRUE(slave);
  EXPECT_EQ(slave->mount_point, "/mnt/slave");
  EXPECT_FALSE(slave->shared);
  EXPECT_TRUE(slave->slave);

  auto both = FindMountHolding(kMountinfo, "/mnt/both/x");
  ASSERT_TRUE(both);
  EXPECT_TRUE(both->shared);
  EXPECT_TRUE(both->slave);
}

TEST(FindMountHolding, APrefixThatIsNotAPathComponentDoesNotCount) {
  auto state = FindMountHolding(kMountinfo, "/mntx/file");
  ASSERT_TRUE(state);
  EXPECT_EQ(state->mount_point, "/");
}

TEST(FindMountHolding, EscapedMountPointsAreUnescaped) {
  auto state = FindMountHolding(kMountinfo, "/with space/inside");
  ASSERT_TRUE(state);
  EXPECT_EQ(state->mount_point, "/with space");
  EXPECT_TRUE(state->shared);
}

TEST(FindMountHolding, OfStackedMountsTheTopmostCounts) {
  auto state = FindMountHolding(kMountinfo, "/mnt/stacked/x");
  ASSERT_TRUE(state);
  EXPECT_FALSE(state->shared);
}

TEST(FindMountHolding, NothingHoldsAPathInAnEmptyTable) {
  EXPECT_FALSE(FindMountHolding("", "/x"));
  EXPECT_FALSE(FindMountHolding("garbage line\n", "/x"));
}

}  // namespace
}  // namespace peapod::runtime
