// peapodd as a service: the systemd notification protocol (READY=1 once the CRI socket serves,
// STOPPING=1 on SIGTERM), the config file with --print-config, and pulls from the local registry
// through a config file's mirrors and an auth file's credentials.
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "cri_test_fixture.h"
#include "support/temp_dir.h"

namespace peapod::testing {
namespace {

bool Connectable(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  ::close(fd);
  return ok;
}

// The argument after `flag` in /proc/<pid>/cmdline.
std::string ArgumentOf(pid_t pid, const std::string& flag) {
  std::string cmdline = ReadFile("/proc/" + std::to_string(pid) + "/cmdline");
  std::vector<std::string> args;
  std::stringstream in(cmdline);
  for (std::string arg; std::getline(in, arg, '\0');) args.push_back(arg);
  for (size_t i = 0; i + 1 < args.size(); ++i) {
    if (args[i] == flag) return args[i + 1];
  }
  return "";
}

// A NOTIFY_SOCKET the test owns: a datagram socket whose messages carry their sender's pid.
class NotifySocket {
 public:
  explicit NotifySocket(const std::string& path) : path_(path) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
    int on = 1;
    ok_ = fd_ >= 0 && ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
          ::setsockopt(fd_, SOL_SOCKET, SO_PASSCRED, &on, sizeof(on)) == 0;
  }
  ~NotifySocket() {
    if (fd_ >= 0) ::close(fd_);
    ::unlink(path_.c_str());
  }
  bool ok() const { return ok_; }

  struct Message {
    std::string text;
    pid_t sender = 0;
  };
  // The next message, or nothing within `timeout_ms`.
  std::optional<Message> Receive(int timeout_ms) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, timeout_ms) != 1) return std::nullopt;
    char buf[4096];
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(ucred))];
    iovec iov{buf, sizeof(buf)};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    ssize_t n = ::recvmsg(fd_, &msg, 0);
    if (n < 0) return std::nullopt;
    Message out{std::string(buf, static_cast<size_t>(n)), 0};
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS) {
        ucred cred;
        std::memcpy(&cred, CMSG_DATA(c), sizeof(cred));
        out.sender = cred.pid;
      }
    }
    return out;
  }

 private:
  std::string path_;
  int fd_ = -1;
  bool ok_ = false;
};

bool HasLine(const std::string& text, const std::string& line) {
  std::stringstream in(text);
  for (std::string l; std::getline(in, l);) {
    if (l == line) return true;
  }
  return false;
}

TEST(PeapoddNotify, SaysReadyOnlyOnceItsSocketAcceptsAndStoppingOnSigterm) {
  TempDir dir("peapod-notify");
  NotifySocket notify(dir / "notify.sock");
  ASSERT_TRUE(notify.ok()) << std::strerror(errno);
  // What the daemon's READY=1 found: read at the moment it arrives, from the sender's own
  // --listen argument.
  std::optional<NotifySocket::Message> ready;
  bool serving_at_ready = false;
  std::thread watcher([&] {
    while (auto message = notify.Receive(30'000)) {
      if (!HasLine(message->text, "READY=1")) continue;
      serving_at_ready = Connectable(ArgumentOf(message->sender, "--listen"));
      ready = message;
      return;
    }
  });
  ::setenv("NOTIFY_SOCKET", (dir / "notify.sock").c_str(), 1);
  auto daemon = PeapoddProcess::Start({.cni_conf_dir = dir.path()});
  ::unsetenv("NOTIFY_SOCKET");
  watcher.join();
  ASSERT_TRUE(daemon.has_value()) << daemon.error().ToString();
  ASSERT_TRUE(ready.has_value()) << "no READY=1 from peapodd:\n" << (*daemon)->Log();
  EXPECT_EQ(ready->sender, (*daemon)->pid());
  EXPECT_TRUE(serving_at_ready) << "READY=1 came before the CRI socket accepted";
  EXPECT_TRUE(HasLine(ready->text, "STATUS=serving on " + (*daemon)->socket_path())) << ready->text;

  int status = (*daemon)->Terminate(SIGTERM);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  auto stopping = notify.Receive(5'000);
  ASSERT_TRUE(stopping.has_value()) << "no STOPPING=1 from peapodd:\n" << (*daemon)->Log();
  EXPECT_EQ(stopping->text, "STOPPING=1");
}

struct Output {
  int status = -1;
  std::string text;  // stdout and stderr
};

Output RunPeapodd(const std::string& args) {
  Output out;
  std::string command = PeapoddProcess::BinaryPath() + " " + args + " 2>&1";
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), pipe)) > 0) out.text.append(buf, n);
  int status = ::pclose(pipe);
  out.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return out;
}

TEST(PeapoddConfig, PrintConfigShowsTheFileWithTheFlagsOverIt) {
  TempDir dir("peapod-config");
  WriteFile(dir / "config.yaml",
            "listen: /run/from-file.sock\n"
            "cgroup-parent: from-file\n"
            "registries:\n"
            "  docker.io:\n"
            "    mirrors: [\"http://127.0.0.1:5000\"]\n"
            "warm-pool-size: 3\n");
  Output out = RunPeapodd("--config " + dir / "config.yaml" +
                          " --cgroup-parent from-flag --registry-mirror "
                          "gcr.io=http://127.0.0.1:5001 --print-config");
  ASSERT_EQ(out.status, 0) << out.text;
  EXPECT_TRUE(HasLine(out.text, "# config file: " + dir / "config.yaml")) << out.text;
  EXPECT_TRUE(HasLine(out.text, "listen: /run/from-file.sock")) << out.text;
  EXPECT_TRUE(HasLine(out.text, "cgroup-parent: from-flag")) << out.text;
  EXPECT_TRUE(HasLine(out.text, "  docker.io:")) << out.text;
  EXPECT_TRUE(HasLine(out.text, "  gcr.io:")) << out.text;
  EXPECT_TRUE(HasLine(out.text, "      - \"http://127.0.0.1:5001\"")) << out.text;
  EXPECT_TRUE(HasLine(out.text, "warm-pool-size: 3")) << out.text;
  EXPECT_TRUE(HasLine(out.text, "pause-binary: " + std::string(PEAPOD_PAUSE_BINARY))) << out.text;

  // What it printed is a config file that gives the same configuration.
  WriteFile(dir / "printed.yaml", out.text);
  Output again = RunPeapodd("--config " + dir / "printed.yaml" + " --print-config");
  ASSERT_EQ(again.status, 0) << again.text;
  EXPECT_EQ(again.text.substr(again.text.find('\n')), out.text.substr(out.text.find('\n')));
}

TEST(PeapoddConfig, ABadFileStopsTheDaemonNamingFileAndLine) {
  TempDir dir("peapod-config");
  WriteFile(dir / "config.yaml", "listen: /run/p.sock\nstream-token-ttl: [1]\n");
  Output out = RunPeapodd("--config " + dir / "config.yaml" + " --print-config");
  EXPECT_EQ(out.status, 2) << out.text;
  EXPECT_NE(out.text.find(dir / "config.yaml:2:19: stream-token-ttl: expected an integer, found "
                                "a sequence"),
            std::string::npos)
      << out.text;

  out = RunPeapodd("--config " + dir / "missing.yaml" + " --print-config");
  EXPECT_EQ(out.status, 2) << out.text;
  EXPECT_NE(out.text.find("config file " + dir / "missing.yaml" + " not found"), std::string::npos)
      << out.text;

  WriteFile(dir / "auth.json", R"({"auths": {"r.example": {"auth": "garbage"}}})");
  out = RunPeapodd("--config= --auth-file " + dir / "auth.json" + " --print-config");
  EXPECT_EQ(out.status, 2) << out.text;
  EXPECT_NE(out.text.find("auth file " + dir / "auth.json" + ": auths[\"r.example\"]"),
            std::string::npos)
      << out.text;
}

// Pulls through CRI from a registry on loopback that wants Basic credentials, named only through
// a mirror: images of `mirror.invalid` (a name that resolves nowhere) come from the registry.
class PeapoddRegistryConfig : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto registry = LocalRegistry::Start();
    ASSERT_TRUE(registry.has_value()) << registry.error().ToString();
    registry_ = std::move(*registry);
    auto pushed = registry_->Push(TestImagesDir() + "/busybox", "busybox:latest");
    ASSERT_TRUE(pushed.has_value()) << pushed.error().ToString();
    auto line = HtpasswdLine("carol", "s3cret pass");
    ASSERT_TRUE(line.has_value()) << line.error().ToString();
    WriteFile(registry_->Dir() + "/htpasswd", *line + "\n");
    auto restarted = registry_->Restart({.extra_config = "auth:\n  htpasswd:\n    realm: peapod\n"
                                                         "    path: " +
                                                         registry_->Dir() + "/htpasswd\n"});
    ASSERT_TRUE(restarted.has_value()) << restarted.error().ToString();
  }
  static void TearDownTestSuite() { registry_.reset(); }

  void TearDown() override {
    if (daemon_ && HasFailure()) std::cerr << "---- peapodd log ----\n" << daemon_->Log() << "\n";
    daemon_.reset();
  }

  // Starts peapodd with a config file of `config` (the auth file, when given, beside it).
  void StartWith(const std::string& config, const std::string& auth_json = "") {
    ASSERT_NE(registry_, nullptr);
    std::string text = config;
    if (!auth_json.empty()) {
      WriteFile(dir_ / "auth.json", auth_json);
      text += "auth-file: " + dir_ / "auth.json" + "\n";
    }
    WriteFile(dir_ / "config.yaml", text);
    auto daemon = PeapoddProcess::Start(
        {.cni_conf_dir = dir_.path(), .extra_args = {"--config", dir_ / "config.yaml"}});
    ASSERT_TRUE(daemon.has_value()) << daemon.error().ToString();
    daemon_ = std::move(*daemon);
  }

  std::string MirrorConfig() const {
    return "registries:\n  mirror.invalid:\n    mirrors: [\"http://" + registry_->HostPort() +
           "\"]\n";
  }

  grpc::Status Pull(const std::string& image) {
    v1::PullImageRequest req;
    req.mutable_image()->set_image(image);
    v1::PullImageResponse resp;
    return CriCall(daemon_->images(), &v1::ImageService::Stub::PullImage, req, &resp);
  }

  bool Has(const std::string& image) {
    v1::ImageStatusRequest req;
    req.mutable_image()->set_image(image);
    v1::ImageStatusResponse resp;
    auto status = CriCall(daemon_->images(), &v1::ImageService::Stub::ImageStatus, req, &resp);
    return status.ok() && resp.has_image();
  }

  static std::string AuthJson(const std::string& host, const std::string& entry) {
    return "{\"auths\": {\"" + host + "\": " + entry + "}}";
  }

  static inline std::unique_ptr<LocalRegistry> registry_;
  TempDir dir_{"peapod-registry-config"};
  std::unique_ptr<PeapoddProcess> daemon_;
};

// base64("carol:s3cret pass")
constexpr char kCarolAuth[] = R"({"auth": "Y2Fyb2w6czNjcmV0IHBhc3M="})";

TEST_F(PeapoddRegistryConfig, PullsThroughTheMirrorWithTheMirrorsCredentials) {
  StartWith(MirrorConfig(), AuthJson("http://" + registry_->HostPort(), kCarolAuth));
  ASSERT_NE(daemon_, nullptr);
  auto status = Pull("mirror.invalid/busybox:latest");
  ASSERT_TRUE(status.ok()) << Describe(status);
  EXPECT_TRUE(Has("mirror.invalid/busybox:latest"));
}

TEST_F(PeapoddRegistryConfig, WithoutCredentialsTheMirrorRefuses) {
  StartWith(MirrorConfig());
  ASSERT_NE(daemon_, nullptr);
  auto status = Pull("mirror.invalid/busybox:latest");
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED) << Describe(status);
  EXPECT_NE(
      status.error_message().find("registry " + registry_->HostPort() + " requires credentials"),
      std::string::npos)
      << status.error_message();
  EXPECT_FALSE(Has("mirror.invalid/busybox:latest"));
}

TEST_F(PeapoddRegistryConfig, TheMirroredRegistrysCredentialsAreNotSentToTheMirror) {
  StartWith(MirrorConfig(), AuthJson("mirror.invalid", kCarolAuth));
  ASSERT_NE(daemon_, nullptr);
  auto status = Pull("mirror.invalid/busybox:latest");
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED) << Describe(status);
}

TEST_F(PeapoddRegistryConfig, PullsDirectlyWithUsernameAndPasswordFromTheAuthFile) {
  StartWith("",
            AuthJson(registry_->HostPort(), R"({"username": "carol", "password": "s3cret pass"})"));
  ASSERT_NE(daemon_, nullptr);
  auto status = Pull(registry_->HostPort() + "/busybox:latest");
  ASSERT_TRUE(status.ok()) << Describe(status);
  EXPECT_TRUE(Has(registry_->HostPort() + "/busybox:latest"));
}

TEST_F(PeapoddRegistryConfig, CredentialsInTheRequestWinOverTheAuthFile) {
  StartWith("", AuthJson(registry_->HostPort(), R"({"username": "carol", "password": "wrong"})"));
  ASSERT_NE(daemon_, nullptr);
  EXPECT_EQ(Pull(registry_->HostPort() + "/busybox:latest").error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  v1::PullImageRequest req;
  req.mutable_image()->set_image(registry_->HostPort() + "/busybox:latest");
  req.mutable_auth()->set_username("carol");
  req.mutable_auth()->set_password("s3cret pass");
  v1::PullImageResponse resp;
  auto status = CriCall(daemon_->images(), &v1::ImageService::Stub::PullImage, req, &resp);
  ASSERT_TRUE(status.ok()) << Describe(status);
  EXPECT_TRUE(Has(registry_->HostPort() + "/busybox:latest"));
}

}  // namespace
}  // namespace peapod::testing
