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

}  // namespace
}  // namespace peapod::agent
