// What a manifest pod becomes in CRI terms, checked against kubelet's conversions: $(VAR)
// expansion, env resolution order, resources, security contexts, sandbox config, hosts file.
#include <gtest/gtest.h>

#include "../../agent/controller/pod_config.h"

namespace peapod::agent::controller {
namespace {

Pod BasicPod() {
  Pod pod;
  pod.metadata.name = "web";
  pod.metadata.namespace_ = "shop";
  pod.metadata.labels = {{"app", "web"}};
  Container c;
  c.name = "app";
  c.image = "busybox";
  pod.spec.containers.push_back(c);
  return pod;
}

Quantity Q(int64_t value) { return Quantity{std::to_string(value), value}; }

TEST(ExpandVariables, ReplacesDefinedNamesKeepsUndefinedAndUnescapesDollars) {
  std::map<std::string, std::string> vars = {{"A", "1"}, {"B", "two"}};
  EXPECT_EQ(ExpandVariables("$(A)-$(B)", vars), "1-two");
  EXPECT_EQ(ExpandVariables("$(C)", vars), "$(C)");
  EXPECT_EQ(ExpandVariables("$$(A)", vars), "$(A)");
  EXPECT_EQ(ExpandVariables("cost $5 $", vars), "cost $5 $");
  EXPECT_EQ(ExpandVariables("$(A", vars), "$(A");
}

TEST(ResolveEnvironment, EnvFromComesFirstAndEnvOverridesIt) {
  Pod pod = BasicPod();
  ConfigObjects objects;
  ConfigMap cm;
  cm.metadata.name = "cfg";
  cm.metadata.namespace_ = "shop";
  cm.data = {{"MODE", "slow"}, {"bad key", "x"}};
  objects.config_maps["shop/cfg"] = cm;
  Container& c = pod.spec.containers[0];
  EnvFromSource from;
  from.config_map_ref = KeySelector{"cfg", "", false};
  c.env_from.push_back(from);
  EnvVar mode;
  mode.name = "MODE";
  mode.value = "fast-$(MODE)";
  c.env.push_back(mode);
  EnvVar ip;
  ip.name = "IP";
  ip.field_ref = FieldRef{"status.podIP"};
  c.env.push_back(ip);
  PodRuntimeInfo info;
  info.uid = "u1";
  info.pod_ip = "10.1.2.3";
  auto env = ResolveEnvironment(pod, c, objects, info);
  ASSERT_TRUE(env.has_value()) << env.error().ToString();
  ASSERT_EQ(env->size(), 2u);  // "bad key" is not a valid name and is skipped
  EXPECT_EQ((*env)[0].key, "MODE");
  EXPECT_EQ((*env)[0].value, "fast-slow");
  EXPECT_EQ((*env)[1].value, "10.1.2.3");
}

TEST(ResolveEnvironment, AMissingReferenceFailsUnlessOptional) {
  Pod pod = BasicPod();
  Container& c = pod.spec.containers[0];
  EnvVar v;
  v.name = "X";
  v.secret_key_ref = KeySelector{"nope", "k", false};
  c.env.push_back(v);
  auto env = ResolveEnvironment(pod, c, {}, {});
  ASSERT_FALSE(env.has_value());
  EXPECT_NE(env.error().message.find("nope"), std::string::npos);
  c.env[0].secret_key_ref->optional = true;
  env = ResolveEnvironment(pod, c, {}, {});
  ASSERT_TRUE(env.has_value());
  EXPECT_TRUE(env->empty());
}

TEST(ConvertResources, FollowsKubeletsCpuSharesQuotaAndMemoryConversion) {
  Pod pod = BasicPod();
  Container& c = pod.spec.containers[0];
  auto none = ConvertResources(pod, c);
  EXPECT_EQ(none.cpu_shares, 2);
  EXPECT_EQ(none.cpu_quota, 0);
  EXPECT_EQ(none.oom_score_adj, 1000);  // BestEffort

  c.resources.requests["cpu"] = Q(250);
  c.resources.limits["cpu"] = Q(500);
  c.resources.limits["memory"] = Q(128 << 20);
  auto burstable = ConvertResources(pod, c);
  EXPECT_EQ(burstable.cpu_shares, 256);
  EXPECT_EQ(burstable.cpu_period, 100000);
  EXPECT_EQ(burstable.cpu_quota, 50000);
  EXPECT_EQ(burstable.memory_limit_in_bytes, 128 << 20);
  EXPECT_GE(burstable.oom_score_adj, 2);
  EXPECT_LE(burstable.oom_score_adj, 999);

  c.resources.requests.clear();  // requests default to limits: Guaranteed
  auto guaranteed = ConvertResources(pod, c);
  EXPECT_EQ(guaranteed.cpu_shares, 512);
  EXPECT_EQ(guaranteed.oom_score_adj, -997);
}

TEST(ConvertSecurityContext, MergesPodAndContainerAndChecksRunAsNonRoot) {
  Pod pod = BasicPod();
  pod.spec.share_process_namespace = true;
  pod.spec.security_context = PodSecurityContext{};
  pod.spec.security_context->run_as_user = 1000;
  pod.spec.security_context->fs_group = 2000;
  pod.spec.security_context->run_as_non_root = true;
  Container& c = pod.spec.containers[0];
  c.security_context = SecurityContext{};
  c.security_context->allow_privilege_escalation = false;
  c.security_context->run_as_group = 3000;
  auto sc = ConvertSecurityContext(pod, c, "");
  ASSERT_TRUE(sc.has_value()) << sc.error().ToString();
  EXPECT_EQ(sc->run_as_user, 1000);
  EXPECT_EQ(sc->run_as_group, 3000);
  EXPECT_TRUE(sc->no_new_privs);
  EXPECT_EQ(sc->namespace_options.pid, NamespaceMode::kPod);
  ASSERT_EQ(sc->supplemental_groups.size(), 1u);
  EXPECT_EQ(sc->supplemental_groups[0], 2000);

  c.security_context->run_as_user = 0;
  EXPECT_FALSE(ConvertSecurityContext(pod, c, "").has_value());
  c.security_context->run_as_user.reset();
  pod.spec.security_context->run_as_user.reset();
  EXPECT_FALSE(ConvertSecurityContext(pod, c, "").has_value());        // image runs as root
  EXPECT_FALSE(ConvertSecurityContext(pod, c, "nobody").has_value());  // cannot verify a name
  EXPECT_TRUE(ConvertSecurityContext(pod, c, "65534:65534").has_value());
}

TEST(ConvertSecurityContext, AGroupWithoutAUserNamesTheImagesUserAsKubeletDoes) {
  Pod pod = BasicPod();
  Container& c = pod.spec.containers[0];
  c.security_context = SecurityContext{};
  c.security_context->run_as_group = 3000;
  auto numeric = ConvertSecurityContext(pod, c, "1000:50");
  ASSERT_TRUE(numeric.has_value()) << numeric.error().ToString();
  EXPECT_EQ(numeric->run_as_user, 1000);
  EXPECT_EQ(numeric->run_as_group, 3000);
  auto named = ConvertSecurityContext(pod, c, "www-data");
  ASSERT_TRUE(named.has_value()) << named.error().ToString();
  EXPECT_FALSE(named->run_as_user);
  EXPECT_EQ(named->run_as_username, "www-data");
  auto root = ConvertSecurityContext(pod, c, "");
  ASSERT_TRUE(root.has_value()) << root.error().ToString();
  EXPECT_EQ(root->run_as_user, 0);

  c.security_context->run_as_group.reset();  // no group: the image's user stays the runtime's
  auto plain = ConvertSecurityContext(pod, c, "1000:50");
  ASSERT_TRUE(plain.has_value());
  EXPECT_FALSE(plain->run_as_user);
  EXPECT_TRUE(plain->run_as_username.empty());
}

// Issue 13: std::stoll threw on this image USER and std::terminate ended peapodd, at every
// start, as the pod was adopted again. Now the pod's container fails with a clear error.
TEST(ConvertSecurityContext, AnImageUserBeyondAnyUidIsAnErrorNotACrash) {
  Pod pod = BasicPod();
  pod.spec.security_context = PodSecurityContext{};
  pod.spec.security_context->run_as_non_root = true;
  Container& c = pod.spec.containers[0];
  for (const char* user :
       {"99999999999999999999", "99999999999999999999:1", "4294967295", "18446744073709551616"}) {
    auto sc = ConvertSecurityContext(pod, c, user);
    ASSERT_FALSE(sc.has_value()) << user;
    EXPECT_EQ(sc.error().code, ErrorCode::kFailedPrecondition) << user;
    EXPECT_NE(sc.error().message.find("is not a uid"), std::string::npos) << sc.error().message;
  }
  EXPECT_TRUE(ConvertSecurityContext(pod, c, "4294967294").has_value());
  // The other path that read the image's uid: a group without a user.
  pod.spec.security_context->run_as_non_root.reset();
  c.security_context = SecurityContext{};
  c.security_context->run_as_group = 3000;
  auto group_only = ConvertSecurityContext(pod, c, "99999999999999999999");
  ASSERT_FALSE(group_only.has_value());
  EXPECT_NE(group_only.error().message.find("99999999999999999999"), std::string::npos);
}

TEST(BuildSandboxConfig, APodGroupReachesTheSandboxOnlyWithAUser) {
  Pod pod = BasicPod();
  pod.spec.security_context = PodSecurityContext{};
  pod.spec.security_context->run_as_group = 3000;
  auto group_only = BuildSandboxConfig(pod, "uid-1", 0, "", "");
  EXPECT_FALSE(group_only.linux.security_context.run_as_group);
  pod.spec.security_context->run_as_user = 1000;
  auto both = BuildSandboxConfig(pod, "uid-1", 0, "", "");
  EXPECT_EQ(both.linux.security_context.run_as_user, 1000);
  EXPECT_EQ(both.linux.security_context.run_as_group, 3000);
}

TEST(BuildSandboxConfig, CarriesLabelsPortsNamespacesAndDns) {
  Pod pod = BasicPod();
  ContainerPort port;
  port.container_port = 80;
  port.host_port = 8080;
  pod.spec.containers[0].ports = {port, ContainerPort{.container_port = 81}};
  pod.spec.host_ipc = true;
  pod.spec.dns_config = PodDnsConfig{{"10.0.0.10"}, {"svc.local"}, {{"ndots", "2"}}};
  auto c = BuildSandboxConfig(pod, "uid-1", 2, "/logs/x",
                              "nameserver 1.1.1.1\nsearch host.local\noptions ndots:5 edns0\n");
  EXPECT_EQ(c.metadata.uid, "uid-1");
  EXPECT_EQ(c.metadata.attempt, 2u);
  EXPECT_EQ(c.labels.at("io.kubernetes.pod.name"), "web");
  EXPECT_EQ(c.labels.at("io.kubernetes.pod.namespace"), "shop");
  EXPECT_EQ(c.labels.at("io.kubernetes.pod.uid"), "uid-1");
  EXPECT_EQ(c.labels.at("io.peapod.managed"), "true");
  EXPECT_EQ(c.labels.at("app"), "web");
  ASSERT_EQ(c.port_mappings.size(), 1u);
  EXPECT_EQ(c.port_mappings[0].host_port, 8080);
  EXPECT_EQ(c.linux.security_context.namespace_options.ipc, NamespaceMode::kNode);
  EXPECT_EQ(c.linux.security_context.namespace_options.network, NamespaceMode::kPod);
  ASSERT_TRUE(c.dns_config.has_value());
  EXPECT_EQ(c.dns_config->servers, (std::vector<std::string>{"1.1.1.1", "10.0.0.10"}));
  EXPECT_EQ(c.dns_config->searches, (std::vector<std::string>{"host.local", "svc.local"}));
  EXPECT_EQ(c.dns_config->options, (std::vector<std::string>{"edns0", "ndots:2"}));

  pod.spec.dns_policy = "None";
  auto none = BuildSandboxConfig(pod, "uid-1", 0, "", "nameserver 1.1.1.1\n");
  ASSERT_TRUE(none.dns_config.has_value());
  EXPECT_EQ(none.dns_config->servers, (std::vector<std::string>{"10.0.0.10"}));
}

TEST(BuildPodHostsFile, AddsTheFqdnAndHostAliases) {
  Pod pod = BasicPod();
  pod.spec.hostname = "h";
  pod.spec.subdomain = "sub";
  pod.spec.host_aliases = {HostAlias{"10.9.9.9", {"db", "db.local"}}};
  EXPECT_TRUE(NeedsOwnHostsFile(pod));
  std::string hosts = BuildPodHostsFile(pod, {"10.1.1.1"}, "");
  EXPECT_NE(hosts.find("127.0.0.1\tlocalhost\n"), std::string::npos);
  EXPECT_NE(hosts.find("10.1.1.1\th.sub.shop.svc.cluster.local\th\n"), std::string::npos);
  EXPECT_NE(hosts.find("# Entries added by HostAliases.\n10.9.9.9\tdb\tdb.local\n"),
            std::string::npos);
}

}  // namespace
}  // namespace peapod::agent::controller
