// `peapod logs` over a real peapodd that rotates logs (a 16Ki containerLogMaxSize, checked every
// 50 ms through the test hook): reading and following across rotated files, --tail, --since,
// following across container restarts, and --previous.
#include <signal.h>

#include <filesystem>

#include "cli_fixture.h"
#include "peapod/parse.h"

namespace peapod::testing {
namespace {

constexpr int kLines = 16000;

const char* kWriterPod = R"(apiVersion: v1
kind: Pod
metadata:
  name: writer
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: app
    image: busybox:latest
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "i=0; b=0; while [ $b -lt 40 ]; do j=0; while [ $j -lt 400 ]; do echo \"n $i\"; i=$((i+1)); j=$((j+1)); done; b=$((b+1)); usleep 50000; done; echo done; sleep 3600"]
)";

// Each instance counts itself in an emptyDir and says which it is, then fails after 2 s.
const char* kRestartingPod = R"(apiVersion: v1
kind: Pod
metadata:
  name: restarter
spec:
  terminationGracePeriodSeconds: 1
  volumes: [{name: data, emptyDir: {}}]
  containers:
  - name: app
    image: busybox:latest
    imagePullPolicy: IfNotPresent
    volumeMounts: [{name: data, mountPath: /data}]
    command: ["sh", "-c", "n=$(cat /data/n 2>/dev/null || echo 0); n=$((n+1)); echo $n > /data/n; echo instance-$n; sleep 2; exit 1"]
)";

// `peapod logs -f ...` in the background, its output going to a file.
class FollowingCli {
 public:
  explicit FollowingCli(const std::vector<std::string>& args) : io_("peapod-e2e-follow") {
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, (io_ / "out").c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&actions, 2, (io_ / "err").c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    std::vector<std::string> argv_strings = {CliBinary()};
    argv_strings.insert(argv_strings.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : argv_strings) argv.push_back(a.data());
    argv.push_back(nullptr);
    int rc = ::posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) {
      ADD_FAILURE() << "posix_spawn: " << rc;
      pid_ = -1;
    }
  }
  ~FollowingCli() { Stop(); }
  FollowingCli(const FollowingCli&) = delete;
  FollowingCli& operator=(const FollowingCli&) = delete;

  std::string Out() const { return ReadFile(io_ / "out"); }
  std::string Err() const { return ReadFile(io_ / "err"); }
  void Stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
  }

 private:
  TempDir io_;
  pid_t pid_ = -1;
};

// The numbers of the "n <i>" lines; -1 for a line of another shape; "done" ends them.
std::vector<int64_t> Numbers(const std::string& out) {
  std::vector<int64_t> numbers;
  size_t start = 0;
  while (start < out.size()) {
    size_t end = out.find('\n', start);
    if (end == std::string::npos) end = out.size();
    std::string line = out.substr(start, end - start);
    start = end + 1;
    if (line == "done") break;
    auto n = line.starts_with("n ") ? ParseSigned(line.substr(2)) : std::nullopt;
    numbers.push_back(n.value_or(-1));
  }
  return numbers;
}

void ExpectEveryNumberOnceInOrder(const std::string& out) {
  std::vector<int64_t> numbers = Numbers(out);
  ASSERT_EQ(numbers.size(), static_cast<size_t>(kLines)) << out.substr(0, 2000);
  for (int64_t i = 0; i < kLines; ++i) ASSERT_EQ(numbers[static_cast<size_t>(i)], i);
  EXPECT_TRUE(out.ends_with("n 15999\ndone\n")) << out.substr(out.size() - 200);
}

class CliLogRotation : public CliTest {
 protected:
  std::vector<std::string> ExtraDaemonArgs() const override {
    return {"--container-log-max-size", "16Ki", "--container-log-max-files", "1000"};
  }
  std::vector<std::string> ExtraDaemonEnv() const override {
    return {"PEAPOD_TEST_LOG_ROTATION_PERIOD=50ms"};
  }

  // The rotated files under the pod log root.
  size_t RotatedFiles() const {
    size_t n = 0;
    std::error_code ec;
    for (auto it = std::filesystem::recursive_directory_iterator(logs_ / "pods", ec);
         !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
      if (it->path().filename().string().find(".log.") != std::string::npos) ++n;
    }
    return n;
  }
};

TEST_F(CliLogRotation, LogsReadAndFollowEveryLineOnceAcrossRotations) {
  auto applied = Apply(kWriterPod);
  ASSERT_EQ(applied.exit_code, 0) << applied.Describe();
  ASSERT_TRUE(WaitRunning("writer", "app"));
  FollowingCli follow({"--socket", daemon_->socket_path(), "logs", "-f", "writer"});
  ASSERT_TRUE(WaitUntil([&] { return follow.Out().ends_with("done\n"); }))
      << follow.Out().size() << " bytes\n"
      << follow.Err();
  follow.Stop();
  ExpectEveryNumberOnceInOrder(follow.Out());
  EXPECT_GE(RotatedFiles(), 3u);

  auto all = Cli({"logs", "writer"});
  ASSERT_EQ(all.exit_code, 0) << all.err;
  ExpectEveryNumberOnceInOrder(all.out);
  auto tail = Cli({"logs", "writer", "--tail", "3"});
  EXPECT_EQ(tail.out, "n 15998\nn 15999\ndone\n") << tail.Describe();
  // A tail longer than the live file reaches into the rotated ones.
  auto long_tail = Cli({"logs", "writer", "--tail", "5000"});
  std::vector<int64_t> numbers = Numbers(long_tail.out);
  ASSERT_EQ(numbers.size(), 4999u);
  EXPECT_EQ(numbers.front(), kLines - 4999);
  EXPECT_EQ(numbers.back(), kLines - 1);

  auto since = Cli({"logs", "writer", "--since", "1h"});
  EXPECT_EQ(since.out, all.out);
  auto bad = Cli({"logs", "writer", "--since", "yesterday"});
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.err.find("--since"), std::string::npos) << bad.Describe();
}

TEST_F(CliLogRotation, FollowGoesOnAcrossRestartsAndPreviousShowsTheInstanceBefore) {
  auto applied = Apply(kRestartingPod);
  ASSERT_EQ(applied.exit_code, 0) << applied.Describe();
  ASSERT_TRUE(WaitRunning("restarter", "app"));
  FollowingCli follow({"--socket", daemon_->socket_path(), "logs", "-f", "restarter"});
  ASSERT_TRUE(WaitUntil([&] { return follow.Out().find("instance-3\n") != std::string::npos; }))
      << follow.Out() << follow.Err();
  follow.Stop();
  EXPECT_EQ(follow.Out().find("instance-2\n") != std::string::npos, true) << follow.Out();

  // --previous is the instance before the current one (retried: a restart may fall between).
  std::string current, previous;
  bool consistent = WaitUntil([&] {
    current = Cli({"logs", "restarter"}).out;
    previous = Cli({"logs", "restarter", "--previous"}).out;
    auto n = current.starts_with("instance-") ? ParseSigned(current.substr(9, current.size() - 10))
                                              : std::nullopt;
    return n && *n > 1 && previous == "instance-" + std::to_string(*n - 1) + "\n";
  });
  EXPECT_TRUE(consistent) << "current: " << current << "previous: " << previous;
}

}  // namespace
}  // namespace peapod::testing
