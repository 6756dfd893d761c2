// The rest of the Pod API: downwardAPI and projected volumes, subPathExpr, activeDeadlineSeconds
// as the parser takes them; their expansion and file formats (pod_config.h); admission as a
// one-node scheduler (admission.h).
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "../../agent/controller/admission.h"
#include "../../agent/controller/pod_config.h"
#include "peapod/agent/controller/manifest.h"
#include "peapod/atomic_file.h"

namespace peapod::agent::controller {
namespace {

namespace fs = std::filesystem;

std::string PodWith(const std::string& mount, const std::string& volumes,
                    const std::string& spec_extra = "") {
  return "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\n  labels: {app: web}\nspec:\n" +
         spec_extra +
         "  containers:\n  - name: app\n    image: busybox\n"
         "    resources: {limits: {memory: 64Mi}}\n"
         "    env: [{name: POD, valueFrom: {fieldRef: {fieldPath: metadata.name}}}]\n" +
         (mount.empty() ? "" : "    volumeMounts:\n" + mount) + "  volumes:\n" + volumes;
}

std::string Errors(const std::string& yaml, ParseOptions options = {}) {
  auto parsed = ParseManifests(yaml, "pod.yaml", options);
  return parsed ? "" : parsed.error().message;
}

const char* const kDownward = R"(  - name: info
    downwardAPI:
      defaultMode: 0440
      items:
      - {path: labels, fieldRef: {fieldPath: metadata.labels}}
      - {path: dir/name, fieldRef: {fieldPath: metadata.name}, mode: 0400}
      - {path: mem, resourceFieldRef: {containerName: app, resource: limits.memory, divisor: 1Mi}}
)";

TEST(ManifestPodApi, ReadsADownwardApiVolume) {
  auto parsed = ParseManifests(PodWith("    - {name: info, mountPath: /info}\n", kDownward),
                               "pod.yaml", ParseOptions{.strict = true});
  ASSERT_TRUE(parsed) << parsed.error().message;
  const auto* d = std::get_if<DownwardApiVolume>(&parsed->pods[0].spec.volumes[0].source_);
  ASSERT_NE(d, nullptr);
  ASSERT_EQ(d->items.size(), 3u);
  EXPECT_EQ(d->default_mode, 0440);
  EXPECT_EQ(d->items[0].field_ref->field_path, "metadata.labels");
  EXPECT_EQ(d->items[1].mode, 0400);
  EXPECT_EQ(d->items[2].resource_field_ref->divisor, "1Mi");
}

TEST(ManifestPodApi, RefusesDownwardApiItemsTheApiServerRefuses) {
  std::string status = PodWith("",
                               "  - name: info\n    downwardAPI:\n      items:\n"
                               "      - {path: ip, fieldRef: {fieldPath: status.podIP}}\n");
  EXPECT_NE(Errors(status).find("unsupported field path \"status.podIP\""), std::string::npos)
      << Errors(status);
  std::string no_container =
      PodWith("",
              "  - name: info\n    downwardAPI:\n      items:\n"
              "      - {path: m, resourceFieldRef: {resource: limits.memory}}\n");
  EXPECT_NE(Errors(no_container).find("containerName: required"), std::string::npos)
      << Errors(no_container);
  std::string other =
      PodWith("",
              "  - name: info\n    downwardAPI:\n      items:\n"
              "      - {path: m, resourceFieldRef: {containerName: db, resource: limits.cpu}}\n");
  EXPECT_NE(Errors(other).find("no container named \"db\""), std::string::npos) << Errors(other);
  std::string climbing = PodWith("",
                                 "  - name: info\n    downwardAPI:\n      items:\n"
                                 "      - {path: ../x, fieldRef: {fieldPath: metadata.uid}}\n");
  EXPECT_NE(Errors(climbing).find("items[0].path"), std::string::npos) << Errors(climbing);
}

TEST(ManifestPodApi, ReadsAProjectedVolume) {
  std::string volumes = R"(  - name: all
    projected:
      defaultMode: 0400
      sources:
      - configMap: {name: cfg, items: [{key: a, path: a.conf}]}
      - secret: {name: creds, optional: true}
      - downwardAPI: {items: [{path: ns, fieldRef: {fieldPath: metadata.namespace}}]}
)";
  auto parsed = ParseManifests(PodWith("", volumes), "pod.yaml", ParseOptions{.strict = true});
  ASSERT_TRUE(parsed) << parsed.error().message;
  const auto* p = std::get_if<ProjectedVolume>(&parsed->pods[0].spec.volumes[0].source_);
  ASSERT_NE(p, nullptr);
  ASSERT_EQ(p->sources.size(), 3u);
  EXPECT_EQ(std::get<ConfigMapVolume>(p->sources[0]).items[0].path, "a.conf");
  EXPECT_TRUE(std::get<SecretVolume>(p->sources[1]).optional);
  EXPECT_EQ(p->default_mode, 0400);
}

TEST(ManifestPodApi, AServiceAccountTokenIsRefusedForWantOfAnApiServer) {
  std::string yaml = PodWith("", R"(  - name: token
    projected:
      sources:
      - serviceAccountToken: {path: token, expirationSeconds: 3600}
)");
  std::string errors = Errors(yaml);
  EXPECT_NE(errors.find("pod.yaml:16: spec.volumes[0].projected.sources[0].serviceAccountToken: "
                        "peapod has no API server to issue a service account token"),
            std::string::npos)
      << errors;
  auto ignored = ParseManifests(yaml, "pod.yaml", ParseOptions{.ignore_unsupported = true});
  ASSERT_TRUE(ignored) << ignored.error().message;
  ASSERT_EQ(ignored->warnings.size(), 1u);
  const auto& p = std::get<ProjectedVolume>(ignored->pods[0].spec.volumes[0].source_);
  EXPECT_TRUE(p.sources.empty());
}

TEST(ManifestPodApi, ReadsSubPathExprAndRefusesItWithSubPath) {
  std::string volumes = "  - name: logs\n    emptyDir: {}\n";
  auto parsed = ParseManifests(
      PodWith("    - {name: logs, mountPath: /logs, subPathExpr: $(POD)}\n", volumes), "pod.yaml",
      ParseOptions{.strict = true});
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ(parsed->pods[0].spec.containers[0].volume_mounts[0].sub_path_expr, "$(POD)");
  std::string both =
      PodWith("    - {name: logs, mountPath: /logs, subPath: a, subPathExpr: $(POD)}\n", volumes);
  EXPECT_NE(Errors(both).find("subPathExpr and subPath are mutually exclusive"), std::string::npos)
      << Errors(both);
  std::string absolute =
      PodWith("    - {name: logs, mountPath: /logs, subPathExpr: /$(POD)}\n", volumes);
  EXPECT_NE(Errors(absolute).find("subPathExpr"), std::string::npos) << Errors(absolute);
}

TEST(ManifestPodApi, ReadsActiveDeadlineSeconds) {
  std::string volumes = "  - name: x\n    emptyDir: {}\n";
  auto parsed = ParseManifests(PodWith("", volumes, "  activeDeadlineSeconds: 5\n"), "pod.yaml",
                               ParseOptions{.strict = true});
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ(parsed->pods[0].spec.active_deadline_seconds, 5);
  EXPECT_NE(Errors(PodWith("", volumes, "  activeDeadlineSeconds: 0\n"))
                .find("spec.activeDeadlineSeconds: must be between 1 and 2147483647"),
            std::string::npos);
}

TEST(ManifestPodApi, OnlyLabelsChangedKeepsTheHashWithoutMetadata) {
  std::string volumes = "  - name: x\n    emptyDir: {}\n";
  auto a = ParseManifests(PodWith("", volumes), "pod.yaml");
  ASSERT_TRUE(a);
  Pod relabelled = a->pods[0];
  relabelled.metadata.labels["tier"] = "front";
  relabelled.metadata.annotations["note"] = "x";
  EXPECT_NE(SpecHash(a->pods[0]), SpecHash(relabelled));
  EXPECT_EQ(SpecHashWithoutMetadata(a->pods[0]), SpecHashWithoutMetadata(relabelled));
  // An annotation peapod acts on changes how the pod runs.
  relabelled.metadata.annotations["io.peapod.systemd"] = "true";
  EXPECT_NE(SpecHashWithoutMetadata(a->pods[0]), SpecHashWithoutMetadata(relabelled));
}

TEST(SubPathExpr, ExpandsFromTheEnvironmentAsKubeletDoes) {
  std::map<std::string, std::string> env = {{"POD", "web-0"}, {"EMPTY", ""}};
  EXPECT_EQ(ExpandSubPathExpr("logs/$(POD)", env).value(), "logs/web-0");
  EXPECT_EQ(ExpandSubPathExpr("$$(POD)", env).value(), "$(POD)");
  auto missing = ExpandSubPathExpr("$(NOPE)/$(EMPTY)", env);
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("missing value for EMPTY, NOPE"), std::string::npos)
      << missing.error().message;
  std::map<std::string, std::string> climbing = {{"X", "../etc"}, {"Y", "/etc"}};
  EXPECT_FALSE(ExpandSubPathExpr("$(X)", climbing));
  EXPECT_FALSE(ExpandSubPathExpr("$(Y)", climbing));
}

TEST(DownwardApi, FormatsMapsAsKubeletDoes) {
  EXPECT_EQ(FormatDownwardMap({{"b", "2"}, {"a", "say \"hi\"\n\\"}}),
            "a=\"say \\\"hi\\\"\\n\\\\\"\nb=\"2\"");
  EXPECT_EQ(FormatDownwardMap({}), "");
  EXPECT_EQ(FormatDownwardMap({{"k", std::string("\x01")}}), "k=\"\\x01\"");
}

TEST(DownwardApi, WritesItsFilesAndSwapsThemAtomicallyOnALabelChange) {
  auto parsed = ParseManifests(PodWith("", kDownward), "pod.yaml");
  ASSERT_TRUE(parsed) << parsed.error().message;
  Pod pod = parsed->pods[0];
  fs::path root = fs::temp_directory_path() / ("downward-" + std::to_string(::getpid()));
  fs::remove_all(root);
  PodPaths paths{root.string()};
  PodRuntimeInfo info{.uid = "u-1"};
  auto volumes = SetUpVolumes(pod, paths, {}, info);
  ASSERT_TRUE(volumes) << volumes.error().ToString();
  std::string dir = volumes->at("info");
  EXPECT_EQ(ReadWholeFile(dir + "/labels").value_or("?"), "app=\"web\"");
  EXPECT_EQ(ReadWholeFile(dir + "/dir/name").value_or("?"), "web");
  EXPECT_EQ(ReadWholeFile(dir + "/mem").value_or("?"), "64");
  EXPECT_EQ(fs::status(dir + "/dir/name").permissions(), fs::perms(0400));
  EXPECT_EQ(fs::status(dir + "/labels").permissions(), fs::perms(0440));
  auto before = fs::read_symlink(dir + "/..data");

  pod.metadata.labels["tier"] = "front";
  ASSERT_TRUE(SetUpVolumes(pod, paths, {}, info));
  EXPECT_EQ(ReadWholeFile(dir + "/labels").value_or("?"), "app=\"web\"\ntier=\"front\"");
  EXPECT_NE(fs::read_symlink(dir + "/..data"), before);  // a new version, swapped in whole
  EXPECT_TRUE(fs::is_symlink(dir + "/labels"));
  fs::remove_all(root);
}

Pod PodRequesting(const std::string& cpu, const std::string& memory, int32_t host_port = 0,
                  const std::string& host_ip = "") {
  Pod pod;
  Container c;
  c.name = "app";
  if (!cpu.empty()) c.resources.requests["cpu"] = *ParseQuantity(cpu, true);
  if (!memory.empty()) c.resources.limits["memory"] = *ParseQuantity(memory, false);
  if (host_port != 0) {
    ContainerPort p;
    p.container_port = 80;
    p.host_port = host_port;
    p.host_ip = host_ip;
    c.ports.push_back(p);
  }
  pod.spec.containers.push_back(c);
  return pod;
}

TEST(Admission, ClaimsTheLargerOfAppsAndInitContainers) {
  Pod pod = PodRequesting("500m", "1Gi");
  Container init;
  init.name = "init";
  init.resources.requests["cpu"] = *ParseQuantity("2", true);
  pod.spec.init_containers.push_back(init);
  PodClaim claim = ClaimOf(pod);
  EXPECT_EQ(claim.cpu_millis, 2000);
  EXPECT_EQ(claim.memory_bytes, int64_t{1} << 30);  // the limit stands for the request
}

TEST(Admission, SaysWhatKubeSchedulerSays) {
  NodeAllocatable node{2000, int64_t{4} << 30};
  PodClaim web = ClaimOf(PodRequesting("1500m", "", 8080));
  EXPECT_FALSE(WhyUnschedulable(web, {}, node));
  EXPECT_EQ(WhyUnschedulable(ClaimOf(PodRequesting("", "", 8080)), {web}, node).value_or(""),
            "0/1 nodes are available: 1 node(s) didn't have free ports for the requested pod "
            "ports.");
  EXPECT_EQ(WhyUnschedulable(ClaimOf(PodRequesting("1", "5Gi", 8080)), {web}, node).value_or(""),
            "0/1 nodes are available: 1 Insufficient cpu, 1 Insufficient memory, 1 node(s) "
            "didn't have free ports for the requested pod ports.");
  // Another address, or another protocol, is another port.
  EXPECT_FALSE(WhyUnschedulable(ClaimOf(PodRequesting("", "", 8080, "127.0.0.2")),
                                {ClaimOf(PodRequesting("", "", 8080, "127.0.0.1"))}, node));
  EXPECT_TRUE(WhyUnschedulable(ClaimOf(PodRequesting("", "", 8080, "127.0.0.2")), {web}, node));
}

TEST(Admission, PlacesAgainOnceTheRoomIsFreed) {
  Admission admission(NodeAllocatable{1000, int64_t{1} << 30});
  EXPECT_FALSE(admission.TryAdmit("a", ClaimOf(PodRequesting("600m", ""))));
  EXPECT_EQ(admission.TryAdmit("b", ClaimOf(PodRequesting("600m", ""))).value_or(""),
            "0/1 nodes are available: 1 Insufficient cpu.");
  EXPECT_FALSE(admission.TryAdmit("a", ClaimOf(PodRequesting("600m", ""))));  // already placed
  admission.Release("a");
  EXPECT_FALSE(admission.TryAdmit("b", ClaimOf(PodRequesting("600m", ""))));
}

}  // namespace
}  // namespace peapod::agent::controller
