// `peapod exec -it` and `peapod attach -it` run on a pseudo-terminal of the test's own, as a
// user's shell would run them, against a real peapodd: the local terminal's size reaches the
// remote one (also after a SIGWINCH), keys go through, and exec's exit code comes back.
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/ioctl.h>

#include <cstring>

#include "e2e/cli_fixture.h"
#include "peapod/unique_fd.h"

namespace peapod::testing {
namespace {

const char* kConsolePods = R"(apiVersion: v1
kind: Pod
metadata:
  name: console
spec:
  terminationGracePeriodSeconds: 1
  restartPolicy: Never
  containers:
    - name: shell
      image: busybox:latest
      imagePullPolicy: IfNotPresent
      command: [sh]
      stdin: true
      tty: true
    - name: sleeper
      image: busybox:latest
      imagePullPolicy: IfNotPresent
      command: [sleep, "3600"]
)";

// The CLI with a new pty as its controlling terminal and stdio, the test holding the master.
class CliOnTerminal {
 public:
  CliOnTerminal(const std::vector<std::string>& args, uint16_t rows, uint16_t cols) {
    winsize size{};
    size.ws_row = rows;
    size.ws_col = cols;
    int master = -1, slave = -1;
    char name[128];
    if (::openpty(&master, &slave, name, nullptr, &size) != 0) {
      ADD_FAILURE() << "openpty: " << std::strerror(errno);
      return;
    }
    master_.Reset(master);
    ::fcntl(master, F_SETFD, FD_CLOEXEC);
    ::fcntl(slave, F_SETFD, FD_CLOEXEC);
    UniqueFd slave_fd(slave);
    // A session leader opening the terminal makes it its controlling one: SIGWINCH reaches it.
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, name, O_RDWR, 0);
    posix_spawn_file_actions_adddup2(&actions, 0, 1);
    posix_spawn_file_actions_adddup2(&actions, 0, 2);
    std::vector<std::string> argv_strings = {CliBinary()};
    argv_strings.insert(argv_strings.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : argv_strings) argv.push_back(a.data());
    argv.push_back(nullptr);
    int rc = ::posix_spawn(&pid_, argv[0], &actions, &attr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    if (rc != 0) ADD_FAILURE() << "posix_spawn: " << std::strerror(rc);
  }
  ~CliOnTerminal() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      (void)Wait();
    }
  }

  void Type(std::string_view keys) {
    ASSERT_EQ(::write(master_.Get(), keys.data(), keys.size()), static_cast<ssize_t>(keys.size()));
  }
  void Resize(uint16_t rows, uint16_t cols) {
    winsize size{};
    size.ws_row = rows;
    size.ws_col = cols;
    ASSERT_EQ(::ioctl(master_.Get(), TIOCSWINSZ, &size), 0);  // the kernel sends SIGWINCH
  }
  // Reads what the CLI printed for up to ~`tries` x 100 ms or until `want` shows up.
  bool ReadUntil(const std::string& want, int tries = 10) {
    char buf[4096];
    for (int i = 0; i < tries && seen_.find(want) == std::string::npos; ++i) {
      pollfd pfd{master_.Get(), POLLIN, 0};
      if (::poll(&pfd, 1, 100) <= 0) continue;
      ssize_t n = ::read(master_.Get(), buf, sizeof(buf));
      if (n <= 0) break;  // EIO: the CLI is gone
      seen_.append(buf, static_cast<size_t>(n));
    }
    return seen_.find(want) != std::string::npos;
  }
  const std::string& seen() const { return seen_; }
  // The CLI's exit code (bounded wait: it is killed after ~30 s).
  int Wait() {
    int status = 0;
    char buf[4096];
    for (int i = 0; i < 300; ++i) {
      pid_t r = ::waitpid(pid_, &status, WNOHANG);
      if (r == pid_) {
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      // Keep draining so that it never blocks on output; EIO once it has closed the terminal.
      pollfd pfd{master_.Get(), POLLIN, 0};
      ssize_t n = ::poll(&pfd, 1, 100) > 0 ? ::read(master_.Get(), buf, sizeof(buf)) : 0;
      if (n > 0) {
        seen_.append(buf, static_cast<size_t>(n));
      } else {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    return -1;
  }

 private:
  UniqueFd master_;
  pid_t pid_ = -1;
  std::string seen_;
};

class CliInteractive : public CliTest {
 protected:
  void StartConsolePod() {
    auto r = Apply(kConsolePods);
    ASSERT_EQ(r.exit_code, 0) << r.Describe();
    ASSERT_TRUE(WaitUntil([&] {
      auto pod = Pod("console");
      return StateKind(pod, "shell") == "running" && StateKind(pod, "sleeper") == "running";
    })) << Cli({"describe", "pod", "console"}).out;
  }
  std::vector<std::string> Args(std::vector<std::string> args) {
    args.insert(args.begin(), {"--socket", daemon_->socket_path()});
    return args;
  }
};

TEST_F(CliInteractive, ExecItFollowsTheLocalTerminalsSizeAndReturnsTheExitCode) {
  StartConsolePod();
  CliOnTerminal cli(Args({"exec", "-it", "console", "-c", "sleeper", "--", "sh", "-c",
                          "stty size; while read x; do [ \"$x\" = q ] && exit 7; stty size; done"}),
                    33, 111);
  EXPECT_TRUE(cli.ReadUntil("33 111", 100)) << cli.seen();
  cli.Resize(44, 122);
  bool resized = false;
  for (int i = 0; i < 50 && !resized; ++i) {
    cli.Type("\r");  // a raw local terminal: Enter is CR, which the remote terminal maps to NL
    resized = cli.ReadUntil("44 122", 2);
  }
  EXPECT_TRUE(resized) << cli.seen();
  cli.Type("q\r");
  EXPECT_EQ(cli.Wait(), 7) << cli.seen();
}

TEST_F(CliInteractive, AttachItTalksToTheContainersConsole) {
  StartConsolePod();
  {
    CliOnTerminal cli(Args({"attach", "-it", "console"}), 25, 90);
    bool answered = false;
    for (int i = 0; i < 50 && !answered; ++i) {
      cli.Type("echo hel''lo; stty size\r");
      answered = cli.ReadUntil("25 90", 2);
    }
    EXPECT_TRUE(answered) << cli.seen();
    EXPECT_NE(cli.seen().find("hello"), std::string::npos) << cli.seen();
    cli.Type("exit 3\r");
    EXPECT_EQ(cli.Wait(), 0) << cli.seen();  // attach ends with the container
  }
  EXPECT_TRUE(WaitUntil([&] { return StateKind(Pod("console"), "shell") == "terminated"; }));
  // Attach with stdin to a container created without it is refused, as kubelet does.
  auto refused = Cli({"attach", "-i", "console", "-c", "sleeper"});
  EXPECT_EQ(refused.exit_code, 1) << refused.Describe();
  EXPECT_NE(refused.err.find("not created with stdin"), std::string::npos) << refused.Describe();
}

TEST_F(CliInteractive, ExecIPipesStdinWithoutATerminal) {
  StartConsolePod();
  auto r = Cli({"exec", "-i", "console", "-c", "sleeper", "--", "sh", "-c",
                "tr a-z A-Z; echo done >&2; exit 5"},
               "hello from a pipe\n");
  EXPECT_EQ(r.exit_code, 5) << r.Describe();
  EXPECT_EQ(r.out, "HELLO FROM A PIPE\n") << r.Describe();
  EXPECT_EQ(r.err, "done\n") << r.Describe();
}

}  // namespace
}  // namespace peapod::testing
