#include <gtest/gtest.h>

#include "peapod/image/reference.h"

namespace peapod::image {
namespace {

Reference Parse(const char* text) {
  auto r = ParseReference(text);
  EXPECT_TRUE(r.has_value()) << text << ": " << (r ? "" : r.error().message);
  return r.value_or(Reference{});
}

TEST(ImageReference, BareNameGetsDockerHubLibraryAndLatest) {
  Reference r = Parse("busybox");
  EXPECT_EQ(r.domain, "docker.io");
  EXPECT_EQ(r.path, "library/busybox");
  EXPECT_EQ(r.tag, "latest");
  EXPECT_EQ(r.String(), "docker.io/library/busybox:latest");
  EXPECT_EQ(r.Familiar(), "busybox:latest");
}

TEST(ImageReference, DockerHubNamespaceIsKeptWithoutLibrary) {
  EXPECT_EQ(Parse("bitnami/nginx:1.25").String(), "docker.io/bitnami/nginx:1.25");
  EXPECT_EQ(Parse("docker.io/busybox").String(), "docker.io/library/busybox:latest");
  EXPECT_EQ(Parse("index.docker.io/library/busybox:1").String(), "docker.io/library/busybox:1");
}

TEST(ImageReference, HostWithPortIsADomainNotATag) {
  Reference r = Parse("host:5000/ns/name:tag");
  EXPECT_EQ(r.domain, "host:5000");
  EXPECT_EQ(r.path, "ns/name");
  EXPECT_EQ(r.tag, "tag");
  Reference untagged = Parse("127.0.0.1:5000/busybox");
  EXPECT_EQ(untagged.domain, "127.0.0.1:5000");
  EXPECT_EQ(untagged.path, "busybox");
  EXPECT_EQ(untagged.tag, "latest");
  EXPECT_EQ(Parse("localhost/app").domain, "localhost");
  EXPECT_EQ(Parse("[::1]:5000/app:v1").domain, "[::1]:5000");
}

TEST(ImageReference, DigestReferenceHasNoDefaultTag) {
  std::string digest = "sha256:" + std::string(64, 'a');
  Reference r = Parse(("busybox@" + digest).c_str());
  EXPECT_EQ(r.tag, "");
  EXPECT_EQ(r.digest, digest);
  EXPECT_EQ(r.String(), "docker.io/library/busybox@" + digest);
}

TEST(ImageReference, TagAndDigestAreBothKept) {
  std::string digest = "sha256:" + std::string(64, 'b');
  Reference r = Parse(("reg.example.com/a/b:1.0@" + digest).c_str());
  EXPECT_EQ(r.tag, "1.0");
  EXPECT_EQ(r.digest, digest);
  EXPECT_EQ(r.String(), "reg.example.com/a/b:1.0@" + digest);
}

TEST(ImageReference, SeparatorsInsideComponentsAreAccepted) {
  EXPECT_TRUE(ParseReference("ns/a.b_c__d---e/f-g:v1.2_3-rc").has_value());
}

struct BadReference {
  const char* text;
  const char* reason;
};

class ImageReferenceRejects : public ::testing::TestWithParam<BadReference> {};

TEST_P(ImageReferenceRejects, InvalidReferenceWithItsReason) {
  auto r = ParseReference(GetParam().text);
  ASSERT_FALSE(r.has_value()) << GetParam().text;
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(r.error().message.find(GetParam().reason), std::string::npos) << r.error().message;
}

INSTANTIATE_TEST_SUITE_P(
    Grammar, ImageReferenceRejects,
    ::testing::Values(BadReference{"", "empty"}, BadReference{"Busybox", "lowercase"},
                      BadReference{"busybox:", "invalid tag"},
                      BadReference{"busybox:-bad", "invalid tag"},
                      BadReference{"busybox@sha256:abc", "64 lowercase hex"},
                      BadReference{"busybox@md5:abc", "digest"},
                      BadReference{"a//b", "component"}, BadReference{"-a/b", "component"},
                      BadReference{"a__-b", "component"}, BadReference{"ns/Name", "lowercase"},
                      BadReference{"host:port/x", "registry host"},
                      BadReference{"ho_st.com/x", "registry host"},
                      BadReference{"a/b:" "tag with space", "invalid tag"},
                      BadReference{
                          "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
                          "64-byte hexadecimal"}));

TEST(ImageReference, OverlongTagIsRejected) {
  auto r = ParseReference("busybox:" + std::string(129, 'a'));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
}

TEST(ImageReference, NoDefaultTagVariantLeavesTagEmpty) {
  auto r = ParseReferenceNoDefaultTag("busybox");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->tag, "");
  EXPECT_EQ(r->RepoTag(), "");
}

}  // namespace
}  // namespace peapod::image
