// The docker config.json-style auth file peapodd reads registry credentials from.
#include <gtest/gtest.h>

#include <string>

#include "peapod/image/registry_client.h"

namespace peapod::image {
namespace {

constexpr char kPath[] = "/etc/peapod/auth.json";

void ExpectMessage(const std::string& text, const std::string& expected) {
  auto parsed = ParseAuthFile(text, kPath);
  ASSERT_FALSE(parsed.has_value()) << "accepted: " << text;
  EXPECT_EQ(parsed.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(parsed.error().message.find(expected), std::string::npos)
      << parsed.error().message << "\nexpected to contain: " << expected;
}

TEST(RegistryAuthFile, ReadsEncodedAuthAndUsernamePasswordEntries) {
  // base64("alice:correct horse battery staple")
  auto parsed = ParseAuthFile(R"({
    "auths": {
      "127.0.0.1:5000": {"auth": "YWxpY2U6Y29ycmVjdCBob3JzZSBiYXR0ZXJ5IHN0YXBsZQ=="},
      "https://index.docker.io/v1/": {"username": "bob", "password": "pw:with:colons"},
      "registry.example": {"identitytoken": "refresh"}
    },
    "credHelpers": {"gcr.io": "gcloud"}
  })",
                              kPath);
  ASSERT_TRUE(parsed.has_value()) << parsed.error().ToString();
  ASSERT_EQ(parsed->size(), 3u);
  const AuthConfig& local = parsed->at("127.0.0.1:5000");
  EXPECT_EQ(local.username, "alice");
  EXPECT_EQ(local.password, "correct horse battery staple");
  EXPECT_EQ(local.server_address, "127.0.0.1:5000");
  const AuthConfig& hub = parsed->at("docker.io");
  EXPECT_EQ(hub.username, "bob");
  EXPECT_EQ(hub.password, "pw:with:colons");
  EXPECT_EQ(parsed->at("registry.example").identity_token, "refresh");
}

TEST(RegistryAuthFile, AFileWithoutAuthsHasNoCredentials) {
  auto parsed = ParseAuthFile(R"({"credsStore": "desktop"})", kPath);
  ASSERT_TRUE(parsed.has_value()) << parsed.error().ToString();
  EXPECT_TRUE(parsed->empty());
}

TEST(RegistryAuthFile, DamagedFilesAreErrorsNamingFileAndHost) {
  ExpectMessage("{\"auths\": ", "auth file /etc/peapod/auth.json: not valid JSON");
  ExpectMessage("[]", "auth file /etc/peapod/auth.json: expected a JSON object");
  ExpectMessage(R"({"auths": []})", "\"auths\" must be an object");
  ExpectMessage(R"({"auths": {"r.example": {"auth": "not base64!"}}})",
                "auths[\"r.example\"]: \"auth\" is not base64 of \"username:password\"");
  // base64("nocolon")
  ExpectMessage(R"({"auths": {"r.example": {"auth": "bm9jb2xvbg=="}}})",
                "\"auth\" is not base64 of \"username:password\"");
  ExpectMessage(R"({"auths": {"r.example": {"username": "u"}}})",
                "auths[\"r.example\"]: a username needs a password");
  ExpectMessage(R"({"auths": {"r.example": {}}})", "auths[\"r.example\"]: no credentials");
  ExpectMessage(R"({"auths": {"r.example": {"username": 7, "password": "p"}}})",
                "username: expected a string");
  ExpectMessage(R"({"auths": {"docker.io": {"username": "a", "password": "b"},
                              "https://index.docker.io/v1/": {"username": "c", "password": "d"}}})",
                "a second entry for docker.io");
}

TEST(RegistryAuthFile, HostsAreNormalized) {
  EXPECT_EQ(NormalizeRegistryHost("https://index.docker.io/v1/"), "docker.io");
  EXPECT_EQ(NormalizeRegistryHost("registry-1.docker.io"), "docker.io");
  EXPECT_EQ(NormalizeRegistryHost("http://127.0.0.1:5000/v2/"), "127.0.0.1:5000");
  EXPECT_EQ(NormalizeRegistryHost("Quay.IO"), "quay.io");
}

}  // namespace
}  // namespace peapod::image
