#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "peapod/runtime/security.h"
#include "support/temp_dir.h"

namespace peapod::runtime {
namespace {

using peapod::testing::TempDir;
using peapod::testing::WriteFile;

class ResolveUserTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ::mkdir((dir_ / "etc").c_str(), 0755);
    WriteFile(dir_ / "etc/passwd",
              "root:x:0:0:root:/root:/bin/sh\n"
              "# comment\n"
              "nginx:x:101:101:nginx:/var/cache/nginx:/sbin/nologin\n"
              "app:x:1000:1000::/home/app:/bin/sh\n"
              "broken line\n");
    WriteFile(dir_ / "etc/group",
              "root:x:0:\n"
              "nginx:x:101:\n"
              "app:x:1000:\n"
              "wheel:x:10:app,root\n"
              "audio:x:29:nginx,app\n");
  }
  Result<ResolvedUser> Resolve(UserRequest req) { return ResolveUser(dir_.path(), req); }

  TempDir dir_;
};

TEST_F(ResolveUserTest, EmptyUserIsRoot) {
  auto u = Resolve({});
  ASSERT_TRUE(u) << u.error().ToString();
  EXPECT_EQ(u->uid, 0u);
  EXPECT_EQ(u->gid, 0u);
  EXPECT_EQ(u->home, "/root");
  EXPECT_EQ(u->additional_gids, std::vector<gid_t>{10});
}

TEST_F(ResolveUserTest, NameGivesUidPrimaryGroupHomeAndMemberships) {
  auto u = Resolve({.image_user = "app"});
  ASSERT_TRUE(u);
  EXPECT_EQ(u->uid, 1000u);
  EXPECT_EQ(u->gid, 1000u);
  EXPECT_EQ(u->home, "/home/app");
  EXPECT_EQ(u->additional_gids, (std::vector<gid_t>{10, 29}));
}

TEST_F(ResolveUserTest, NumericUidFoundAndNotFound) {
  auto u = Resolve({.image_user = "101"});
  ASSERT_TRUE(u);
  EXPECT_EQ(u->gid, 101u);
  EXPECT_EQ(u->name, "nginx");
  auto unknown = Resolve({.image_user = "4242"});
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->uid, 4242u);
  EXPECT_EQ(unknown->gid, 0u);
  EXPECT_EQ(unknown->home, "/");
}

TEST_F(ResolveUserTest, UserColonGroupForms) {
  auto a = Resolve({.image_user = "1000:29"});
  ASSERT_TRUE(a);
  EXPECT_EQ(a->uid, 1000u);
  EXPECT_EQ(a->gid, 29u);
  auto b = Resolve({.image_user = "nginx:audio"});
  ASSERT_TRUE(b);
  EXPECT_EQ(b->uid, 101u);
  EXPECT_EQ(b->gid, 29u);
  auto c = Resolve({.image_user = "nginx:nosuchgroup"});
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code, ErrorCode::kFailedPrecondition);
}

TEST_F(ResolveUserTest, TheCrisUserReplacesTheImagesUserWithItsGroupAsContainerdDoes) {
  auto uid = Resolve({.image_user = "nginx:audio", .run_as_user = 1000});
  ASSERT_TRUE(uid) << uid.error().ToString();
  EXPECT_EQ(uid->uid, 1000u);
  EXPECT_EQ(uid->gid, 1000u) << "app's own group, not the image's audio";
  auto name = Resolve({.image_user = "nginx:nosuchgroup", .run_as_username = "app"});
  ASSERT_TRUE(name) << "the image's group is not looked at: " << name.error().ToString();
  EXPECT_EQ(name->gid, 1000u);
  auto both = Resolve({.run_as_user = 101, .run_as_username = "app"});
  ASSERT_TRUE(both) << both.error().ToString();
  EXPECT_EQ(both->uid, 1000u) << "the name wins over the uid, as in containerd and CRI-O";
}

// Not kNotFound: that is the CRI's "no such id" (kubelet reads it as "already gone").
TEST_F(ResolveUserTest, UnknownNameIsAFailedPrecondition) {
  auto u = Resolve({.image_user = "ghost"});
  ASSERT_FALSE(u);
  EXPECT_EQ(u.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_NE(u.error().message.find("ghost"), std::string::npos);
}

TEST_F(ResolveUserTest, SecurityContextWinsAndAddsGroups) {
  auto u = Resolve({.image_user = "nginx:audio",
                    .run_as_user = 1000,
                    .run_as_group = 3000,
                    .supplemental_groups = {4000, 10},
                    .fs_group = 2000});
  ASSERT_TRUE(u);
  EXPECT_EQ(u->uid, 1000u);
  EXPECT_EQ(u->gid, 3000u);
  EXPECT_EQ(u->home, "/home/app");
  EXPECT_EQ(u->additional_gids, (std::vector<gid_t>{10, 29, 4000, 2000}));
  auto named = Resolve({.run_as_username = "nginx"});
  ASSERT_TRUE(named);
  EXPECT_EQ(named->uid, 101u);
}

TEST_F(ResolveUserTest, RunAsNonRootRefusesRootAndUnverifiableNames) {
  auto root = Resolve({.run_as_non_root = true});
  ASSERT_FALSE(root);
  EXPECT_EQ(root.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_EQ(root.error().message, "container has runAsNonRoot and image will run as root");
  EXPECT_FALSE(Resolve({.image_user = "0:0", .run_as_non_root = true}));
  auto named = Resolve({.image_user = "app", .run_as_non_root = true});
  ASSERT_FALSE(named);
  EXPECT_NE(named.error().message.find("non-numeric user (app)"), std::string::npos);
  EXPECT_FALSE(Resolve({.run_as_user = 0, .run_as_non_root = true}));
  EXPECT_TRUE(Resolve({.image_user = "app", .run_as_user = 1000, .run_as_non_root = true}));
  EXPECT_TRUE(Resolve({.image_user = "1000", .run_as_non_root = true}));
}

TEST_F(ResolveUserTest, SymlinkedPasswdIsResolvedInsideTheRootfs) {
  TempDir outside;
  WriteFile(outside / "passwd", "evil:x:0:0::/:/bin/sh\n");
  ::unlink((dir_ / "etc/passwd").c_str());
  // Absolute and climbing links: both must stay inside the rootfs.
  ASSERT_EQ(::symlink((outside / "passwd").c_str(), (dir_ / "etc/passwd").c_str()), 0);
  auto u = Resolve({.image_user = "evil"});
  ASSERT_FALSE(u);
  EXPECT_EQ(u.error().code, ErrorCode::kFailedPrecondition);

  ::unlink((dir_ / "etc/passwd").c_str());
  std::string climb = "../../../../../../../../.." + outside.path() + "/passwd";
  ASSERT_EQ(::symlink(climb.c_str(), (dir_ / "etc/passwd").c_str()), 0);
  EXPECT_FALSE(Resolve({.image_user = "evil"}));

  // A link that stays inside the rootfs is followed.
  ::mkdir((dir_ / "data").c_str(), 0755);
  WriteFile(dir_ / "data/passwd", "inside:x:7:7::/in:/bin/sh\n");
  ::unlink((dir_ / "etc/passwd").c_str());
  ASSERT_EQ(::symlink("/data/passwd", (dir_ / "etc/passwd").c_str()), 0);
  auto in = Resolve({.image_user = "inside"});
  ASSERT_TRUE(in) << in.error().ToString();
  EXPECT_EQ(in->uid, 7u);
}

TEST_F(ResolveUserTest, MissingFilesMeanNoEntries) {
  TempDir empty;
  auto u = ResolveUser(empty.path(), {.image_user = "1234:5"});
  ASSERT_TRUE(u);
  EXPECT_EQ(u->uid, 1234u);
  EXPECT_EQ(u->gid, 5u);
  EXPECT_FALSE(ResolveUser(empty.path(), {.image_user = "nobody"}));
}

}  // namespace
}  // namespace peapod::runtime
