// Pods through the sandbox manager with the real CNI plugins: addresses, pod-to-pod traffic,
// hostPorts, hostNetwork, and a broken network config that must leave nothing behind.
#include <gtest/gtest.h>

#include <chrono>
#include <iostream>
#include <regex>

#include "agent_fixture.h"
#include "support/pod_fixture.h"

namespace peapod::testing {
namespace {

using std::chrono::steady_clock;

double MillisSince(steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(steady_clock::now() - start).count();
}

class AgentNetworkTest : public AgentFixture {};

TEST_F(AgentNetworkTest, PodsGetAnAddressOnEth0AndReachEachOther) {
  ASSERT_FALSE(LoadImage("busybox.oci.tar").empty());
  auto config_a = PodConfig("pod-a");
  auto start = steady_clock::now();
  auto a = RunPod(config_a);
  double run_ms = MillisSince(start);
  ASSERT_FALSE(a.empty());
  auto config_b = PodConfig("pod-b");
  auto b = RunPod(config_b);
  ASSERT_FALSE(b.empty());

  auto status_a = agent_->sandboxes().PodSandboxStatus(a);
  auto status_b = agent_->sandboxes().PodSandboxStatus(b);
  ASSERT_TRUE(status_a && status_b);
  EXPECT_EQ(status_a->status.state, agent::PodSandboxState::kReady);
  std::string ip_a = status_a->status.network.ip, ip_b = status_b->status.network.ip;
  std::string prefix = "10.99." + std::to_string(net_.index()) + ".";
  EXPECT_TRUE(ip_a.starts_with(prefix)) << ip_a;
  EXPECT_TRUE(ip_b.starts_with(prefix)) << ip_b;
  EXPECT_NE(ip_a, ip_b);
  EXPECT_EQ(net_.Leases().size(), 2u);

  start = steady_clock::now();
  auto addr = RunShell(a, config_a, "addr", "ip -4 addr show eth0; cat /etc/hosts /etc/hostname");
  double container_ms = MillisSince(start);
  ASSERT_FALSE(addr.empty());
  EXPECT_EQ(WaitExited(addr).exit_code, 0);
  std::string out = LogText(addr);
  EXPECT_NE(out.find("inet " + ip_a + "/24"), std::string::npos) << out;
  EXPECT_NE(out.find(ip_a + "\tpod-a"), std::string::npos) << out;  // /etc/hosts
  EXPECT_NE(out.find("\npod-a\n"), std::string::npos) << out;          // /etc/hostname

  auto server = RunShell(b, config_b, "httpd",
                         "mkdir -p /tmp/www && echo hello-from-b > /tmp/www/index.html && "
                         "exec httpd -f -p 8080 -h /tmp/www");
  ASSERT_FALSE(server.empty());
  auto fetched = Output(a, config_a, "wget",
                        "for i in $(seq 1 50); do timeout 5 wget -q -O- http://" + ip_b +
                            ":8080/ && exit 0; sleep 0.1; done; exit 1");
  EXPECT_NE(fetched.find("hello-from-b"), std::string::npos) << fetched;

  auto list = agent_->containers().ListContainers({.pod_sandbox_id = b});
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].state, agent::ContainerState::kRunning);
  std::cout << "[ figures ] RunPodSandbox with CNI: " << run_ms
            << " ms; CreateContainer+StartContainer: " << container_ms << " ms\n";
  RecordProperty("run_pod_sandbox_ms", std::to_string(run_ms));
  RecordProperty("create_start_container_ms", std::to_string(container_ms));
}

TEST_F(AgentNetworkTest, HostPortReachesThePodAndIsGoneAfterRemoval) {
  ASSERT_FALSE(LoadImage("busybox.oci.tar").empty());
  auto config = PodConfig("web");
  config.port_mappings.push_back({agent::Protocol::kTcp, 8080, 18080, ""});
  auto pod = RunPod(config);
  ASSERT_FALSE(pod.empty());
  auto server = RunShell(pod, config, "httpd",
                         "mkdir -p /tmp/www && echo hostport-ok > /tmp/www/index.html && "
                         "exec httpd -f -p 8080 -h /tmp/www");
  ASSERT_FALSE(server.empty());
  std::string got;
  for (int i = 0; i < 50 && got.find("hostport-ok") == std::string::npos; ++i) {
    got = CaptureShellOutput("timeout 5 /bin/busybox wget -q -O- http://127.0.0.1:18080/ 2>/dev/null");
    if (got.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_NE(got.find("hostport-ok"), std::string::npos);

  ASSERT_TRUE(agent_->sandboxes().StopPodSandbox(pod).has_value());
  auto st = agent_->containers().ContainerStatus(server);
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(st->status.state, agent::ContainerState::kExited);
  EXPECT_EQ(agent_->sandboxes().PodSandboxStatus(pod)->status.state,
            agent::PodSandboxState::kNotReady);
  // Stop is idempotent.
  EXPECT_TRUE(agent_->sandboxes().StopPodSandbox(pod).has_value());
  ASSERT_TRUE(agent_->sandboxes().RemovePodSandbox(pod).has_value());
  EXPECT_EQ(CaptureShellOutput("iptables-save | grep -c 18080"), "0\n");
  EXPECT_TRUE(net_.Leases().empty());
  EXPECT_TRUE(agent_->sandboxes().ListPodSandbox().empty());
  EXPECT_TRUE(agent_->containers().ListContainers().empty());
  // Remove is idempotent and an unknown id is fine; Stop of an unknown id is NotFound.
  EXPECT_TRUE(agent_->sandboxes().RemovePodSandbox(pod).has_value());
  EXPECT_EQ(agent_->sandboxes().StopPodSandbox(pod).error().code, ErrorCode::kNotFound);
  EXPECT_TRUE(DirEntries(dir_ / "run/sandboxes").empty());
  EXPECT_TRUE(DirEntries(dir_ / "run/containers").empty());
  EXPECT_TRUE(DirEntries(dir_ / "run/pods").empty());
}

// A second pod asking for a host port that another maps would put its iptables rules next to
// the first's and take some or all of its traffic: it is refused, and leaves nothing behind.
TEST_F(AgentNetworkTest, ASandboxCannotTakeAHostPortAnotherMaps) {
  auto config_a = PodConfig("port-a");
  config_a.port_mappings.push_back({agent::Protocol::kTcp, 8080, 18081, ""});
  auto a = RunPod(config_a);
  ASSERT_FALSE(a.empty());

  auto config_b = PodConfig("port-b");
  config_b.port_mappings.push_back({agent::Protocol::kTcp, 80, 18081, "127.0.0.1"});
  auto b = agent_->sandboxes().RunPodSandbox(config_b);
  ASSERT_FALSE(b.has_value());
  EXPECT_EQ(b.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_NE(b.error().message.find("host port 127.0.0.1:18081/tcp is already mapped by pod "
                                   "sandbox " +
                                   a + " (" + config_a.metadata.namespace_ + "/port-a)"),
            std::string::npos)
      << b.error().ToString();
  EXPECT_EQ(agent_->sandboxes().ListPodSandbox().size(), 1u);
  EXPECT_EQ(net_.Leases().size(), 1u);

  // Another protocol is another port.
  auto config_udp = PodConfig("port-udp");
  config_udp.port_mappings.push_back({agent::Protocol::kUdp, 80, 18081, ""});
  auto udp = RunPod(config_udp);
  EXPECT_FALSE(udp.empty());

  // Once the first pod is stopped (its mapping gone with CNI DEL), the port is free.
  ASSERT_TRUE(agent_->sandboxes().StopPodSandbox(a).has_value());
  auto again = RunPod(config_b);
  EXPECT_FALSE(again.empty());
  for (const auto& id : {a, udp, again}) {
    if (id.empty()) continue;
    (void)agent_->sandboxes().StopPodSandbox(id);
    EXPECT_TRUE(agent_->sandboxes().RemovePodSandbox(id).has_value());
  }
  EXPECT_EQ(CaptureShellOutput("iptables-save | grep -c 18081"), "0\n");
}

TEST_F(AgentNetworkTest, HostNetworkPodsRunNoCni) {
  ASSERT_FALSE(LoadImage("busybox.oci.tar").empty());
  auto config = PodConfig("hostnet");
  config.linux.security_context.namespace_options.network = agent::NamespaceMode::kNode;
  auto pod = RunPod(config);
  ASSERT_FALSE(pod.empty());
  EXPECT_TRUE(net_.Leases().empty());
  EXPECT_TRUE(agent_->sandboxes().PodSandboxStatus(pod)->status.network.ip.empty());
  auto out = Output(pod, config, "ns", "stat -L -c %i /proc/self/ns/net");
  EXPECT_EQ(out, std::to_string(NamespaceInode(::getpid(), "net")) + "\n");
}

TEST_F(AgentNetworkTest, ABrokenNetworkConfigFailsThePodAndLeavesNothingBehind) {
  net_.ClearConfDir();
  net_.WriteConflist(net_.Conflist({.extra_plugins = {"peapod-missing-plugin"}}));
  auto config = PodConfig("broken");
  auto id = agent_->sandboxes().RunPodSandbox(config);
  ASSERT_FALSE(id.has_value());
  EXPECT_NE(id.error().message.find("peapod-missing-plugin"), std::string::npos)
      << id.error().ToString();
  EXPECT_TRUE(agent_->sandboxes().ListPodSandbox().empty());
  EXPECT_TRUE(DirEntries(dir_ / "run/sandboxes").empty());
  EXPECT_TRUE(DirEntries(dir_ / "run/pods").empty());
  EXPECT_TRUE(MountsUnder(dir_ / "run").empty());
  EXPECT_TRUE(PauseChildren().empty());
  EXPECT_TRUE(net_.Leases().empty());
}

}  // namespace
}  // namespace peapod::testing
