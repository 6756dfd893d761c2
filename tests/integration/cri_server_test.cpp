// CriServer in-process: the unix socket's life (stale files, a live server already there,
// permissions, removal on shutdown).
#include "peapod/cri/cri_server.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>

#include "peapod/agent/agent.h"
#include "support/temp_dir.h"

namespace peapod::testing {
namespace {

class CriServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::filesystem::create_directories(root_ / "net.d");
    agent::AgentConfig config;
    config.state_root = root_ / "state";
    config.run_root = root_ / "run";
    config.pause_binary = PEAPOD_PAUSE_BINARY;
    config.cni.conf_dir = root_ / "net.d";
    // Never the default "peapod": the agent sweeps its parent's unknown pods at start-up.
    config.cgroup_parent = "peapod-cri-server-test-" + std::to_string(::getpid());
    auto opened = agent::Agent::Open(config);
    ASSERT_TRUE(opened) << opened.error().ToString();
    agent_ = std::move(*opened);
  }

  cri::CriServerOptions Options() const {
    cri::CriServerOptions options;
    options.socket_path = socket_path_;
    return options;
  }

  // Leaves a socket file nobody listens on, as a killed daemon does.
  void MakeStaleSocket() {
    std::filesystem::create_directories(root_ / "sock");
    int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    ASSERT_GE(fd, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, socket_path_.c_str(), sizeof(addr.sun_path) - 1);
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    ::close(fd);
  }

  TempDir root_{"peapod-cri-server"};
  std::string socket_path_ = root_ / "sock/peapod.sock";
  std::unique_ptr<agent::Agent> agent_;
};

TEST_F(CriServerTest, ServesOnAGroupOnlySocketInAPrivateDirectoryAndRemovesItOnShutdown) {
  auto server = cri::CriServer::Start(*agent_, Options());
  ASSERT_TRUE(server) << server.error().ToString();
  struct stat st {};
  ASSERT_EQ(::stat(socket_path_.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0660u);
  ASSERT_EQ(::stat((root_ / "sock").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u);
  (*server)->Shutdown();
  EXPECT_NE(::stat(socket_path_.c_str(), &st), 0);
  (*server)->Shutdown();  // idempotent
}

TEST_F(CriServerTest, ReplacesAStaleSocketFile) {
  MakeStaleSocket();
  auto server = cri::CriServer::Start(*agent_, Options());
  ASSERT_TRUE(server) << server.error().ToString();
}

TEST_F(CriServerTest, RefusesASocketAnotherServerListensOn) {
  auto first = cri::CriServer::Start(*agent_, Options());
  ASSERT_TRUE(first) << first.error().ToString();
  auto second = cri::CriServer::Start(*agent_, Options());
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code, ErrorCode::kAlreadyExists);
  struct stat st {};
  EXPECT_EQ(::stat(socket_path_.c_str(), &st), 0) << "the first server's socket must stay";
}

TEST_F(CriServerTest, RefusesToReplaceAFileThatIsNotASocket) {
  std::filesystem::create_directories(root_ / "sock");
  WriteFile(socket_path_, "precious");
  auto server = cri::CriServer::Start(*agent_, Options());
  ASSERT_FALSE(server);
  EXPECT_EQ(server.error().code, ErrorCode::kAlreadyExists);
  EXPECT_EQ(ReadFile(socket_path_), "precious");
}

TEST_F(CriServerTest, RejectsRelativeAndOverlongPaths) {
  auto options = Options();
  options.socket_path = "peapod.sock";
  auto server = cri::CriServer::Start(*agent_, options);
  ASSERT_FALSE(server);
  EXPECT_EQ(server.error().code, ErrorCode::kInvalidArgument);
  options.socket_path = "/tmp/" + std::string(200, 'x') + ".sock";
  server = cri::CriServer::Start(*agent_, options);
  ASSERT_FALSE(server);
  EXPECT_EQ(server.error().code, ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace peapod::testing
