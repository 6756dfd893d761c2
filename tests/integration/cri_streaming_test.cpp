// CRI streaming against a real peapodd and busybox: Exec (SPDY and WebSocket, pipes and a
// terminal), Attach to a container's output, PortForward to an httpd inside a pod, the tokens'
// single use and expiry, and no process left behind by a client that disconnects mid-exec.
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "cri_test_fixture.h"
#include "peapod/cri/streaming/client.h"
#include "peapod/cri/streaming/http.h"
#include "peapod/cri/streaming/spdy.h"
#include "support/registry.h"

namespace peapod::testing {
namespace {

using Stub = v1::RuntimeService::Stub;
namespace streaming = cri::streaming;

struct Pipe {
  UniqueFd read, write;
  Pipe() {
    int fds[2];
    EXPECT_EQ(::pipe2(fds, O_CLOEXEC), 0);
    read.Reset(fds[0]);
    write.Reset(fds[1]);
  }
};

std::string ReadAll(int fd) {
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return out;
    out.append(buf, static_cast<size_t>(n));
  }
}

// Processes in the cgroup of `pid`: v1's pids hierarchy, else the unified one (mounted at
// /sys/fs/cgroup, or /sys/fs/cgroup/unified on hybrid hosts); -1 when unknown.
int ProcessesInCgroupOf(const std::string& pid) {
  std::ifstream in("/proc/" + pid + "/cgroup");
  std::vector<std::string> candidates;
  std::string line;
  while (std::getline(in, line)) {
    auto pids = line.find(":pids:");
    if (pids != std::string::npos) {
      candidates.insert(candidates.begin(), "/sys/fs/cgroup/pids" + line.substr(pids + 6));
    }
    if (line.starts_with("0::")) {
      candidates.push_back("/sys/fs/cgroup/unified" + line.substr(3));
      candidates.push_back("/sys/fs/cgroup" + line.substr(3));
    }
  }
  for (const auto& dir : candidates) {
    std::ifstream procs(dir + "/cgroup.procs");
    if (!procs) continue;
    int count = 0;
    while (std::getline(procs, line)) count += !line.empty();
    return count;
  }
  return -1;
}

// Open descriptors of process `pid`.
int OpenFds(pid_t pid) {
  std::error_code ec;
  int count = 0;
  for (auto it = std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    ++count;
  }
  return count;
}

class CriStreaming : public CriBusyboxTest {
 protected:
  void SetUp() override {
    CriBusyboxTest::SetUp();
    if (HasFatalFailure()) return;
    pod_config_ = TestPodConfig("stream");
    pod_config_.set_log_directory(daemon_->log_dir() + "/stream");
    auto status = RunPod(pod_config_, &pod_id_);
    ASSERT_TRUE(status.ok()) << Describe(status);
  }

  // Creates and starts a busybox container running `command`.
  std::string StartContainer(const std::string& name, std::vector<std::string> command) {
    v1::CreateContainerRequest req;
    req.set_pod_sandbox_id(pod_id_);
    auto* config = req.mutable_config();
    config->mutable_metadata()->set_name(name);
    config->mutable_image()->set_image(BusyboxRef());
    for (auto& c : command) config->add_command(c);
    config->set_log_path(name + ".log");
    *req.mutable_sandbox_config() = pod_config_;
    v1::CreateContainerResponse resp;
    auto status = CriCall(runtime(), &Stub::CreateContainer, req, &resp);
    EXPECT_TRUE(status.ok()) << Describe(status);
    v1::StartContainerRequest start;
    start.set_container_id(resp.container_id());
    v1::StartContainerResponse started;
    status = CriCall(runtime(), &Stub::StartContainer, start, &started);
    EXPECT_TRUE(status.ok()) << Describe(status);
    return resp.container_id();
  }

  grpc::Status Exec(const std::string& id, std::vector<std::string> cmd, bool in, bool out,
                    bool err, bool tty, std::string* url) {
    v1::ExecRequest req;
    req.set_container_id(id);
    for (auto& c : cmd) req.add_cmd(c);
    req.set_stdin(in);
    req.set_stdout(out);
    req.set_stderr(err);
    req.set_tty(tty);
    v1::ExecResponse resp;
    auto status = CriCall(runtime(), &Stub::Exec, req, &resp);
    *url = resp.url();
    return status;
  }

  std::string PortForwardUrl() {
    v1::PortForwardRequest req;
    req.set_pod_sandbox_id(pod_id_);
    req.add_port(8080);
    v1::PortForwardResponse resp;
    auto status = CriCall(runtime(), &Stub::PortForward, req, &resp);
    EXPECT_TRUE(status.ok()) << Describe(status);
    return resp.url();
  }

  // An HTTP/1.0 GET through a fresh port-forward; the whole response, or the error.
  Result<std::string> FetchThroughPortForward(const std::string& path,
                                              streaming::StreamProtocol protocol) {
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
      return FailErrno("socketpair");
    UniqueFd ours(sv[0]), theirs(sv[1]);
    std::string url = PortForwardUrl();
    Status forwarded = Ok();
    std::thread forwarder([&] {
      forwarded = streaming::ForwardPort(url, 8080, theirs.Get(), protocol);
      ::shutdown(theirs.Get(), SHUT_RDWR);
    });
    std::string request = "GET " + path + " HTTP/1.0\r\nHost: pod\r\n\r\n";
    (void)!::write(ours.Get(), request.data(), request.size());
    std::string response = ReadAll(ours.Get());
    forwarder.join();
    if (!forwarded) return std::unexpected(forwarded.error());
    return response;
  }

  // Waits (bounded) until busybox httpd in the pod answers, then returns the page.
  std::string FetchWhenServing(streaming::StreamProtocol protocol) {
    std::string last_error;
    for (int i = 0; i < 100; ++i) {
      auto page = FetchThroughPortForward("/index.html", protocol);
      if (page && !page->empty()) return *page;
      last_error = page ? "empty response" : page.error().ToString();
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ADD_FAILURE() << "httpd never answered: " << last_error;
    return "";
  }

  static inline std::unique_ptr<LocalRegistry> registry_;
  v1::PodSandboxConfig pod_config_;
  std::string pod_id_;
};

class CriStreamingShortTokens : public CriStreaming {
 protected:
  std::vector<std::string> ExtraDaemonArgs() const override { return {"--stream-token-ttl", "1"}; }
};

TEST_F(CriStreaming, ExecPipesStdinAndReturnsTheExitCode) {
  std::string id = StartContainer("sleeper", {"sleep", "3600"});
  for (auto protocol : {streaming::StreamProtocol::kSpdy, streaming::StreamProtocol::kWebSocket}) {
    SCOPED_TRACE(protocol == streaming::StreamProtocol::kSpdy ? "SPDY" : "WebSocket");
    std::string url;
    auto status =
        Exec(id, {"sh", "-c", "tr a-z A-Z; echo oops >&2; exit 7"}, true, true, true, false, &url);
    ASSERT_TRUE(status.ok()) << Describe(status);
    EXPECT_TRUE(url.starts_with("http://127.0.0.1:")) << url;
    Pipe in, out, err;
    std::string input = "hello from stdin\n" + std::string(200000, 'x') + "\n";
    std::thread feeder([&] {
      (void)!::write(in.write.Get(), input.data(), input.size());
      in.write.Reset();
    });
    std::string stdout_data, stderr_data;
    std::thread out_reader([&] { stdout_data = ReadAll(out.read.Get()); });
    std::thread err_reader([&] { stderr_data = ReadAll(err.read.Get()); });
    streaming::RemoteCommandIo io;
    io.stdin_fd = in.read.Get();
    io.stdout_fd = out.write.Get();
    io.stderr_fd = err.write.Get();
    io.protocol = protocol;
    auto code = streaming::RunRemoteCommand(url, io);
    out.write.Reset();
    err.write.Reset();
    feeder.join();
    out_reader.join();
    err_reader.join();
    ASSERT_TRUE(code) << code.error().ToString();
    EXPECT_EQ(*code, 7);
    std::string upper = input;
    for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    EXPECT_EQ(stdout_data, upper);
    EXPECT_EQ(stderr_data, "oops\n");
  }
}

TEST_F(CriStreaming, TtyExecSeesItsWindowResized) {
  std::string id = StartContainer("sleeper", {"sleep", "3600"});
  for (auto protocol : {streaming::StreamProtocol::kSpdy, streaming::StreamProtocol::kWebSocket}) {
    SCOPED_TRACE(protocol == streaming::StreamProtocol::kSpdy ? "SPDY" : "WebSocket");
    std::string url;
    auto status = Exec(id,
                       {"sh", "-c",
                        "echo ready; while read x; do [ \"$x\" = q ] && exit 3; "
                        "stty size; done"},
                       true, true, false, true, &url);
    ASSERT_TRUE(status.ok()) << Describe(status);
    Pipe in, out;
    streaming::TerminalSizeQueue sizes;
    sizes.Push({.width = 123, .height = 45});
    streaming::RemoteCommandIo io;
    io.stdin_fd = in.read.Get();
    io.stdout_fd = out.write.Get();
    io.tty = true;
    io.resize = &sizes;
    io.protocol = protocol;
    Result<int> code = 0;
    std::thread session([&] {
      code = streaming::RunRemoteCommand(url, io);
      out.write.Reset();
    });
    // Ask for the size until the resize has reached the terminal (bounded).
    std::string seen;
    char buf[1024];
    for (int i = 0; i < 100 && seen.find("45 123") == std::string::npos; ++i) {
      (void)!::write(in.write.Get(), "\n", 1);
      pollfd pfd{out.read.Get(), POLLIN, 0};
      while (::poll(&pfd, 1, 100) > 0) {
        ssize_t n = ::read(out.read.Get(), buf, sizeof(buf));
        if (n <= 0) break;
        seen.append(buf, static_cast<size_t>(n));
      }
    }
    EXPECT_NE(seen.find("ready"), std::string::npos) << seen;
    EXPECT_NE(seen.find("45 123"), std::string::npos) << seen;
    (void)!::write(in.write.Get(), "q\n", 2);
    session.join();
    ASSERT_TRUE(code) << code.error().ToString();
    EXPECT_EQ(*code, 3);
  }
}

TEST_F(CriStreaming, PortForwardFetchesAPageFromHttpdInThePod) {
  StartContainer("web", {"sh", "-c",
                         "mkdir -p /www && echo hello-from-the-pod > /www/index.html && "
                         "exec httpd -f -p 8080 -h /www"});
  std::string page = FetchWhenServing(streaming::StreamProtocol::kSpdy);
  EXPECT_NE(page.find("200 OK"), std::string::npos) << page;
  EXPECT_NE(page.find("hello-from-the-pod"), std::string::npos) << page;
  page = FetchWhenServing(streaming::StreamProtocol::kWebSocket);
  EXPECT_NE(page.find("hello-from-the-pod"), std::string::npos) << page;
  page = FetchWhenServing(streaming::StreamProtocol::kSpdyOverWebSocket);
  EXPECT_NE(page.find("hello-from-the-pod"), std::string::npos) << page;
}

TEST_F(CriStreaming, PortForwardToAClosedPortReportsTheError) {
  auto page = FetchThroughPortForward("/", streaming::StreamProtocol::kSpdy);
  ASSERT_FALSE(page);
  EXPECT_NE(page.error().message.find("8080"), std::string::npos) << page.error().ToString();
}

TEST_F(CriStreaming, AReusedTokenIsRefused) {
  std::string id = StartContainer("sleeper", {"sleep", "3600"});
  std::string url;
  ASSERT_TRUE(Exec(id, {"true"}, false, true, false, false, &url).ok());
  Pipe out;
  streaming::RemoteCommandIo io;
  io.stdout_fd = out.write.Get();
  auto first = streaming::RunRemoteCommand(url, io);
  ASSERT_TRUE(first) << first.error().ToString();
  EXPECT_EQ(*first, 0);
  auto second = streaming::RunRemoteCommand(url, io);
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code, ErrorCode::kNotFound) << second.error().ToString();
}

TEST_F(CriStreamingShortTokens, AnExpiredTokenIsRefused) {
  std::string id = StartContainer("sleeper", {"sleep", "3600"});
  std::string url;
  ASSERT_TRUE(Exec(id, {"true"}, false, true, false, false, &url).ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // the daemon's TTL is 1 s
  Pipe out;
  streaming::RemoteCommandIo io;
  io.stdout_fd = out.write.Get();
  auto code = streaming::RunRemoteCommand(url, io);
  ASSERT_FALSE(code);
  EXPECT_EQ(code.error().code, ErrorCode::kNotFound) << code.error().ToString();
}

TEST_F(CriStreaming, AClientThatDisconnectsMidExecLeavesNoProcess) {
  std::string id = StartContainer("sleeper", {"sleep", "3600"});
  v1::ContainerStatusRequest sreq;
  sreq.set_container_id(id);
  sreq.set_verbose(true);
  v1::ContainerStatusResponse sresp;
  ASSERT_TRUE(CriCall(runtime(), &Stub::ContainerStatus, sreq, &sresp).ok());
  std::string pid = sresp.info().at("pid");
  int before = ProcessesInCgroupOf(pid);
  ASSERT_GE(before, 1);

  std::string url;
  ASSERT_TRUE(Exec(id, {"sleep", "1000"}, true, true, false, false, &url).ok());
  int daemon_fds_before = OpenFds(daemon_->pid());
  // A client by hand, so it can vanish mid-stream: upgrade, open its streams, then close.
  auto parsed = streaming::ParseHttpUrl(url);
  ASSERT_TRUE(parsed);
  auto fd = streaming::ConnectTcp(parsed->host, parsed->port);
  ASSERT_TRUE(fd) << fd.error().ToString();
  std::string request = "POST " + parsed->target +
                        " HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n"
                        "X-Stream-Protocol-Version: v4.channel.k8s.io\r\n\r\n";
  ASSERT_EQ(::write(fd->Get(), request.data(), request.size()),
            static_cast<ssize_t>(request.size()));
  auto head = streaming::ReadHttpHead(fd->Get(), false);
  ASSERT_TRUE(head);
  ASSERT_EQ(head->status, 101);
  {
    streaming::SocketTransport transport(std::move(*fd), head->rest);
    streaming::SpdyConnection conn(transport);
    ASSERT_TRUE(conn.SendSynStream(1, {{"streamtype", "error"}}));
    ASSERT_TRUE(conn.SendSynStream(3, {{"streamtype", "stdin"}}));
    ASSERT_TRUE(conn.SendSynStream(5, {{"streamtype", "stdout"}}));
    int during = before;
    for (int i = 0; i < 200 && during <= before; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      during = ProcessesInCgroupOf(pid);
    }
    ASSERT_GT(during, before) << "the exec never showed up in the container's cgroup";
  }  // the connection closes here, mid-exec
  int after = -1;
  for (int i = 0; i < 200; ++i) {
    after = ProcessesInCgroupOf(pid);
    if (after == before) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(after, before);
  // ...and the daemon let go of the session's socket, pipes, pidfds and eventfds.
  int daemon_fds_after = -1;
  for (int i = 0; i < 200; ++i) {
    daemon_fds_after = OpenFds(daemon_->pid());
    if (daemon_fds_after <= daemon_fds_before) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_LE(daemon_fds_after, daemon_fds_before);
}

TEST_F(CriStreaming, AttachStreamsANonTtyContainersOutputUntilItStops) {
  std::string id = StartContainer("ticker", {"sh", "-c",
                                             "i=0; while true; do echo tick $i; echo tock $i >&2; "
                                             "i=$((i+1)); sleep 0.1; done"});
  v1::AttachRequest req;
  req.set_container_id(id);
  req.set_stdout(true);
  req.set_stderr(true);
  v1::AttachResponse resp;
  auto status = CriCall(runtime(), &Stub::Attach, req, &resp);
  ASSERT_TRUE(status.ok()) << Describe(status);
  Pipe out, err;
  streaming::RemoteCommandIo io;
  io.stdout_fd = out.write.Get();
  io.stderr_fd = err.write.Get();
  Result<int> code = -1;
  std::thread session([&] {
    code = streaming::RunRemoteCommand(resp.url(), io);
    out.write.Reset();
    err.write.Reset();
  });
  // Read until a few ticks came through (bounded), then stop the container: attach ends.
  std::string seen;
  char buf[1024];
  for (int i = 0; i < 200 && seen.find("tick", seen.find("tick") + 1) == std::string::npos; ++i) {
    pollfd pfd{out.read.Get(), POLLIN, 0};
    if (::poll(&pfd, 1, 100) <= 0) continue;
    ssize_t n = ::read(out.read.Get(), buf, sizeof(buf));
    if (n <= 0) break;
    seen.append(buf, static_cast<size_t>(n));
  }
  v1::StopContainerRequest stop;
  stop.set_container_id(id);
  stop.set_timeout(1);
  v1::StopContainerResponse stopped;
  ASSERT_TRUE(CriCall(runtime(), &Stub::StopContainer, stop, &stopped).ok());
  std::string errors;
  std::thread err_reader([&] { errors = ReadAll(err.read.Get()); });
  seen += ReadAll(out.read.Get());
  session.join();
  err_reader.join();
  ASSERT_TRUE(code) << code.error().ToString();
  EXPECT_EQ(*code, 0);
  EXPECT_NE(seen.find("tick "), std::string::npos) << seen;
  EXPECT_EQ(seen.find("tock"), std::string::npos) << "stderr leaked into stdout: " << seen;
  EXPECT_NE(errors.find("tock "), std::string::npos) << errors;
  // The CRI log still records everything.
  std::ifstream log(daemon_->log_dir() + "/stream/ticker.log");
  std::stringstream logged;
  logged << log.rdbuf();
  EXPECT_NE(logged.str().find(" stdout F tick "), std::string::npos) << logged.str();
}

TEST_F(CriStreaming, StreamingRequestsAreValidatedAsKubeletDoes) {
  std::string id = StartContainer("sleeper", {"sleep", "3600"});
  std::string url;
  EXPECT_EQ(Exec("no-such-container", {"true"}, false, true, false, false, &url).error_code(),
            grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Exec(id, {"true"}, false, false, false, false, &url).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Exec(id, {"true"}, false, true, true, true, &url).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Exec(id, {}, false, true, false, false, &url).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  std::string exited = StartContainer("quick", {"true"});
  for (int i = 0; i < 100; ++i) {
    v1::ContainerStatusRequest req;
    req.set_container_id(exited);
    v1::ContainerStatusResponse resp;
    if (CriCall(runtime(), &Stub::ContainerStatus, req, &resp).ok() &&
        resp.status().state() == v1::CONTAINER_EXITED) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(Exec(exited, {"true"}, false, true, false, false, &url).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  v1::PortForwardRequest req;
  req.set_pod_sandbox_id("no-such-pod");
  v1::PortForwardResponse resp;
  EXPECT_EQ(CriCall(runtime(), &Stub::PortForward, req, &resp).error_code(),
            grpc::StatusCode::NOT_FOUND);
  ASSERT_TRUE(StopPod(pod_id_).ok());
  req.set_pod_sandbox_id(pod_id_);
  EXPECT_EQ(CriCall(runtime(), &Stub::PortForward, req, &resp).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
}

}  // namespace
}  // namespace peapod::testing
