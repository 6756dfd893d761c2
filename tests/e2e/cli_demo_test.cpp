// The confd + nginx sidecar example end to end through the CLI: apply the manifest shipped in
// manifests/examples, wait for Ready, curl nginx on its hostPort, change the upstream in etcd
// with `peapod exec`, and see nginx serve the other backend after a SIGHUP reload: same nginx
// pid, no restart.
#include <regex>

#include "e2e/cli_fixture.h"

namespace peapod::testing {
namespace {

std::string Curl(int port) {
  return CaptureShellOutput("curl -sS --max-time 2 http://127.0.0.1:" + std::to_string(port) +
                            "/ 2>&1");
}

class ConfdNginxDemo : public CliTest {};

TEST_F(ConfdNginxDemo, EtcdChangeReloadsNginxWithoutRestart) {
  // The example's hostPort is 8080; a free port keeps this test off whatever else uses 8080.
  int port = FreeLoopbackPort();
  std::string manifest = ReadFile(PEAPOD_SOURCE_DIR "/manifests/examples/confd-nginx.yaml");
  ASSERT_NE(manifest.find("hostPort: 8080"), std::string::npos);
  manifest = std::regex_replace(manifest, std::regex("hostPort: 8080"),
                                "hostPort: " + std::to_string(port));

  auto applied = Apply(manifest);
  ASSERT_EQ(applied.exit_code, 0) << applied.Describe();
  EXPECT_NE(applied.out.find("configmap/confd created"), std::string::npos) << applied.out;
  EXPECT_NE(applied.out.find("pod/demo created"), std::string::npos) << applied.out;
  ASSERT_TRUE(WaitPodReady("demo")) << Cli({"describe", "pod", "demo"}).out;

  ASSERT_TRUE(WaitUntil([&] { return Curl(port) == "hello from blue\n"; })) << Curl(port);
  // The pid of nginx's master as the pod's PID namespace numbers it (from its pid file).
  auto nginx_pid = [&] {
    auto r = Cli({"exec", "demo", "-c", "nginx", "--", "cat", "/etc/nginx/rendered/nginx.pid"});
    return r.exit_code == 0 ? r.out : std::string();
  };
  std::string pid_before = nginx_pid();
  ASSERT_FALSE(pid_before.empty());

  auto put = Cli(
      {"exec", "demo", "-c", "etcd", "--", "etcdctl", "put", "/demo/upstream", "127.0.0.1:8082"});
  ASSERT_EQ(put.exit_code, 0) << put.Describe();
  EXPECT_EQ(put.out, "OK\n");
  EXPECT_TRUE(WaitUntil([&] { return Curl(port) == "hello from green\n"; })) << Curl(port);

  // Reloaded, not restarted: the same master process, no restart counted.
  EXPECT_EQ(nginx_pid(), pid_before);
  auto pod = Pod("demo");
  EXPECT_EQ(RestartCount(pod, "nginx"), 0);
  EXPECT_EQ(StateKind(pod, "nginx"), "running");
  auto confd_log = Cli({"logs", "demo", "-c", "confd"});
  EXPECT_NE(confd_log.out.find("rendered upstream 127.0.0.1:8082"), std::string::npos)
      << confd_log.Describe();
  EXPECT_NE(confd_log.out.find("sent SIGHUP to nginx"), std::string::npos) << confd_log.out;

  // Re-applying the same file changes nothing.
  auto again = Apply(manifest);
  ASSERT_EQ(again.exit_code, 0) << again.Describe();
  EXPECT_NE(again.out.find("pod/demo unchanged"), std::string::npos) << again.out;

  auto table = Cli({"get", "pods"});
  EXPECT_NE(table.out.find("demo   5/5     Running   0"), std::string::npos) << table.out;
}

}  // namespace
}  // namespace peapod::testing
