// Containers through the container manager from real images: docker-save, OCI-layout and
// imported images, the image config applied as Kubernetes does, whiteouts, and bad input.
#include <gtest/gtest.h>

#include "agent_fixture.h"

namespace peapod::testing {
namespace {

class AgentContainerTest : public AgentFixture {
 protected:
  // A docker-save archive of the busybox rootfs whose config sets WorkingDir, Env, Entrypoint
  // and Cmd, built with the host's tar.
  std::string MakeConfiguredImage() {
    std::string work = dir_ / "wd-image";
    std::string script =
        "set -e; mkdir -p " + work + " && cd " + work + " && "
        "tar -C " + BusyboxRootfs() + " -cf layer.tar . && "
        "sum=$(sha256sum layer.tar | cut -d' ' -f1) && arch=$(dpkg --print-architecture) && "
        "printf '{\"architecture\":\"%s\",\"os\":\"linux\",\"config\":{\"Env\":[\"PATH=/bin:/sbin:/usr/bin\","
        "\"FROM_IMAGE=yes\",\"MODE=image\"],\"WorkingDir\":\"/work/dir\",\"Entrypoint\":[\"sh\",\"-c\"],"
        "\"Cmd\":[\"echo cwd=$(pwd) mode=$MODE from=$FROM_IMAGE\"]},\"rootfs\":{\"type\":\"layers\","
        "\"diff_ids\":[\"sha256:%s\"]}}' $arch $sum > config.json && "
        "printf '[{\"Config\":\"config.json\",\"RepoTags\":[\"configured:1\"],\"Layers\":[\"layer.tar\"]}]' "
        "> manifest.json && tar -cf ../configured.tar manifest.json config.json layer.tar";
    EXPECT_EQ(peapod::testing::RunShell(script), 0);
    return dir_ / "configured.tar";
  }
};

// Each agent sweeps its cgroup parent's unknown pods at start-up, so a second agent on the same
// parent is refused (it would kill the first one's pods) and the first keeps running them.
TEST_F(AgentContainerTest, ASecondAgentOnTheSameCgroupParentIsRefused) {
  ASSERT_FALSE(LoadImage("busybox.docker.tar").empty());
  auto pod_config = PodConfig("first");
  auto pod = RunPod(pod_config);
  ASSERT_FALSE(pod.empty());
  auto id = RunShell(pod, pod_config, "sleeper", "sleep 60");
  ASSERT_FALSE(id.empty());

  TempDir other("peapod-second-agent");
  agent::AgentConfig config = Config();
  config.state_root = other / "state";
  config.run_root = other / "run";
  auto second = agent::Agent::Open(config);
  ASSERT_FALSE(second.has_value());
  EXPECT_EQ(second.error().code, ErrorCode::kFailedPrecondition) << second.error().ToString();
  EXPECT_NE(second.error().ToString().find(config.cgroup_parent), std::string::npos);

  auto status = agent_->containers().ContainerStatus(id);
  ASSERT_TRUE(status) << status.error().ToString();
  EXPECT_EQ(status->status.state, agent::ContainerState::kRunning);

  agent_.reset();  // the lock goes with the agent: the same parent opens again
  OpenAgent();
}

TEST_F(AgentContainerTest, RunsContainersFromDockerSaveOciLayoutAndImportedImages) {
  auto docker = agent_->images().Load(TestImagesDir() + "/busybox.docker.tar");
  ASSERT_TRUE(docker.has_value()) << docker.error().ToString();
  ASSERT_FALSE(LoadImage("user-numeric.oci.tar").empty());
  std::string tar = dir_ / "rootfs.tar";
  ASSERT_EQ(peapod::testing::RunShell("tar -C " + BusyboxRootfs() + " -cf " + tar + " ."), 0);
  auto imported = agent_->images().Import(tar, "imported:1");
  ASSERT_TRUE(imported.has_value()) << imported.error().ToString();

  auto config = PodConfig("images");
  auto pod = RunPod(config);
  ASSERT_FALSE(pod.empty());
  EXPECT_EQ(Output(pod, config, "from-docker", "echo docker-ok", "busybox:latest"), "docker-ok\n");
  EXPECT_EQ(Output(pod, config, "from-oci", "echo oci-ok", "user-numeric"), "oci-ok\n");
  EXPECT_EQ(Output(pod, config, "from-import", "echo import-ok", "imported:1"), "import-ok\n");
  auto list = agent_->containers().ListContainers({.state = agent::ContainerState::kExited});
  EXPECT_EQ(list.size(), 3u);
  for (const auto& c : list) {
    auto st = agent_->containers().ContainerStatus(c.id);
    ASSERT_TRUE(st.has_value());
    EXPECT_EQ(st->status.reason, "Completed");
    EXPECT_GT(st->status.finished_at, st->status.started_at);
    EXPECT_GE(st->status.started_at, st->status.created_at);
    EXPECT_TRUE(st->status.image_ref.starts_with("sha256:"));
  }
}

TEST_F(AgentContainerTest, TheImageUserIsResolvedInTheImage) {
  ASSERT_FALSE(LoadImage("user-numeric.oci.tar").empty());
  ASSERT_FALSE(LoadImage("user-named.oci.tar").empty());
  auto config = PodConfig("users");
  auto pod = RunPod(config);
  ASSERT_FALSE(pod.empty());
  auto numeric = Output(pod, config, "numeric", "id", "user-numeric");
  EXPECT_NE(numeric.find("uid=1000"), std::string::npos) << numeric;
  EXPECT_NE(numeric.find("gid=1000"), std::string::npos) << numeric;
  auto named = Output(pod, config, "named", "id", "user-named");
  EXPECT_NE(named.find("uid=1000(app)"), std::string::npos) << named;
  // runAsUser wins over the image's USER.
  auto c = ContainerConfig("as-root", "user-named", {"id", "-u"});
  c.linux.security_context.run_as_user = 0;
  auto id = Run(pod, config, c);
  ASSERT_FALSE(id.empty());
  EXPECT_EQ(WaitExited(id).exit_code, 0);
  EXPECT_EQ(LogText(id), "0\n");
}

TEST_F(AgentContainerTest, ImageConfigAppliesAndCommandAndArgsOverrideItAsKubernetesDoes) {
  auto ids = agent_->images().Load(MakeConfiguredImage());
  ASSERT_TRUE(ids.has_value()) << ids.error().ToString();
  auto config = PodConfig("merge");
  auto pod = RunPod(config);
  ASSERT_FALSE(pod.empty());

  auto defaults = Run(pod, config, ContainerConfig("defaults", "configured:1"));
  EXPECT_EQ(WaitExited(defaults).exit_code, 0);
  EXPECT_EQ(LogText(defaults), "cwd=/work/dir mode=image from=yes\n");

  // args replace Cmd and keep the Entrypoint (sh -c); env overrides the image's by key.
  auto with_args = ContainerConfig("args", "configured:1", {}, {"echo args mode=$MODE; env"});
  with_args.envs = {{"MODE", "pod"}};
  with_args.working_dir = "/tmp";
  auto args = Run(pod, config, with_args);
  EXPECT_EQ(WaitExited(args).exit_code, 0);
  auto out = LogText(args);
  EXPECT_NE(out.find("args mode=pod\n"), std::string::npos) << out;
  EXPECT_NE(out.find("FROM_IMAGE=yes\n"), std::string::npos) << out;
  EXPECT_NE(out.find("PWD=/tmp\n"), std::string::npos) << out;
  EXPECT_NE(out.find("HOSTNAME=merge\n"), std::string::npos) << out;

  // command replaces the Entrypoint and drops the image's Cmd.
  auto command = Run(pod, config, ContainerConfig("command", "configured:1", {"echo", "plain"}));
  EXPECT_EQ(WaitExited(command).exit_code, 0);
  EXPECT_EQ(LogText(command), "plain\n");
}

TEST_F(AgentContainerTest, WhiteoutsHideDeletedFilesAndOpaqueDirs) {
  ASSERT_FALSE(LoadImage("busybox-layers.oci.tar").empty());
  auto config = PodConfig("layers");
  auto pod = RunPod(config);
  ASSERT_FALSE(pod.empty());
  auto out = Output(pod, config, "ls",
                    "[ ! -e /data/a ] && echo no-a; [ -e /data/b ] && echo has-b; ls /data/sub",
                    "busybox-layers");
  EXPECT_EQ(out, "no-a\nhas-b\nd\n");
}

// A docker-save archive "layered-user:<tag>" of two layers: the busybox rootfs, then a layer
// whose /etc/passwd adds user svc (4321), with or without its own /etc/group (group svc, 4322).
// USER svc: resolvable only from the upper layer's passwd.
std::string MakeLayeredUserImage(const TempDir& dir, const std::string& tag, bool upper_group) {
  std::string work = dir / ("layered-" + tag);
  std::string script =
      "set -e; mkdir -p " + work + "/up/etc && cd " + work + " && "
      "tar -C " + BusyboxRootfs() + " -cf base.tar . && "
      "{ cat " + BusyboxRootfs() + "/etc/passwd; echo 'svc:x:4321:4322:svc:/srv:/bin/sh'; } "
      "> up/etc/passwd && " +
      (upper_group ? "{ cat " + BusyboxRootfs() + "/etc/group; echo 'svc:x:4322:'; } > up/etc/group && "
                   : std::string()) +
      "tar -C up -cf upper.tar . && "
      "b=$(sha256sum base.tar | cut -d' ' -f1) && u=$(sha256sum upper.tar | cut -d' ' -f1) && "
      "arch=$(dpkg --print-architecture) && "
      "printf '{\"architecture\":\"%s\",\"os\":\"linux\",\"config\":{\"User\":\"svc\","
      "\"Env\":[\"PATH=/bin:/sbin:/usr/bin\"]},\"rootfs\":{\"type\":\"layers\","
      "\"diff_ids\":[\"sha256:%s\",\"sha256:%s\"]}}' $arch $b $u > config.json && "
      "printf '[{\"Config\":\"config.json\",\"RepoTags\":[\"layered-user:" + tag + "\"],"
      "\"Layers\":[\"base.tar\",\"upper.tar\"]}]' > manifest.json && "
      "tar -cf ../layered-" + tag + ".tar manifest.json config.json base.tar upper.tar";
  EXPECT_EQ(peapod::testing::RunShell(script), 0);
  return dir / ("layered-" + tag + ".tar");
}

// Read from the one layer holding both files when it can be (no mount), through the mounted
// overlay when they come from different layers: the same user either way.
TEST_F(AgentContainerTest, TheImageUserIsResolvedFromTheTopmostPasswdOfALayeredImage) {
  for (bool upper_group : {true, false}) {
    std::string tag = upper_group ? "both" : "passwd";
    auto ids = agent_->images().Load(MakeLayeredUserImage(dir_, tag, upper_group));
    ASSERT_TRUE(ids.has_value()) << ids.error().ToString();
  }
  auto config = PodConfig("layered-users");
  auto pod = RunPod(config);
  ASSERT_FALSE(pod.empty());
  auto both = Output(pod, config, "both", "id -u; id -g; echo $HOME", "layered-user:both");
  EXPECT_EQ(both, "4321\n4322\n/srv\n");
  auto passwd = Output(pod, config, "passwd", "id -u; id -g", "layered-user:passwd");
  EXPECT_EQ(passwd, "4321\n4322\n");
}

TEST_F(AgentContainerTest, StopUsesTheTimeoutAndRemoveCleansUp) {
  ASSERT_FALSE(LoadImage("busybox.oci.tar").empty());
  auto config = PodConfig("stop");
  auto pod = RunPod(config);
  ASSERT_FALSE(pod.empty());
  auto id = RunShell(pod, config, "sleeper", "trap 'exit 3' TERM; while true; do sleep 0.1; done");
  ASSERT_FALSE(id.empty());
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  ASSERT_TRUE(agent_->containers().StopContainer(id, 5).has_value());
  auto st = agent_->containers().ContainerStatus(id);
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(st->status.state, agent::ContainerState::kExited);
  EXPECT_EQ(st->status.exit_code, 3);
  EXPECT_EQ(st->status.reason, "Error");
  EXPECT_TRUE(agent_->containers().StopContainer(id, 5).has_value());
  ASSERT_TRUE(agent_->containers().RemoveContainer(id).has_value());
  EXPECT_EQ(agent_->containers().ContainerStatus(id).error().code, ErrorCode::kNotFound);
  EXPECT_TRUE(agent_->containers().RemoveContainer(id).has_value());
  EXPECT_TRUE(DirEntries(dir_ / "run/containers").empty());
  EXPECT_TRUE(DirEntries(dir_ / "state/image/containers").empty());
}

TEST_F(AgentContainerTest, BadInputFailsWithTheRightCodeAndChangesNothing) {
  ASSERT_FALSE(LoadImage("busybox.oci.tar").empty());
  auto bad = PodConfig("");
  auto no_name = agent_->sandboxes().RunPodSandbox(bad);
  ASSERT_FALSE(no_name.has_value());
  EXPECT_EQ(no_name.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(no_name.error().message.find("metadata.name"), std::string::npos);
  EXPECT_TRUE(DirEntries(dir_ / "run/sandboxes").empty());
  EXPECT_TRUE(DirEntries(dir_ / "run/pods").empty());

  auto config = PodConfig("bad");
  auto pod = RunPod(config);
  ASSERT_FALSE(pod.empty());
  auto unknown = agent_->containers().CreateContainer(
      pod, ContainerConfig("c", "no-such-image:1", {"true"}), config);
  ASSERT_FALSE(unknown.has_value());
  EXPECT_EQ(unknown.error().code, ErrorCode::kNotFound);
  EXPECT_NE(unknown.error().message.find("no-such-image:1"), std::string::npos);

  ASSERT_TRUE(agent_->sandboxes().StopPodSandbox(pod).has_value());
  auto stopped = agent_->containers().CreateContainer(
      pod, ContainerConfig("c", "busybox", {"true"}), config);
  ASSERT_FALSE(stopped.has_value());
  EXPECT_EQ(stopped.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_NE(stopped.error().message.find("is not ready"), std::string::npos);

  EXPECT_TRUE(agent_->containers().ListContainers().empty());
  EXPECT_TRUE(DirEntries(dir_ / "run/containers").empty());
  EXPECT_TRUE(DirEntries(dir_ / "state/image/containers").empty());
}

TEST_F(AgentContainerTest, ANewAgentAdoptsRunningPodsAndLearnsExitsFromTheLedger) {
  ASSERT_FALSE(LoadImage("busybox.oci.tar").empty());
  auto config = PodConfig("recover");
  auto pod = RunPod(config);
  ASSERT_FALSE(pod.empty());
  auto ip = agent_->sandboxes().PodSandboxStatus(pod)->status.network.ip;
  auto running = RunShell(pod, config, "running", "while true; do sleep 0.1; done");
  auto exits = RunShell(pod, config, "exits", "sleep 1; exit 7");
  ASSERT_FALSE(running.empty() || exits.empty());

  agent_.reset();  // the agent goes away; its pods do not
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  OpenAgent();
  ASSERT_TRUE(agent_);

  auto pod_status = agent_->sandboxes().PodSandboxStatus(pod);
  ASSERT_TRUE(pod_status.has_value());
  EXPECT_EQ(pod_status->status.state, agent::PodSandboxState::kReady);
  EXPECT_EQ(pod_status->status.network.ip, ip);
  EXPECT_EQ(agent_->containers().ContainerStatus(running)->status.state,
            agent::ContainerState::kRunning);
  auto exited = agent_->containers().ContainerStatus(exits);
  ASSERT_TRUE(exited.has_value());
  EXPECT_EQ(exited->status.state, agent::ContainerState::kExited);
  EXPECT_EQ(exited->status.exit_code, 7);
  EXPECT_EQ(exited->status.reason, "Error");

  // The adopted container is stopped through the new agent, and the pod removed cleanly.
  ASSERT_TRUE(agent_->containers().StopContainer(running, 1).has_value());
  EXPECT_EQ(agent_->containers().ContainerStatus(running)->status.state,
            agent::ContainerState::kExited);
  ASSERT_TRUE(agent_->sandboxes().RemovePodSandbox(pod).has_value());
  EXPECT_TRUE(net_.Leases().empty());
  EXPECT_TRUE(DirEntries(dir_ / "run/sandboxes").empty());
  EXPECT_TRUE(DirEntries(dir_ / "run/containers").empty());
  EXPECT_TRUE(DirEntries(dir_ / "run/pods").empty());
}

}  // namespace
}  // namespace peapod::testing
