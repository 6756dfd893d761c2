// hostUsers: false through the CLI against a real peapodd: `peapod apply` gives each such pod
// its own 65536-id range (kubelet's scheme, recorded under the state root, never shared, freed
// on delete), root in the pod is the range's first id on the node, a hostPath file shows its
// real owner, the pod survives kill -9 of the agent in its user namespace, and what cannot be
// combined with a user namespace is refused at apply.
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <sstream>
#include <string>

#include "e2e/cli_fixture.h"

namespace peapod::testing {
namespace {

namespace fs = std::filesystem;

std::string UsernsPod(const std::string& name, const std::string& host_dir) {
  return R"(apiVersion: v1
kind: Pod
metadata:
  name: )" +
         name + R"(
spec:
  hostUsers: false
  terminationGracePeriodSeconds: 1
  containers:
  - name: app
    image: busybox:latest
    imagePullPolicy: IfNotPresent
    command: [sleep, "3600"]
    volumeMounts:
    - {name: host, mountPath: /data}
    - {name: scratch, mountPath: /scratch}
  volumes:
  - name: host
    hostPath: {path: )" +
         host_dir + R"(, type: Directory}
  - name: scratch
    emptyDir: {}
)";
}

class CliUserNamespace : public CliTest {
 protected:
  std::string RangesDir() const { return daemon_->state_root() + "/controller/userns-ranges"; }

  // range number -> pod uid, as recorded.
  std::map<std::string, std::string> Ranges() const {
    std::map<std::string, std::string> out;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(RangesDir(), ec)) {
      out[e.path().filename()] = ReadFile(e.path());
    }
    return out;
  }

  CliResult Exec(const std::string& pod, const std::string& script) {
    return Cli({"exec", pod, "-c", "app", "--", "sh", "-c", script});
  }

  // The host id that is root in the pod, read from inside ("0 <host> 65536").
  int64_t RootOnNode(const std::string& pod) {
    auto r = Exec(pod, "cat /proc/self/uid_map");
    EXPECT_EQ(r.exit_code, 0) << r.Describe();
    std::istringstream in(r.out);
    int64_t inside = -1, outside = -1, length = -1;
    in >> inside >> outside >> length;
    EXPECT_EQ(inside, 0) << r.out;
    EXPECT_EQ(length, 65536) << r.out;
    return outside;
  }

  TempDir host_{"peapod-e2e-userns-host"};
};

TEST_F(CliUserNamespace, ApplyRunsThePodInItsOwnRangeAndDeleteFreesIt) {
  WriteFile(host_ / "owned", "hello\n");
  ASSERT_EQ(::chown((host_ / "owned").c_str(), 1234, 1234), 0);
  auto applied = Apply(UsernsPod("one", host_.path()) + "---\n" + UsernsPod("two", host_.path()));
  ASSERT_EQ(applied.exit_code, 0) << applied.Describe();
  EXPECT_EQ(applied.err.find("hostUsers"), std::string::npos) << "no warning: " << applied.err;
  ASSERT_TRUE(WaitRunning("one", "app")) << Cli({"describe", "pod", "one"}).out;
  ASSERT_TRUE(WaitRunning("two", "app")) << daemon_->Log();

  // Two ranges of 65536 ids, each a multiple of 65536 above the node's own, never the same.
  int64_t one = RootOnNode("one");
  int64_t two = RootOnNode("two");
  EXPECT_GE(one, 65536);
  EXPECT_GE(two, 65536);
  EXPECT_EQ(one % 65536, 0);
  EXPECT_EQ(two % 65536, 0);
  EXPECT_NE(one, two);
  auto ranges = Ranges();
  EXPECT_EQ(ranges.size(), 2u);
  EXPECT_TRUE(ranges.contains(std::to_string(one / 65536)));
  EXPECT_TRUE(ranges.contains(std::to_string(two / 65536)));

  // Root inside; the hostPath file shows its real owner; what the pod writes to its root
  // filesystem belongs to the range's first id on the node; the emptyDir is root's inside.
  auto inside = Exec("one", "id -u; stat -c %u /data/owned /scratch; echo x > /written");
  EXPECT_EQ(inside.exit_code, 0) << inside.Describe();
  EXPECT_EQ(inside.out, "0\n1234\n0\n");
  std::string id = ContainerStatus(Pod("one"), "app").value("containerID", "");
  id = id.substr(id.find("://") == std::string::npos ? 0 : id.find("://") + 3);
  struct stat st {};
  ASSERT_EQ(
      ::stat((daemon_->state_root() + "/image/containers/" + id + "/upper/written").c_str(), &st),
      0);
  EXPECT_EQ(static_cast<int64_t>(st.st_uid), one);

  // kill -9 of the agent: the pod keeps running in its user namespace and is re-adopted.
  int status = daemon_->Terminate(SIGKILL);
  ASSERT_TRUE(WIFSIGNALED(status)) << status;
  ASSERT_TRUE(daemon_->Restart()) << daemon_->Log();
  EXPECT_EQ(
      ContainerStatus(Pod("one"), "app").value("containerID", "").find(id) == std::string::npos,
      false)
      << "the same container after the restart";
  EXPECT_EQ(RestartCount(Pod("one"), "app"), 0);
  EXPECT_EQ(RootOnNode("one"), one);
  EXPECT_EQ(Ranges().size(), 2u);

  auto deleted = Cli({"delete", "pod", "one"});
  ASSERT_EQ(deleted.exit_code, 0) << deleted.Describe();
  EXPECT_TRUE(WaitUntil([&] { return !Ranges().contains(std::to_string(one / 65536)); }))
      << "the range is freed with the pod";
  EXPECT_TRUE(Ranges().contains(std::to_string(two / 65536)));
  deleted = Cli({"delete", "pod", "two"});
  ASSERT_EQ(deleted.exit_code, 0) << deleted.Describe();
  EXPECT_TRUE(WaitUntil([&] { return Ranges().empty(); }));
  EXPECT_TRUE(WaitUntil([&] { return daemon_->Leftovers().empty(); }))
      << ::testing::PrintToString(daemon_->Leftovers());
}

TEST_F(CliUserNamespace, WhatCannotShareTheNodesUsersIsRefusedAtApply) {
  auto r = Apply(R"(apiVersion: v1
kind: Pod
metadata:
  name: refused
spec:
  hostUsers: false
  hostNetwork: true
  containers:
  - name: app
    image: busybox:latest
    securityContext:
      privileged: true
)");
  EXPECT_EQ(r.exit_code, 1) << r.Describe();
  EXPECT_NE(r.err.find("-:6: spec.hostUsers: false cannot be combined with hostNetwork"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("privileged container"), std::string::npos) << r.err;
  EXPECT_FALSE(Pod("refused").is_object());
  EXPECT_TRUE(Ranges().empty());
}

}  // namespace
}  // namespace peapod::testing
