// CRI Attach with stdin and terminals against a real peapodd and busybox: a tty container's
// console (resize, raw bytes both ways), a non-tty container's stdin pipe, stdin_once, stdin
// refused without the config's stdin, no descriptor or thread kept after sessions, and what an
// agent restart does to a container's console and stdin.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "cri_test_fixture.h"
#include "peapod/cri/streaming/client.h"
#include "peapod/unique_fd.h"
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

int CountEntries(const std::string& dir) {
  std::error_code ec;
  int count = 0;
  for (auto it = std::filesystem::directory_iterator(dir, ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    ++count;
  }
  return count;
}

// Reads `fd` into `seen` until `done(seen)` or end of file, at most ~`tries` x 100 ms.
template <typename Done>
void ReadUntil(int fd, std::string& seen, Done done, int tries = 200) {
  char buf[4096];
  for (int i = 0; i < tries && !done(seen); ++i) {
    pollfd pfd{fd, POLLIN, 0};
    if (::poll(&pfd, 1, 100) <= 0) continue;
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n <= 0) return;
    seen.append(buf, static_cast<size_t>(n));
  }
}

bool Contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

struct ContainerOptions {
  bool tty = false, stdin = false, stdin_once = false;
};

// One attach session run by the client library on its own thread, with pipes for its stdio.
class Session {
 public:
  Session(const std::string& url, bool tty, bool with_stdin, bool with_stderr) {
    io_.stdin_fd = with_stdin ? in_.read.Get() : -1;
    io_.stdout_fd = out_.write.Get();
    io_.stderr_fd = with_stderr ? err_.write.Get() : -1;
    io_.tty = tty;
    io_.resize = tty ? &sizes_ : nullptr;
    thread_ = std::thread([this, url] {
      code_ = streaming::RunRemoteCommand(url, io_);
      out_.write.Reset();
      err_.write.Reset();
    });
  }
  ~Session() { Join(); }
  void Send(std::string_view data) {
    ASSERT_EQ(::write(in_.write.Get(), data.data(), data.size()),
              static_cast<ssize_t>(data.size()));
  }
  void CloseStdin() { in_.write.Reset(); }
  void Resize(uint16_t width, uint16_t height) { sizes_.Push({.width = width, .height = height}); }
  int out() const { return out_.read.Get(); }
  Result<int> Join() {
    if (thread_.joinable()) thread_.join();
    return code_;
  }

 private:
  Pipe in_, out_, err_;
  streaming::TerminalSizeQueue sizes_;
  streaming::RemoteCommandIo io_;
  Result<int> code_ = -1;
  std::thread thread_;
};

class CriAttach : public CriBusyboxTest {
 protected:
  void SetUp() override {
    CriBusyboxTest::SetUp();
    if (HasFatalFailure()) return;
    pod_config_ = TestPodConfig("attach");
    pod_config_.set_log_directory(daemon_->log_dir() + "/attach");
    auto status = RunPod(pod_config_, &pod_id_);
    ASSERT_TRUE(status.ok()) << Describe(status);
  }

  std::string StartContainer(const std::string& name, std::vector<std::string> command,
                             ContainerOptions options) {
    v1::CreateContainerRequest req;
    req.set_pod_sandbox_id(pod_id_);
    auto* config = req.mutable_config();
    config->mutable_metadata()->set_name(name);
    config->mutable_image()->set_image(BusyboxRef());
    for (auto& c : command) config->add_command(c);
    config->set_log_path(name + ".log");
    config->set_tty(options.tty);
    config->set_stdin(options.stdin);
    config->set_stdin_once(options.stdin_once);
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

  grpc::Status Attach(const std::string& id, bool tty, bool in, bool err, std::string* url) {
    v1::AttachRequest req;
    req.set_container_id(id);
    req.set_tty(tty);
    req.set_stdin(in);
    req.set_stdout(true);
    req.set_stderr(err);
    v1::AttachResponse resp;
    auto status = CriCall(runtime(), &Stub::Attach, req, &resp);
    *url = resp.url();
    return status;
  }

  v1::ContainerStatus Status(const std::string& id) {
    v1::ContainerStatusRequest req;
    req.set_container_id(id);
    v1::ContainerStatusResponse resp;
    EXPECT_TRUE(CriCall(runtime(), &Stub::ContainerStatus, req, &resp).ok());
    return resp.status();
  }

  // The container's state once it left RUNNING (bounded wait).
  v1::ContainerStatus WaitExited(const std::string& id) {
    v1::ContainerStatus status;
    for (int i = 0; i < 200; ++i) {
      status = Status(id);
      if (status.state() == v1::CONTAINER_EXITED) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return status;
  }

  std::string Log(const std::string& name) {
    std::ifstream log(daemon_->log_dir() + "/attach/" + name + ".log");
    std::stringstream logged;
    logged << log.rdbuf();
    return logged.str();
  }

  void Stop(const std::string& id) {
    v1::StopContainerRequest stop;
    stop.set_container_id(id);
    stop.set_timeout(1);
    v1::StopContainerResponse stopped;
    ASSERT_TRUE(CriCall(runtime(), &Stub::StopContainer, stop, &stopped).ok());
  }

  static inline std::unique_ptr<LocalRegistry> registry_;
  v1::PodSandboxConfig pod_config_;
  std::string pod_id_;
};

TEST_F(CriAttach, TtyContainerRunsAShellOnItsConsoleThatSeesResizes) {
  std::string id = StartContainer("shell", {"sh"}, {.tty = true, .stdin = true});
  std::string url;
  auto status = Attach(id, true, true, false, &url);
  ASSERT_TRUE(status.ok()) << Describe(status);
  Session session(url, true, true, false);
  session.Resize(101, 31);
  // Ask until the resize has reached the console (bounded); the shell echoes and answers.
  std::string seen;
  for (int i = 0; i < 50 && !Contains(seen, "31 101"); ++i) {
    session.Send("echo h''i; stty size\n");
    ReadUntil(
        session.out(), seen, [](const std::string& s) { return Contains(s, "31 101"); }, 5);
  }
  EXPECT_TRUE(Contains(seen, "hi\r\n")) << seen;  // a terminal's output: CR LF
  EXPECT_TRUE(Contains(seen, "31 101")) << seen;
  session.Send("tty; exit 5\n");
  auto code = session.Join();
  ASSERT_TRUE(code) << code.error().ToString();
  EXPECT_EQ(*code, 0);  // attach ends with the container, whatever its exit code
  auto exited = WaitExited(id);
  EXPECT_EQ(exited.state(), v1::CONTAINER_EXITED);
  EXPECT_EQ(exited.exit_code(), 5);
  // The console is the container's own terminal, and the CRI log has what it printed.
  std::string log = Log("shell");
  EXPECT_TRUE(Contains(log, " stdout F /dev/pts/0")) << log;
  EXPECT_TRUE(Contains(log, " stdout F hi\r")) << log;
}

TEST_F(CriAttach, StdinReachesANonTtyContainerAndStaysOpenAfterTheClientsEnd) {
  std::string id = StartContainer(
      "reader", {"sh", "-c", "while read line; do echo got $line; done; echo EOF; exit 3"},
      {.stdin = true});
  std::vector<std::unique_ptr<Session>> sessions;
  for (std::string word : {"one", "two", "three"}) {
    SCOPED_TRACE(word);
    std::string url;
    auto status = Attach(id, false, true, true, &url);
    // Without stdin_once, a client's end of input is not the container's: every session may
    // write, and the shell never reads EOF.
    ASSERT_TRUE(status.ok()) << Describe(status);
    sessions.push_back(std::make_unique<Session>(url, false, true, true));
    Session& session = *sessions.back();
    session.Send(word + "\n");
    std::string seen;
    ReadUntil(session.out(), seen,
              [&](const std::string& s) { return Contains(s, "got " + word + "\n"); });
    EXPECT_EQ(seen, "got " + word + "\n");
    session.CloseStdin();
  }
  Stop(id);  // every session ends with the container
  for (auto& session : sessions) {
    auto code = session->Join();
    ASSERT_TRUE(code) << code.error().ToString();
    EXPECT_EQ(*code, 0);
  }
  std::string log = Log("reader");
  EXPECT_TRUE(Contains(log, " stdout F got three")) << log;
  EXPECT_FALSE(Contains(log, "EOF")) << log;
}

TEST_F(CriAttach, StdinOnceClosesStdinAfterTheFirstSession) {
  std::string id = StartContainer("cat", {"cat"}, {.stdin = true, .stdin_once = true});
  std::string url;
  auto status = Attach(id, false, true, true, &url);
  ASSERT_TRUE(status.ok()) << Describe(status);
  Session session(url, false, true, true);
  session.Send("only once\n");
  std::string seen;
  ReadUntil(session.out(), seen, [](const std::string& s) { return Contains(s, "only once\n"); });
  EXPECT_EQ(seen, "only once\n");
  session.CloseStdin();  // cat reads EOF and exits 0, which ends the session
  auto code = session.Join();
  ASSERT_TRUE(code) << code.error().ToString();
  EXPECT_EQ(*code, 0);
  auto exited = WaitExited(id);
  EXPECT_EQ(exited.state(), v1::CONTAINER_EXITED);
  EXPECT_EQ(exited.exit_code(), 0);
  EXPECT_TRUE(Contains(Log("cat"), " stdout F only once")) << Log("cat");
}

TEST_F(CriAttach, StdinIsRefusedUnlessTheContainerWasCreatedWithIt) {
  std::string id = StartContainer("no-stdin", {"sleep", "3600"}, {});
  std::string url;
  auto status = Attach(id, false, true, true, &url);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << Describe(status);
  EXPECT_TRUE(Contains(status.error_message(), "not created with stdin")) << status.error_message();
  // Output alone is fine.
  status = Attach(id, false, false, true, &url);
  EXPECT_TRUE(status.ok()) << Describe(status);
}

TEST_F(CriAttach, SessionsLeaveNoDescriptorOrThreadInPeapodd) {
  std::string fd_dir = "/proc/" + std::to_string(daemon_->pid()) + "/fd";
  std::string task_dir = "/proc/" + std::to_string(daemon_->pid()) + "/task";
  // Warm up: one container and session, so lazily made things (thread pools) exist already.
  auto run = [&](const std::string& name, ContainerOptions options) {
    std::vector<std::string> cmd =
        options.tty ? std::vector<std::string>{"sh"} : std::vector<std::string>{"cat"};
    std::string id = StartContainer(name, cmd, options);
    std::string url;
    auto status = Attach(id, options.tty, true, !options.tty, &url);
    ASSERT_TRUE(status.ok()) << Describe(status);
    {
      Session session(url, options.tty, true, !options.tty);
      std::string seen;
      for (int i = 0; i < 50 && !Contains(seen, "marker"); ++i) {
        session.Send(options.tty ? "echo mar''ker\n" : "marker\n");
        ReadUntil(
            session.out(), seen, [](const std::string& s) { return Contains(s, "marker"); }, 5);
      }
      EXPECT_TRUE(Contains(seen, "marker")) << seen;
      if (options.tty) session.Send("exit\n");
      session.CloseStdin();
      auto code = session.Join();
      ASSERT_TRUE(code) << code.error().ToString();
    }
    EXPECT_EQ(WaitExited(id).state(), v1::CONTAINER_EXITED);
    v1::RemoveContainerRequest rm;
    rm.set_container_id(id);
    v1::RemoveContainerResponse removed;
    ASSERT_TRUE(CriCall(runtime(), &Stub::RemoveContainer, rm, &removed).ok());
  };
  run("warm", {.stdin = true, .stdin_once = true});
  int fds_before = CountEntries(fd_dir);
  int threads_before = CountEntries(task_dir);
  for (int i = 0; i < 3; ++i) {
    run("tty-" + std::to_string(i), {.tty = true, .stdin = true});
    run("pipe-" + std::to_string(i), {.stdin = true, .stdin_once = true});
  }
  int fds_after = -1, threads_after = -1;
  for (int i = 0; i < 100; ++i) {  // session threads finish a moment after the client's end
    fds_after = CountEntries(fd_dir);
    threads_after = CountEntries(task_dir);
    if (fds_after <= fds_before && threads_after <= threads_before) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_LE(fds_after, fds_before);
  EXPECT_LE(threads_after, threads_before);
}

// The console and the stdin writer wait in the pod's pause process while no agent is there
// (runtime/fd_keeper.h): no SIGHUP, no EOF, and a restarted agent attaches to them again.
TEST_F(CriAttach, ConsoleAndStdinSurviveAnAgentKilledAndRestarted) {
  std::string shell = StartContainer("shell", {"sh"}, {.tty = true, .stdin = true});
  std::string reader = StartContainer(
      "reader", {"sh", "-c", "while read line; do echo got $line; done; echo EOF; exit 3"},
      {.stdin = true});
  std::string once = StartContainer("once", {"cat"}, {.stdin = true, .stdin_once = true});
  int status = daemon_->Terminate(SIGKILL);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "wait status " << status;
  auto restarted = daemon_->Restart();
  ASSERT_TRUE(restarted) << restarted.error().ToString();

  // The shell never saw a hang-up: it still answers on its console, which is resized.
  std::string url;
  auto attached = Attach(shell, true, true, false, &url);
  ASSERT_TRUE(attached.ok()) << Describe(attached);
  {
    Session session(url, true, true, false);
    session.Resize(77, 22);
    std::string seen;
    for (int i = 0; i < 50 && !Contains(seen, "22 77"); ++i) {
      session.Send("echo af''ter; stty size\n");
      ReadUntil(
          session.out(), seen, [](const std::string& s) { return Contains(s, "22 77"); }, 5);
    }
    EXPECT_TRUE(Contains(seen, "after\r\n")) << seen;
    EXPECT_TRUE(Contains(seen, "22 77")) << seen;
    session.Send("exit 4\n");
    auto code = session.Join();
    ASSERT_TRUE(code) << code.error().ToString();
  }
  EXPECT_EQ(WaitExited(shell).exit_code(), 4);
  EXPECT_TRUE(Contains(Log("shell"), " stdout F after\r")) << Log("shell");

  // The pipe reader read no EOF and still gets what a new session writes.
  attached = Attach(reader, false, true, true, &url);
  ASSERT_TRUE(attached.ok()) << Describe(attached);
  {
    Session session(url, false, true, true);
    session.Send("word\n");
    std::string seen;
    ReadUntil(session.out(), seen, [](const std::string& s) { return Contains(s, "got word\n"); });
    EXPECT_EQ(seen, "got word\n");
    Stop(reader);
    (void)session.Join();
  }
  EXPECT_FALSE(Contains(Log("reader"), "EOF")) << Log("reader");

  // stdin_once still closes every copy of the writer, the one pause held included.
  attached = Attach(once, false, true, true, &url);
  ASSERT_TRUE(attached.ok()) << Describe(attached);
  {
    Session session(url, false, true, true);
    session.Send("once more\n");
    std::string seen;
    ReadUntil(session.out(), seen, [](const std::string& s) { return Contains(s, "once more\n"); });
    session.CloseStdin();
    auto code = session.Join();
    ASSERT_TRUE(code) << code.error().ToString();
  }
  auto exited = WaitExited(once);
  EXPECT_EQ(exited.state(), v1::CONTAINER_EXITED);
  EXPECT_EQ(exited.exit_code(), 0);
}

}  // namespace
}  // namespace peapod::testing
