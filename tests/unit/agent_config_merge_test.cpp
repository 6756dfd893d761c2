// How a CRI container config and its image's config combine, as Kubernetes and containerd do.
#include <gtest/gtest.h>
#include <signal.h>

#include "peapod/agent/config_merge.h"

namespace peapod::agent {
namespace {

using Strings = std::vector<std::string>;

image::ContainerDefaults Image() {
  image::ContainerDefaults d;
  d.entrypoint = {"/entry", "-x"};
  d.cmd = {"serve", "--port=80"};
  d.env = {"PATH=/usr/bin:/bin", "MODE=image", "KEEP=1"};
  d.working_dir = "/srv";
  return d;
}

TEST(MergeProcess, WithNeitherCommandNorArgsTheImageEntrypointAndCmdRun) {
  auto m = MergeProcess(ContainerConfig{}, Image());
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->args, (Strings{"/entry", "-x", "serve", "--port=80"}));
}

TEST(MergeProcess, CommandReplacesEntrypointAndDropsCmd) {
  ContainerConfig c;
  c.command = {"/bin/sh"};
  EXPECT_EQ(MergeProcess(c, Image())->args, (Strings{"/bin/sh"}));
}

TEST(MergeProcess, CommandAndArgsRunTogether) {
  ContainerConfig c;
  c.command = {"/bin/sh", "-c"};
  c.args = {"echo hi"};
  EXPECT_EQ(MergeProcess(c, Image())->args, (Strings{"/bin/sh", "-c", "echo hi"}));
}

TEST(MergeProcess, ArgsAloneReplaceCmdAndKeepEntrypoint) {
  ContainerConfig c;
  c.args = {"check"};
  EXPECT_EQ(MergeProcess(c, Image())->args, (Strings{"/entry", "-x", "check"}));
}

TEST(MergeProcess, AnEmptyStringEntrypointIsNoEntrypoint) {
  auto image = Image();
  image.entrypoint = {""};
  EXPECT_EQ(MergeProcess(ContainerConfig{}, image)->args, (Strings{"serve", "--port=80"}));
}

TEST(MergeProcess, NothingToRunIsInvalid) {
  auto m = MergeProcess(ContainerConfig{}, image::ContainerDefaults{});
  ASSERT_FALSE(m.has_value());
  EXPECT_EQ(m.error().code, ErrorCode::kInvalidArgument);
}

TEST(MergeProcess, ContainerEnvOverridesImageEnvByKeyKeepingOrder) {
  ContainerConfig c;
  c.envs = {{"MODE", "pod"}, {"EXTRA", "a=b"}};
  EXPECT_EQ(MergeProcess(c, Image())->env,
            (Strings{"PATH=/usr/bin:/bin", "MODE=pod", "KEEP=1", "EXTRA=a=b"}));
}

TEST(MergeProcess, WorkingDirComesFromConfigThenImageThenRoot) {
  ContainerConfig c;
  EXPECT_EQ(MergeProcess(c, Image())->working_dir, "/srv");
  c.working_dir = "/data";
  EXPECT_EQ(MergeProcess(c, Image())->working_dir, "/data");
  auto image = Image();
  image.working_dir.clear();
  EXPECT_EQ(MergeProcess(ContainerConfig{}, image)->working_dir, "/");
}

TEST(ParseStopSignal, AcceptsNamesWithOrWithoutSigAndNumbers) {
  EXPECT_EQ(ParseStopSignal("").value(), SIGTERM);
  EXPECT_EQ(ParseStopSignal("SIGQUIT").value(), SIGQUIT);
  EXPECT_EQ(ParseStopSignal("quit").value(), SIGQUIT);
  EXPECT_EQ(ParseStopSignal("9").value(), SIGKILL);
  EXPECT_EQ(ParseStopSignal("SIGWHAT").error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(ParseStopSignal("999").error().code, ErrorCode::kInvalidArgument);
}

TEST(ParseStopSignal, AcceptsRealTimeSignalsAsImagesForSystemdNameThem) {
  EXPECT_EQ(ParseStopSignal("SIGRTMIN+3").value(), SIGRTMIN + 3);
  EXPECT_EQ(ParseStopSignal("RTMIN+3").value(), 37);
  auto bad = ParseStopSignal("SIGRTMIN+99");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("unknown stop signal \"SIGRTMIN+99\""), std::string::npos)
      << bad.error().message;
}

}  // namespace
}  // namespace peapod::agent

namespace peapod::agent {
namespace {

TEST(RunsSystemd, DetectsInitAndSystemdCommandsAsCriO) {
  for (const char* command : {"/sbin/init", "/usr/sbin/init", "/lib/systemd/systemd",
                              "/usr/lib/systemd/systemd", "systemd"}) {
    EXPECT_TRUE(RunsSystemd({command, "--log-level=info"}, {}, {}).value()) << command;
  }
  for (const char* command : {"sh", "/bin/init.sh", "/usr/bin/systemd-run", "/sbin/initctl",
                              "systemd.sh", "/systemd/bin/app"}) {
    EXPECT_FALSE(RunsSystemd({command}, {}, {}).value()) << command;
  }
  EXPECT_FALSE(RunsSystemd({}, {}, {}).value());
}

TEST(RunsSystemd, TheAnnotationOnTheContainerThenThePodDecides) {
  const std::map<std::string, std::string> on = {{"io.peapod.systemd", "true"}};
  const std::map<std::string, std::string> off = {{"io.peapod.systemd", "false"}};
  EXPECT_TRUE(RunsSystemd({"sh"}, on, {}).value());
  EXPECT_TRUE(RunsSystemd({"sh"}, {}, on).value());
  EXPECT_FALSE(RunsSystemd({"/sbin/init"}, off, {}).value());
  EXPECT_FALSE(RunsSystemd({"/sbin/init"}, {}, off).value());
  EXPECT_TRUE(RunsSystemd({"sh"}, on, off).value());  // the container's wins
  auto bad = RunsSystemd({"sh"}, {{"io.peapod.systemd", "yes"}}, {});
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(bad.error().message.find("io.peapod.systemd"), std::string::npos);
}

TEST(ApplySystemdMode, AddsTmpfsWhereThePodMountsNothingEnvAndWritableCgroups) {
  runtime::ContainerSpec spec;
  spec.env = {"PATH=/bin"};
  Mount tmp;
  tmp.container_path = "/tmp/";
  tmp.host_path = "/var/lib/x";
  ApplySystemdMode({tmp}, spec);
  std::vector<std::string> tmpfs;
  for (const auto& m : spec.mounts) {
    EXPECT_EQ(m.type, "tmpfs");
    tmpfs.push_back(m.destination);
  }
  EXPECT_EQ(tmpfs, (std::vector<std::string>{"/run", "/run/lock", "/var/log/journal"}));
  EXPECT_EQ(spec.env, (std::vector<std::string>{"PATH=/bin", "container=peapod"}));
  EXPECT_TRUE(spec.cgroup_writable);

  runtime::ContainerSpec docker;
  docker.env = {"container=docker"};
  ApplySystemdMode({}, docker);
  EXPECT_EQ(docker.env, (std::vector<std::string>{"container=docker"}));
  EXPECT_EQ(docker.mounts.size(), 4u);
}

}  // namespace
}  // namespace peapod::agent
