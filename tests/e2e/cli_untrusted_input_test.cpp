// No input stops the agent (issue 13), through the real peapodd and CLI: an image whose USER is
// no uid, and records on disk the agent cannot use. Each of these used to end peapodd (an
// exception reaching std::terminate), at every start.
#include <signal.h>
#include <sys/wait.h>

#include <filesystem>

#include "e2e/cli_fixture.h"
#include "integration/image_tar_builder.h"
#include "integration/oci_layout_builder.h"

namespace peapod::testing {
namespace {

using nlohmann::json;

class UntrustedInput : public CliTest {
 protected:
  static constexpr char kSteadyPod[] = R"(apiVersion: v1
kind: Pod
metadata:
  name: steady
spec:
  terminationGracePeriodSeconds: 1
  containers:
    - name: app
      image: busybox:latest
      imagePullPolicy: IfNotPresent
      command: [sleep, "3600"]
)";

  // The waiting message of `container` in pod `name` ("" when it is not waiting).
  std::string WaitingMessage(const std::string& name, const std::string& container) {
    auto s = ContainerStatus(Pod(name), container);
    if (!s.is_object() || !s["state"].is_object() || !s["state"].contains("waiting")) return "";
    return s["state"]["waiting"].value("message", "");
  }

  // Stops the daemon with SIGTERM: 0 when it was alive and shut down cleanly (an agent that
  // died of std::terminate is reaped with SIGABRT instead).
  int StopCleanly() {
    int status = daemon_->Terminate(SIGTERM);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
};

TEST_F(UntrustedInput, AnImageUserBeyondAnyUidFailsItsPodAndTheAgentKeepsServing) {
  TempDir dir("peapod-e2e-hugeuser");
  TarBuilder(dir / "layer.tar").File("hello", "hello\n");
  OciLayoutBuilder layout(dir / "layout");
  layout.Image({dir / "layer.tar"}, "docker.io/library/hugeuser:1",
               {{"User", "99999999999999999999"}});
  layout.WriteArchive(dir / "hugeuser.oci.tar");
  auto loaded = Cli({"load", "-i", dir / "hugeuser.oci.tar"});
  ASSERT_EQ(loaded.exit_code, 0) << loaded.Describe();

  ASSERT_EQ(Apply(kSteadyPod).exit_code, 0);
  ASSERT_TRUE(WaitRunning("steady", "app"));
  // The issue's pod: runAsNonRoot and no runAsUser, so the image's USER must be checked.
  auto applied = Apply(R"(apiVersion: v1
kind: Pod
metadata:
  name: hostile
spec:
  terminationGracePeriodSeconds: 1
  securityContext:
    runAsNonRoot: true
  containers:
    - name: app
      image: docker.io/library/hugeuser:1
      imagePullPolicy: Never
      command: [/hello]
)");
  ASSERT_EQ(applied.exit_code, 0) << applied.Describe();
  ASSERT_TRUE(WaitUntil([&] {
    return WaitingMessage("hostile", "app").find("is not a uid") != std::string::npos;
  })) << Cli({"describe", "pod", "hostile"}).out
      << daemon_->Log();
  EXPECT_NE(WaitingMessage("hostile", "app").find("99999999999999999999"), std::string::npos);
  auto reason = ContainerStatus(Pod("hostile"), "app")["state"]["waiting"].value("reason", "");
  EXPECT_EQ(reason, "CreateContainerConfigError");
  EXPECT_EQ(StateKind(Pod("steady"), "app"), "running");

  // The agent is alive (a clean exit on SIGTERM) and starts again with the pod re-adopted,
  // which is where it used to die at every start.
  ASSERT_EQ(StopCleanly(), 0) << daemon_->Log();
  ASSERT_TRUE(daemon_->Restart()) << daemon_->Log();
  ASSERT_TRUE(WaitUntil([&] {
    return WaitingMessage("hostile", "app").find("is not a uid") != std::string::npos;
  })) << daemon_->Log();
  EXPECT_EQ(StateKind(Pod("steady"), "app"), "running");
  auto deleted = Cli({"delete", "pod", "hostile"});
  EXPECT_EQ(deleted.exit_code, 0) << deleted.Describe();
  EXPECT_EQ(StopCleanly(), 0) << daemon_->Log();
  ASSERT_TRUE(daemon_->Restart()) << daemon_->Log();
}

TEST_F(UntrustedInput, RecordsTheAgentCannotUseAreQuarantinedAndTheAgentStarts) {
  ASSERT_EQ(Apply(kSteadyPod).exit_code, 0);
  ASSERT_TRUE(WaitRunning("steady", "app"));
  std::string steady_id = ContainerStatus(Pod("steady"), "app").value("containerID", "");
  ASSERT_EQ(StopCleanly(), 0) << daemon_->Log();

  // One of each kind of record, damaged the way a full disk, a bug or a hand edit damages it.
  const std::string hex(64, 'e');
  struct Bad {
    std::string dir;
    std::string name;
    std::string content;
  } bad[] = {
      // {"id": 1} made ImageRecordFromJson throw nlohmann's type_error in ImageStore::Open.
      {daemon_->state_root() + "/image/images", hex + ".json", R"({"id": 1})"},
      {daemon_->state_root() + "/controller/pods", "default_broken.json", "{ not json"},
      {daemon_->state_root() + "/controller/pods", "default_typed.json",
       R"({"source_name": 7, "source_text": "kind: Pod"})"},
      {daemon_->state_root() + "/controller/configmaps", "default_cm.json", "[]"},
      {daemon_->run_root() + "/sandboxes", hex + ".json", R"({"id": 1, "config": "x"})"},
      {daemon_->run_root() + "/containers", hex + ".json", "\x01\x02garbage"},
  };
  for (const auto& b : bad) {
    ASSERT_TRUE(std::filesystem::is_directory(b.dir)) << b.dir;
    WriteFile(b.dir + "/" + b.name, b.content);
  }
  ASSERT_TRUE(daemon_->Restart()) << daemon_->Log();

  // It serves, its good pod is still supervised, and every bad record was moved aside.
  auto pods = Cli({"get", "pods"});
  EXPECT_EQ(pods.exit_code, 0) << pods.Describe() << daemon_->Log();
  auto steady = Pod("steady");
  EXPECT_EQ(StateKind(steady, "app"), "running") << daemon_->Log();
  EXPECT_EQ(ContainerStatus(steady, "app").value("containerID", ""), steady_id);
  for (const auto& b : bad) {
    SCOPED_TRACE(b.dir + "/" + b.name);
    EXPECT_FALSE(std::filesystem::exists(b.dir + "/" + b.name));
    EXPECT_EQ(ReadFile(b.dir + "/quarantine/" + b.name), b.content);
  }
  std::string log = daemon_->Log();
  EXPECT_NE(log.find("quarantined as " + daemon_->run_root() + "/sandboxes/quarantine/" + hex),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("image record " + hex + ".json cannot be used"), std::string::npos) << log;
  auto images = Cli({"images"});
  EXPECT_EQ(images.exit_code, 0) << images.Describe();
  EXPECT_NE(images.out.find("busybox"), std::string::npos) << images.out;

  // A second start finds nothing to quarantine and changes nothing.
  ASSERT_EQ(StopCleanly(), 0) << daemon_->Log();
  ASSERT_TRUE(daemon_->Restart()) << daemon_->Log();
  EXPECT_EQ(StateKind(Pod("steady"), "app"), "running");
  for (const auto& b : bad) EXPECT_EQ(ReadFile(b.dir + "/quarantine/" + b.name), b.content);
}

// A pod whose adoption ends the agent (here PEAPOD_CRASH_AT, which exits as a crash no catch
// boundary can stop would) must not keep the node's agent down: after three starts that never
// finished adopting it, its record is quarantined and the agent starts and serves.
TEST_F(UntrustedInput, APodWhoseAdoptionEndsTheAgentIsQuarantinedAfterThreeStarts) {
  ASSERT_EQ(Apply(kSteadyPod).exit_code, 0);
  ASSERT_TRUE(WaitRunning("steady", "app"));
  ASSERT_EQ(StopCleanly(), 0) << daemon_->Log();
  const std::string pods = daemon_->state_root() + "/controller/pods";
  const std::string record = pods + "/default_steady.json";
  const std::string marker = record + ".adopting";
  ASSERT_TRUE(std::filesystem::exists(record));
  EXPECT_FALSE(std::filesystem::exists(marker)) << "a finished adoption leaves no marker";

  for (int start = 1; start <= 3; ++start) {
    SCOPED_TRACE("start " + std::to_string(start));
    // It may die before or after it listens; either way it dies adopting the pod.
    (void)daemon_->Restart({"PEAPOD_CRASH_AT=pod-adopt"});
    ASSERT_TRUE(WaitUntil([&] { return ReadFile(marker) == std::to_string(start); }))
        << ReadFile(marker);
    (void)daemon_->Terminate(SIGTERM);
    EXPECT_TRUE(std::filesystem::exists(record));
  }
  // The fourth start no longer adopts the pod: it serves, and keeps serving.
  ASSERT_TRUE(daemon_->Restart({"PEAPOD_CRASH_AT=pod-adopt"})) << daemon_->Log();
  auto listed = Cli({"get", "pods"});
  EXPECT_EQ(listed.exit_code, 0) << listed.Describe() << daemon_->Log();
  EXPECT_TRUE(Pod("steady").is_null());
  EXPECT_FALSE(std::filesystem::exists(record));
  EXPECT_FALSE(std::filesystem::exists(marker));
  EXPECT_TRUE(std::filesystem::exists(pods + "/quarantine/default_steady.json"));
  EXPECT_NE(daemon_->Log().find("adopting its pod failed or ended the agent 3 starts in a row"),
            std::string::npos)
      << daemon_->Log();
  EXPECT_EQ(StopCleanly(), 0) << daemon_->Log();
  ASSERT_TRUE(daemon_->Restart()) << daemon_->Log();
}

}  // namespace
}  // namespace peapod::testing
