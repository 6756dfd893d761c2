#include <gtest/gtest.h>

#include <algorithm>

#include "peapod/cni/config.h"
#include "peapod/cni/invocation.h"

namespace peapod::cni {
namespace {

using nlohmann::json;

PodNetwork FullPod() {
  PodNetwork pod;
  pod.sandbox_id = "abc123";
  pod.netns_path = "/run/netns/x";
  pod.pod_name = "web";
  pod.pod_namespace = "prod";
  pod.pod_uid = "uid-1";
  pod.port_mappings = {
      {"tcp", 18080, 8080, ""}, {"udp", 5353, 53, "127.0.0.1"}, {"tcp", 0, 9090, ""}};
  pod.bandwidth = Bandwidth{1000, 2000, 3000, 4000};
  pod.ips = {"10.99.1.9"};
  pod.mac = "02:00:00:00:00:09";
  pod.dns = DnsConfig{{"10.0.0.10"}, "", {"svc.cluster.local"}, {"ndots:5"}};
  return pod;
}

TEST(CniInvocation, BuildsCniArgsInKubernetesForm) {
  EXPECT_EQ(BuildCniArgs(FullPod()),
            "IgnoreUnknown=1;K8S_POD_NAMESPACE=prod;K8S_POD_NAME=web;"
            "K8S_POD_INFRA_CONTAINER_ID=abc123;K8S_POD_UID=uid-1");
}

TEST(CniInvocation, LeavesOutEmptyCniArgs) {
  PodNetwork pod;
  pod.sandbox_id = "id";
  EXPECT_EQ(BuildCniArgs(pod), "IgnoreUnknown=1;K8S_POD_INFRA_CONTAINER_ID=id");
}

TEST(CniInvocation, CapabilityArgsCarryOnlyMappingsWithAHostPort) {
  json args = CapabilityArgs(FullPod());
  ASSERT_EQ(args["portMappings"].size(), 2u);
  EXPECT_EQ(args["portMappings"][0],
            (json{{"hostPort", 18080}, {"containerPort", 8080}, {"protocol", "tcp"}}));
  EXPECT_EQ(args["portMappings"][1]["hostIP"], "127.0.0.1");
  EXPECT_EQ(args["bandwidth"]["egressBurst"], 4000);
  EXPECT_EQ(args["ips"][0], "10.99.1.9");
  EXPECT_EQ(args["mac"], "02:00:00:00:00:09");
  EXPECT_EQ(args["dns"]["servers"][0], "10.0.0.10");
  EXPECT_TRUE(CapabilityArgs(PodNetwork{}).empty());
}

TEST(CniInvocation, InjectsNameVersionAndPrevResult) {
  auto list = ParseConfigList(
      R"({"cniVersion": "1.0.0", "name": "net", "plugins": [{"type": "bridge", "mtu": 1400}]})");
  ASSERT_TRUE(list);
  json prev = {{"cniVersion", "1.0.0"}, {"ips", json::array()}};
  json conf = BuildPluginStdin(*list, list->plugins[0], json::object(), prev);
  EXPECT_EQ(conf["name"], "net");
  EXPECT_EQ(conf["cniVersion"], "1.0.0");
  EXPECT_EQ(conf["type"], "bridge");
  EXPECT_EQ(conf["mtu"], 1400);
  EXPECT_EQ(conf["prevResult"], prev);
  EXPECT_FALSE(conf.contains("runtimeConfig"));
  EXPECT_FALSE(BuildPluginStdin(*list, list->plugins[0], json::object(), std::nullopt)
                   .contains("prevResult"));
}

TEST(CniInvocation, SendsRuntimeConfigOnlyForDeclaredCapabilities) {
  auto list = ParseConfigList(R"({"cniVersion": "1.0.0", "name": "net", "plugins": [
      {"type": "bridge"},
      {"type": "portmap", "capabilities": {"portMappings": true}},
      {"type": "bandwidth", "capabilities": {"bandwidth": true, "portMappings": false},
       "runtimeConfig": {"keep": 1}}]})");
  ASSERT_TRUE(list);
  json args = CapabilityArgs(FullPod());
  json bridge = BuildPluginStdin(*list, list->plugins[0], args, std::nullopt);
  json portmap = BuildPluginStdin(*list, list->plugins[1], args, std::nullopt);
  json bandwidth = BuildPluginStdin(*list, list->plugins[2], args, std::nullopt);
  EXPECT_FALSE(bridge.contains("runtimeConfig"));
  ASSERT_TRUE(portmap.contains("runtimeConfig"));
  EXPECT_EQ(portmap["runtimeConfig"].size(), 1u);
  EXPECT_EQ(portmap["runtimeConfig"]["portMappings"].size(), 2u);
  EXPECT_FALSE(bandwidth["runtimeConfig"].contains("portMappings"));
  EXPECT_EQ(bandwidth["runtimeConfig"]["bandwidth"]["ingressRate"], 1000);
  EXPECT_EQ(bandwidth["runtimeConfig"]["keep"], 1);
}

TEST(CniInvocation, DeclaredCapabilityWithoutPodValueSendsNothing) {
  auto list = ParseConfigList(R"({"cniVersion": "1.0.0", "name": "net", "plugins": [
      {"type": "portmap", "capabilities": {"portMappings": true}}]})");
  ASSERT_TRUE(list);
  PodNetwork pod;
  pod.sandbox_id = "x";
  json conf = BuildPluginStdin(*list, list->plugins[0], CapabilityArgs(pod), std::nullopt);
  EXPECT_FALSE(conf.contains("runtimeConfig"));
}

TEST(CniInvocation, EnvironmentHasExactlyTheCniVariablesAndPath) {
  auto env = BuildPluginEnv(
      {"ADD", "abc", "/run/netns/x", "eth0", "IgnoreUnknown=1", {"/opt/cni/bin", "/usr/lib/cni"}});
  auto has = [&](const std::string& v) {
    return std::find(env.begin(), env.end(), v) != env.end();
  };
  EXPECT_TRUE(has("CNI_COMMAND=ADD"));
  EXPECT_TRUE(has("CNI_CONTAINERID=abc"));
  EXPECT_TRUE(has("CNI_NETNS=/run/netns/x"));
  EXPECT_TRUE(has("CNI_IFNAME=eth0"));
  EXPECT_TRUE(has("CNI_ARGS=IgnoreUnknown=1"));
  EXPECT_TRUE(has("CNI_PATH=/opt/cni/bin:/usr/lib/cni"));
  EXPECT_EQ(env.size(), 7u);
}

}  // namespace
}  // namespace peapod::cni
