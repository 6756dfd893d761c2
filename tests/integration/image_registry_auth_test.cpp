// Pulls from Debian's docker-registry on loopback with auth turned on: htpasswd (a Basic
// challenge) and the bearer-token flow, where the registry trusts tokens from a token server the
// test runs. Images are pushed before auth is turned on, since push.sh speaks no auth.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "peapod/image/image_service.h"
#include "support/registry.h"
#include "support/registry_token_server.h"
#include "support/temp_dir.h"

namespace peapod::image {
namespace {

namespace fs = std::filesystem;
using peapod::testing::LocalRegistry;
using peapod::testing::RegistryTokenServer;
using peapod::testing::TempDir;
using peapod::testing::TestImagesDir;
using peapod::testing::TokenRequest;

constexpr char kUser[] = "alice";
constexpr char kPassword[] = "correct horse battery staple";
constexpr char kRefreshToken[] = "refresh-token-of-alice";

std::unique_ptr<LocalRegistry> StartRegistryWithBusybox() {
  auto registry = LocalRegistry::Start();
  EXPECT_TRUE(registry.has_value()) << registry.error().ToString();
  if (!registry) return nullptr;
  auto pushed = (*registry)->Push(TestImagesDir() + "/busybox", "busybox:latest");
  EXPECT_TRUE(pushed.has_value()) << pushed.error().ToString();
  return std::move(*registry);
}

class RegistryAuthTest : public ::testing::Test {
 protected:
  std::unique_ptr<ImageService> Service(const std::string& sub) {
    ImageServiceOptions opts;
    opts.root = dir_ / sub;
    auto service = ImageService::Open(opts);
    EXPECT_TRUE(service.has_value()) << service.error().ToString();
    return service ? std::move(*service) : nullptr;
  }

  // Pulls busybox:latest into a fresh image service and checks the image is usable.
  void ExpectPullSucceeds(const std::string& registry_host, const AuthConfig& auth) {
    auto service = Service("ok");
    ASSERT_NE(service, nullptr);
    const std::string ref = registry_host + "/busybox:latest";
    auto id = service->Pull(ref, auth);
    ASSERT_TRUE(id.has_value()) << id.error().ToString();
    auto image = service->Resolve(ref);
    ASSERT_TRUE(image.has_value()) << image.error().ToString();
    EXPECT_EQ(image->record.id, *id);
    EXPECT_TRUE(fs::exists(image->layer_dirs.back() + "/bin/busybox"));
  }

  Error ExpectPullFails(const std::string& registry_host, const AuthConfig& auth) {
    auto service = Service("denied");
    if (service == nullptr) return {};
    auto id = service->Pull(registry_host + "/busybox:latest", auth);
    EXPECT_FALSE(id.has_value()) << "pulled " << *id;
    EXPECT_TRUE(service->List().empty());
    return id ? Error{} : id.error();
  }

  TempDir dir_{"peapod-registry-auth"};
};

// docker-registry's `auth: htpasswd`: every request needs Basic credentials of a user in the
// file, which the registry asks for with `WWW-Authenticate: Basic realm=...`.
class BasicAuthPull : public RegistryAuthTest {
 protected:
  static void SetUpTestSuite() {
    registry_ = StartRegistryWithBusybox();
    ASSERT_NE(registry_, nullptr);
    auto line = peapod::testing::HtpasswdLine(kUser, kPassword);
    ASSERT_TRUE(line.has_value()) << line.error().ToString();
    const std::string htpasswd = registry_->Dir() + "/htpasswd";
    std::ofstream(htpasswd) << *line << "\n";
    auto restarted = registry_->Restart(
        {.extra_config =
             "auth:\n  htpasswd:\n    realm: peapod-test\n    path: " + htpasswd + "\n"});
    ASSERT_TRUE(restarted.has_value()) << restarted.error().ToString();
  }
  static void TearDownTestSuite() { registry_.reset(); }

  static inline std::unique_ptr<LocalRegistry> registry_;
};

TEST_F(BasicAuthPull, WithoutCredentialsIsDeniedNamingTheRegistry) {
  Error error = ExpectPullFails(registry_->HostPort(), {});
  EXPECT_EQ(error.code, ErrorCode::kPermissionDenied) << error.ToString();
  EXPECT_NE(error.message.find("registry " + registry_->HostPort() + " requires credentials"),
            std::string::npos)
      << error.message;
}

TEST_F(BasicAuthPull, WithUsernameAndPasswordSucceeds) {
  ExpectPullSucceeds(registry_->HostPort(), {.username = kUser, .password = kPassword});
}

TEST_F(BasicAuthPull, WithTheEncodedAuthFieldSucceeds) {
  // base64("alice:correct horse battery staple"), as kubelet passes a dockerconfigjson "auth".
  ExpectPullSucceeds(registry_->HostPort(),
                     {.auth = "YWxpY2U6Y29ycmVjdCBob3JzZSBiYXR0ZXJ5IHN0YXBsZQ=="});
}

TEST_F(BasicAuthPull, WithAWrongPasswordIsDeniedNamingTheRegistry) {
  Error error = ExpectPullFails(registry_->HostPort(), {.username = kUser, .password = "wrong"});
  EXPECT_EQ(error.code, ErrorCode::kPermissionDenied) << error.ToString();
  EXPECT_NE(error.message.find(registry_->HostPort()), std::string::npos) << error.message;
  EXPECT_NE(error.message.find("401"), std::string::npos) << error.message;
}

// docker-registry's `auth: token`: the registry answers 401 with a Bearer challenge naming the
// token server (realm), its service and the scope; the client gets a JWT there and retries.
class TokenAuthPull : public RegistryAuthTest {
 protected:
  static void SetUpTestSuite() {
    auto server = RegistryTokenServer::Start(
        {.users = {{kUser, kPassword}}, .refresh_tokens = {{kRefreshToken, kUser}}});
    ASSERT_TRUE(server.has_value()) << server.error().ToString();
    token_server_ = std::move(*server);
    registry_ = StartRegistryWithBusybox();
    ASSERT_NE(registry_, nullptr);
    auto pushed = registry_->Push(TestImagesDir() + "/busybox-layers", "layers:1");
    ASSERT_TRUE(pushed.has_value()) << pushed.error().ToString();
    auto restarted = registry_->Restart({.extra_config = token_server_->RegistryAuthConfig()});
    ASSERT_TRUE(restarted.has_value()) << restarted.error().ToString();
  }
  static void TearDownTestSuite() {
    registry_.reset();
    token_server_.reset();
  }

  // The token requests made since the test began.
  std::vector<TokenRequest> NewTokenRequests() const {
    auto all = token_server_->Requests();
    return {all.begin() + static_cast<std::ptrdiff_t>(requests_before_), all.end()};
  }
  std::string TokenServerHost() const {
    std::string realm = token_server_->Realm();  // http://127.0.0.1:PORT/token
    return realm.substr(7, realm.rfind('/') - 7);
  }

  static inline std::unique_ptr<RegistryTokenServer> token_server_;
  static inline std::unique_ptr<LocalRegistry> registry_;
  size_t requests_before_ = token_server_ ? token_server_->Requests().size() : 0;
};

TEST_F(TokenAuthPull, WithCredentialsGetsOnePullTokenFromTheChallengedRealm) {
  ExpectPullSucceeds(registry_->HostPort(), {.username = kUser, .password = kPassword});
  // One token serves the manifest and every blob of the pull.
  auto requests = NewTokenRequests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].method, "GET");
  EXPECT_EQ(requests[0].service, "peapod-test-registry");
  EXPECT_EQ(requests[0].scopes, std::vector<std::string>{"repository:busybox:pull"});
  EXPECT_EQ(requests[0].user, kUser);
  EXPECT_EQ(requests[0].status, 200);
}

TEST_F(TokenAuthPull, LayersDownloadedInParallelShareTheSessionsToken) {
  auto service = Service("layers");
  ASSERT_NE(service, nullptr);
  const std::string ref = registry_->HostPort() + "/layers:1";
  auto id = service->Pull(ref, {.username = kUser, .password = kPassword});
  ASSERT_TRUE(id.has_value()) << id.error().ToString();
  auto image = service->Resolve(ref);
  ASSERT_TRUE(image.has_value()) << image.error().ToString();
  EXPECT_GT(image->layer_dirs.size(), 1u);
  auto requests = NewTokenRequests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].scopes, std::vector<std::string>{"repository:layers:pull"});
}

TEST_F(TokenAuthPull, WithAWrongPasswordReportsTheTokenServerRefusal) {
  Error error = ExpectPullFails(registry_->HostPort(), {.username = kUser, .password = "wrong"});
  EXPECT_EQ(error.code, ErrorCode::kPermissionDenied) << error.ToString();
  EXPECT_NE(error.message.find("token server " + TokenServerHost() + " refused access to " +
                               registry_->HostPort() + "/busybox"),
            std::string::npos)
      << error.message;
  EXPECT_NE(error.message.find("invalid credentials"), std::string::npos) << error.message;
  auto requests = NewTokenRequests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].user, kUser);
  EXPECT_EQ(requests[0].status, 401);
}

TEST_F(TokenAuthPull, WithoutCredentialsAsksAnonymouslyAndIsDenied) {
  Error error = ExpectPullFails(registry_->HostPort(), {});
  EXPECT_EQ(error.code, ErrorCode::kPermissionDenied) << error.ToString();
  EXPECT_NE(error.message.find("anonymous access is not allowed"), std::string::npos)
      << error.message;
  auto requests = NewTokenRequests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].user, "");
  EXPECT_EQ(requests[0].scopes, std::vector<std::string>{"repository:busybox:pull"});
}

TEST_F(TokenAuthPull, WithARegistryTokenSendsItWithoutAskingTheTokenServer) {
  auto token = token_server_->Issue(kUser, {"repository:busybox:pull"});
  ASSERT_TRUE(token.has_value()) << token.error().ToString();
  ExpectPullSucceeds(registry_->HostPort(), {.registry_token = *token});
  EXPECT_TRUE(NewTokenRequests().empty());
}

TEST_F(TokenAuthPull, WithAnIdentityTokenUsesTheRefreshTokenGrant) {
  ExpectPullSucceeds(registry_->HostPort(), {.identity_token = kRefreshToken});
  auto requests = NewTokenRequests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].method, "POST");
  EXPECT_EQ(requests[0].grant_type, "refresh_token");
  EXPECT_EQ(requests[0].service, "peapod-test-registry");
  EXPECT_EQ(requests[0].scopes, std::vector<std::string>{"repository:busybox:pull"});
  EXPECT_EQ(requests[0].user, kUser);
}

// The successes above are not the registry waving tokens through: one signed by a key it does
// not trust, or granting another repository, sends the client back to the token server.
TEST_F(TokenAuthPull, RegistryRefusesTokensItShouldNot) {
  auto stranger = RegistryTokenServer::Start({});
  ASSERT_TRUE(stranger.has_value()) << stranger.error().ToString();
  auto untrusted = (*stranger)->Issue(kUser, {"repository:busybox:pull"});
  ASSERT_TRUE(untrusted.has_value()) << untrusted.error().ToString();
  auto other_repo = token_server_->Issue(kUser, {"repository:other:pull"});
  ASSERT_TRUE(other_repo.has_value()) << other_repo.error().ToString();
  for (const std::string& token : {*untrusted, *other_repo}) {
    Error error = ExpectPullFails(registry_->HostPort(), {.registry_token = token});
    EXPECT_EQ(error.code, ErrorCode::kPermissionDenied) << error.ToString();
  }
  // Each refusal carried a challenge the client answered, anonymously, at the token server.
  auto requests = NewTokenRequests();
  ASSERT_EQ(requests.size(), 2u);
  for (const auto& r : requests) EXPECT_EQ(r.status, 401);
}

}  // namespace
}  // namespace peapod::image
