// The CLI's other verbs against a real agent: logs (tail, timestamps, follow), exec (exit code
// propagated), get -o json/yaml/wide/name, describe, delete, the image verbs (images, pull from
// the local registry with progress, load, rmi), version and info; and the error a user gets
// when peapodd is not running.
#include "e2e/cli_fixture.h"

namespace peapod::testing {
namespace {

using nlohmann::json;

const char* kMachine = R"(apiVersion: v1
kind: Pod
metadata:
  name: machine
  labels:
    role: dev
spec:
  terminationGracePeriodSeconds: 1
  containers:
    - name: shell
      image: busybox:latest
      imagePullPolicy: IfNotPresent
      command: [sh, -c, 'for i in 1 2 3 4 5; do echo "line $i"; done; echo oops >&2; exec sleep 3600']
    - name: other
      image: busybox:latest
      imagePullPolicy: IfNotPresent
      command: [sh, -c, 'echo "from other"; exec sleep 3600']
)";

class Verbs : public CliTest {
 protected:
  void StartMachine() {
    auto r = Apply(kMachine);
    ASSERT_EQ(r.exit_code, 0) << r.Describe();
    ASSERT_TRUE(WaitUntil([&] {
      auto pod = Pod("machine");
      return StateKind(pod, "shell") == "running" && StateKind(pod, "other") == "running";
    })) << Cli({"describe", "pod", "machine"}).out;
    ASSERT_TRUE(WaitUntil([&] {
      return Cli({"logs", "machine"}).out.find("oops") != std::string::npos;
    }));
  }
};

TEST_F(Verbs, LogsStripTheCriPrefixAndHonourTailTimestampsAndContainer) {
  StartMachine();
  auto all = Cli({"logs", "machine"});
  ASSERT_EQ(all.exit_code, 0) << all.Describe();
  EXPECT_EQ(all.out, "line 1\nline 2\nline 3\nline 4\nline 5\noops\n");
  EXPECT_EQ(Cli({"logs", "machine", "--tail", "2"}).out, "line 5\noops\n");
  EXPECT_EQ(Cli({"logs", "machine", "-c", "other"}).out, "from other\n");
  auto stamped = Cli({"logs", "machine", "--tail", "1", "--timestamps"});
  EXPECT_TRUE(stamped.out.ends_with("Z oops\n")) << stamped.out;
  EXPECT_EQ(stamped.out.find("20"), 0u) << stamped.out;
  auto missing = Cli({"logs", "machine", "-c", "nope"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("nope"), std::string::npos) << missing.Describe();
}

TEST_F(Verbs, LogsFollowStreamsNewLinesUntilTheContainerEnds) {
  auto r = Apply(R"(apiVersion: v1
kind: Pod
metadata:
  name: ticker
spec:
  terminationGracePeriodSeconds: 1
  restartPolicy: Never
  containers:
    - name: t
      image: busybox:latest
      imagePullPolicy: IfNotPresent
      command: [sh, -c, 'for i in 1 2 3; do echo "tick $i"; sleep 1; done']
)");
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  ASSERT_TRUE(WaitRunning("ticker", "t"));
  // Returns once the container exits, with every line, including those written after the call.
  auto followed = Cli({"logs", "-f", "ticker"});
  EXPECT_EQ(followed.exit_code, 0) << followed.Describe();
  EXPECT_TRUE(followed.out.ends_with("tick 3\n")) << followed.out;
}

TEST_F(Verbs, ExecRunsInTheNamedContainerAndPropagatesTheExitCode) {
  StartMachine();
  auto hello = Cli({"exec", "machine", "--", "sh", "-c", "echo out; echo err >&2; exit 7"});
  EXPECT_EQ(hello.exit_code, 7);
  EXPECT_EQ(hello.out, "out\n");
  EXPECT_EQ(hello.err, "err\n");
  auto ok = Cli({"exec", "machine", "-c", "other", "--", "cat", "/proc/1/cmdline"});
  EXPECT_EQ(ok.exit_code, 0) << ok.Describe();
  auto none = Cli({"exec", "nope", "--", "true"});
  EXPECT_EQ(none.exit_code, 1);
  EXPECT_NE(none.err.find("NotFound"), std::string::npos) << none.Describe();
}

TEST_F(Verbs, GetPrintsKubectlTablesJsonYamlAndNames) {
  StartMachine();
  auto table = Cli({"get", "pods"});
  ASSERT_EQ(table.exit_code, 0) << table.Describe();
  EXPECT_TRUE(table.out.starts_with("NAME      READY   STATUS    RESTARTS   AGE\n")) << table.out;
  EXPECT_NE(table.out.find("machine   2/2     Running   0          "), std::string::npos)
      << table.out;

  auto wide = Cli({"get", "pods", "-o", "wide"});
  EXPECT_NE(wide.out.find("IP"), std::string::npos);
  EXPECT_NE(wide.out.find("10.99."), std::string::npos) << wide.out;
  auto all = Cli({"get", "pods", "-A"});
  EXPECT_TRUE(all.out.starts_with("NAMESPACE   NAME")) << all.out;

  auto pod = Pod("machine");
  ASSERT_TRUE(pod.is_object());
  EXPECT_EQ(pod["kind"], "Pod");
  EXPECT_EQ(pod["metadata"]["labels"]["role"], "dev");
  EXPECT_EQ(pod["spec"]["containers"].size(), 2u);
  EXPECT_EQ(pod["status"]["phase"], "Running");
  EXPECT_TRUE(pod["status"]["podIP"].get<std::string>().starts_with("10.99."));
  auto list = GetJson({"get", "pods", "-o", "json"});
  EXPECT_EQ(list["kind"], "List");
  EXPECT_EQ(list["items"].size(), 1u);

  auto yaml = Cli({"get", "pod", "machine", "-o", "yaml"});
  EXPECT_NE(yaml.out.find("kind: Pod\n"), std::string::npos) << yaml.out;
  EXPECT_NE(yaml.out.find("  name: machine\n"), std::string::npos) << yaml.out;
  EXPECT_EQ(Cli({"get", "pods", "-o", "name"}).out, "pod/machine\n");

  auto missing = Cli({"get", "pod", "nope"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("pods \"nope\" not found"), std::string::npos) << missing.err;
  auto other_ns = Cli({"get", "pods", "-n", "elsewhere"});
  EXPECT_EQ(other_ns.exit_code, 0);
  EXPECT_EQ(other_ns.err, "No resources found in elsewhere namespace.\n");
}

TEST_F(Verbs, DescribeShowsContainersConditionsAndEvents) {
  StartMachine();
  auto d = Cli({"describe", "pod", "machine"});
  ASSERT_EQ(d.exit_code, 0) << d.Describe();
  for (const char* expected :
       {"Name:             machine\n", "Namespace:        default\n",
        "Labels:           role=dev\n", "Containers:\n", "  shell:\n", "  other:\n",
        "    Image:          busybox:latest\n", "    State:          Running\n", "Conditions:\n",
        "Events:\n", "Started"}) {
    EXPECT_NE(d.out.find(expected), std::string::npos) << "missing " << expected << "\n" << d.out;
  }
}

TEST_F(Verbs, DeleteByNameAndByFile) {
  StartMachine();
  TempDir dir("peapod-e2e-delete");
  WriteFile(dir / "machine.yaml", kMachine);
  auto by_file = Cli({"delete", "-f", dir / "machine.yaml"});
  EXPECT_EQ(by_file.exit_code, 0) << by_file.Describe();
  EXPECT_EQ(by_file.out, "pod \"machine\" deleted\n");
  EXPECT_EQ(Cli({"get", "pod", "machine"}).exit_code, 1);

  auto again = Cli({"delete", "pod", "machine"});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_NE(again.err.find("not found"), std::string::npos) << again.Describe();
  EXPECT_EQ(Cli({"delete", "pod", "machine", "--ignore-not-found"}).exit_code, 0);
}

TEST_F(Verbs, ImageVerbsListPullLoadAndRemove) {
  auto images = Cli({"images"});
  ASSERT_EQ(images.exit_code, 0) << images.Describe();
  EXPECT_TRUE(images.out.starts_with("IMAGE")) << images.out;
  EXPECT_NE(images.out.find("docker.io/library/busybox"), std::string::npos) << images.out;

  auto registry = LocalRegistry::Start();
  ASSERT_TRUE(registry) << registry.error().ToString();
  ASSERT_TRUE((*registry)->Push(TestImagesDir() + "/busybox-layers", "e2e/layers:v1"));
  std::string ref = (*registry)->HostPort() + "/e2e/layers:v1";
  auto pulled = Cli({"pull", ref});
  ASSERT_EQ(pulled.exit_code, 0) << pulled.Describe();
  EXPECT_NE(pulled.out.find("Image is up to date for sha256:"), std::string::npos) << pulled.out;
  EXPECT_NE(pulled.out.find("] "), std::string::npos) << pulled.out;  // a progress line
  EXPECT_NE(Cli({"images"}).out.find("e2e/layers"), std::string::npos);

  auto removed = Cli({"rmi", ref});
  EXPECT_EQ(removed.exit_code, 0) << removed.Describe();
  EXPECT_EQ(Cli({"images"}).out.find("e2e/layers"), std::string::npos);
  auto gone = Cli({"rmi", ref});
  EXPECT_EQ(gone.exit_code, 1);

  auto loaded = Cli({"load", "-i", TestImagesDir() + "/busybox.docker.tar"});
  EXPECT_EQ(loaded.exit_code, 0) << loaded.Describe();
  EXPECT_NE(loaded.out.find("Loaded image: "), std::string::npos) << loaded.out;
  auto bad = Cli({"load", "-i", "/nonexistent.tar"});
  EXPECT_EQ(bad.exit_code, 1);
}

TEST_F(Verbs, VersionAndInfo) {
  auto version = Cli({"version"});
  ASSERT_EQ(version.exit_code, 0) << version.Describe();
  EXPECT_NE(version.out.find("Client Version: "), std::string::npos);
  EXPECT_NE(version.out.find("Server Version: "), std::string::npos);
  auto info = Cli({"info"});
  ASSERT_EQ(info.exit_code, 0) << info.Describe();
  EXPECT_NE(info.out.find(daemon_->state_root()), std::string::npos) << info.out;
  EXPECT_NE(info.out.find("Network Ready:"), std::string::npos) << info.out;
}

TEST(CliWithoutAgent, SaysPeapoddIsNotRunning) {
  TempDir dir("peapod-no-agent");
  auto r = RunCli({"--socket", dir / "peapod.sock", "get", "pods"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "error: cannot reach peapodd at " + (dir / "peapod.sock") +
                       ": no such socket; is it running?\n");
  EXPECT_EQ(r.out, "");
}

TEST(CliWithoutAgent, InteractiveExecSaysPeapoddIsNotRunning) {
  auto r = RunCli({"--socket", "/nonexistent/peapod.sock", "exec", "-it", "pod", "--", "sh"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("cannot reach peapodd"), std::string::npos) << r.Describe();
}

}  // namespace
}  // namespace peapod::testing
