// The other manifests in manifests/examples, applied from their files as a user would: init
// containers with probes, the crash loop, and the machine to exec into.
#include <regex>

#include "e2e/cli_fixture.h"

namespace peapod::testing {
namespace {

std::string Example(const std::string& name) {
  return std::string(PEAPOD_SOURCE_DIR "/manifests/examples/") + name;
}

class Examples : public CliTest {};

TEST_F(Examples, InitProbesBecomesReadyAndLivenessRestartsIt) {
  auto r = Cli({"apply", "-f", Example("init-probes.yaml")});
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  ASSERT_TRUE(WaitPodReady("init-probes")) << Cli({"describe", "pod", "init-probes"}).out;
  auto page = Cli({"exec", "init-probes", "--", "cat", "/www/index.html"});
  EXPECT_EQ(page.out, "page rendered by init containers\n");
  EXPECT_EQ(Cli({"logs", "init-probes", "-c", "fetch"}).out, "init 1: fetch\n");
  EXPECT_EQ(Cli({"logs", "init-probes", "-c", "render"}).out, "init 2: render\n");

  ASSERT_EQ(Cli({"exec", "init-probes", "--", "rm", "/www/healthz"}).exit_code, 0);
  EXPECT_TRUE(WaitUntil([&] { return RestartCount(Pod("init-probes"), "web") >= 1; }))
      << Cli({"describe", "pod", "init-probes"}).out;
  EXPECT_TRUE(WaitPodReady("init-probes"));
}

TEST_F(Examples, CrashLoopRestartsAndKeepsThePreviousLog) {
  auto r = Cli({"apply", "-f", Example("crashloop.yaml")});
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  ASSERT_TRUE(WaitUntil([&] { return RestartCount(Pod("crashloop"), "app") >= 2; }))
      << Cli({"describe", "pod", "crashloop"}).out;
  auto previous = Cli({"logs", "crashloop", "--previous"});
  EXPECT_EQ(previous.exit_code, 0) << previous.Describe();
  EXPECT_NE(previous.out.find("starting at"), std::string::npos) << previous.out;
  EXPECT_TRUE(previous.out.ends_with("giving up\n")) << previous.out;
}

TEST_F(Examples, PodInfoReadsItsLabelsAndFollowsAChange) {
  auto r = Cli({"apply", "-f", Example("podinfo.yaml")});
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  ASSERT_TRUE(WaitUntil([&] {
    return Cli({"logs", "podinfo"})
               .out.find("hello from podinfo (32 MiB), labels: app=\"podinfo\" track=\"stable\"") !=
           std::string::npos;
  })) << Cli({"logs", "podinfo"}).Describe();
  EXPECT_EQ(Cli({"exec", "podinfo", "--", "cat", "/etc/config/password"}).out, "correct-horse");
  EXPECT_EQ(Cli({"exec", "podinfo", "--", "ls", "/var/log/app"}).out, "last\n");

  auto text = ReadFile(Example("podinfo.yaml"));
  auto canary = std::regex_replace(text, std::regex("track: stable"), "track: canary");
  auto again = Cli({"apply", "-f", "-"}, canary);
  ASSERT_EQ(again.exit_code, 0) << again.Describe();
  EXPECT_NE(again.out.find("pod/podinfo configured"), std::string::npos) << again.out;
  EXPECT_TRUE(WaitUntil([&] {
    return Cli({"logs", "podinfo"}).out.find("track=\"canary\"") != std::string::npos;
  })) << Cli({"logs", "podinfo"}).Describe();
  EXPECT_EQ(RestartCount(Pod("podinfo"), "app"), 0);
}

TEST_F(Examples, MachineIsAShellToExecInto) {
  auto r = Cli({"apply", "-f", Example("machine.yaml")});
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  ASSERT_TRUE(WaitRunning("machine", "machine"));
  auto who = Cli({"exec", "machine", "--", "sh", "-c", "hostname; pwd; echo $POD_NAME"});
  EXPECT_EQ(who.exit_code, 0) << who.Describe();
  EXPECT_EQ(who.out, "machine\n/home/dev\nmachine\n");
  ASSERT_EQ(Cli({"exec", "machine", "--", "sh", "-c", "echo hi >/home/dev/note"}).exit_code, 0);
  EXPECT_EQ(Cli({"exec", "machine", "--", "cat", "/home/dev/note"}).out, "hi\n");
  auto deleted = Cli({"delete", "pod", "machine"});
  EXPECT_EQ(deleted.exit_code, 0) << deleted.Describe();
  EXPECT_EQ(deleted.out, "pod \"machine\" deleted\n");
}

}  // namespace
}  // namespace peapod::testing
