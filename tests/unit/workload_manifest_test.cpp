// Job, Deployment, DaemonSet and StatefulSet manifests: what is read, what the API server would
// refuse (with field and line), and the arithmetic of rolling updates and template hashes.
#include <gtest/gtest.h>

#include <string>

#include "../../agent/controller/workload_controller.h"
#include "peapod/agent/controller/manifest.h"
#include "peapod/cli/format_workload.h"

namespace peapod::agent::controller {
namespace {

std::string ErrorsOf(const std::string& text, ParseOptions options = {}) {
  auto parsed = ParseManifests(text, "w.yaml", options);
  return parsed ? "" : parsed.error().message;
}

const char* kJob = R"(apiVersion: batch/v1
kind: Job
metadata:
  name: pi
spec:
  completions: 3
  parallelism: 2
  backoffLimit: 1
  activeDeadlineSeconds: 60
  ttlSecondsAfterFinished: 0
  template:
    spec:
      restartPolicy: OnFailure
      containers:
        - name: pi
          image: busybox
          ports: [{containerPort: 8080}]
)";

const char* kDeployment = R"(apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 4
  selector:
    matchLabels: {app: web}
  strategy:
    rollingUpdate: {maxSurge: 2, maxUnavailable: "50%"}
  template:
    metadata:
      labels: {app: web, tier: front}
      creationTimestamp: null
    spec:
      nodeSelector: {disk: ssd}
      containers:
        - name: web
          image: nginx
)";

TEST(WorkloadManifest, AJobIsReadWithItsCountsAndTemplate) {
  auto parsed = ParseManifests(kJob, "w.yaml");
  ASSERT_TRUE(parsed) << parsed.error().message;
  ASSERT_EQ(parsed->workloads.size(), 1u);
  const Workload& job = parsed->workloads[0];
  EXPECT_EQ(job.kind, "Job");
  EXPECT_EQ(job.completions, 3);
  EXPECT_EQ(job.parallelism, 2);
  EXPECT_EQ(job.backoff_limit, 1);
  EXPECT_EQ(job.active_deadline_seconds, 60);
  EXPECT_EQ(job.ttl_seconds_after_finished, 0);
  EXPECT_EQ(job.pod_template.pod.spec.restart_policy, "OnFailure");
  // The template as JSON, typed as kubectl types YAML: an integer stays an integer.
  EXPECT_EQ(job.pod_template.json["spec"]["containers"][0]["ports"][0]["containerPort"], 8080);
  EXPECT_EQ(job.object["kind"], "Job");
  EXPECT_EQ(job.object["metadata"]["namespace"], "default");
}

TEST(WorkloadManifest, AJobMustNotRestartAlways) {
  std::string yaml = kJob;
  yaml.replace(yaml.find("restartPolicy: OnFailure"), 24, "restartPolicy: Always  ");
  EXPECT_NE(ErrorsOf(yaml).find("w.yaml:13: spec.template.spec.restartPolicy: Unsupported value: "
                                "\"Always\": supported values: \"OnFailure\", \"Never\""),
            std::string::npos)
      << ErrorsOf(yaml);
  // Unset, it defaults to Always, which a Job refuses too (as the API server does).
  yaml = kJob;
  yaml.replace(yaml.find("      restartPolicy: OnFailure\n"), 30, "");
  EXPECT_NE(ErrorsOf(yaml).find("spec.template.spec.restartPolicy: Unsupported value"),
            std::string::npos)
      << ErrorsOf(yaml);
}

TEST(WorkloadManifest, JobCountsAreCheckedWithTheirLines) {
  std::string yaml = kJob;
  yaml.replace(yaml.find("backoffLimit: 1"), 15, "backoffLimit: -1");
  EXPECT_NE(ErrorsOf(yaml).find("w.yaml:8: spec.backoffLimit: must be greater than or equal to 0"),
            std::string::npos)
      << ErrorsOf(yaml);
  yaml = kJob;
  yaml.replace(yaml.find("activeDeadlineSeconds: 60"), 25, "activeDeadlineSeconds: 0");
  EXPECT_NE(ErrorsOf(yaml).find("w.yaml:9: spec.activeDeadlineSeconds: must be greater than 0"),
            std::string::npos)
      << ErrorsOf(yaml);
  yaml = kJob;
  yaml.replace(yaml.find("completions: 3"), 14, "completions: x");
  EXPECT_NE(ErrorsOf(yaml).find("w.yaml:6: spec.completions: must be an integer"),
            std::string::npos);
}

TEST(WorkloadManifest, ADeploymentIsReadAndItsTemplateFieldsAreCheckedAsAPods) {
  auto parsed = ParseManifests(kDeployment, "w.yaml");
  ASSERT_TRUE(parsed) << parsed.error().message;
  const Workload& d = parsed->workloads[0];
  EXPECT_EQ(d.kind, "Deployment");
  EXPECT_EQ(d.replicas, 4);
  EXPECT_EQ(d.strategy, "RollingUpdate");
  EXPECT_EQ(std::get<int32_t>(d.max_surge), 2);
  EXPECT_EQ(std::get<std::string>(d.max_unavailable), "50%");
  EXPECT_EQ(d.selector.at("app"), "web");
  EXPECT_EQ(d.pod_template.pod.metadata.labels.at("tier"), "front");
  EXPECT_FALSE(d.pod_template.json["metadata"].contains("creationTimestamp"));
  // A scheduling hint in the template is as harmless as in a pod: a warning.
  ASSERT_EQ(parsed->warnings.size(), 1u);
  EXPECT_EQ(parsed->warnings[0].ToString(),
            "w.yaml:16: spec.template.spec.nodeSelector: not supported by peapod, ignored");
}

TEST(WorkloadManifest, ASelectorThatMissesTheTemplateIsRefused) {
  std::string yaml = kDeployment;
  yaml.replace(yaml.find("matchLabels: {app: web}"), 23, "matchLabels: {app: api}");
  EXPECT_NE(ErrorsOf(yaml).find("w.yaml:13: spec.template.metadata.labels: Invalid value: "
                                "`selector` does not match template `labels`"),
            std::string::npos)
      << ErrorsOf(yaml);
  yaml = kDeployment;
  yaml.replace(yaml.find("  selector:\n    matchLabels: {app: web}\n"), 40, "");
  EXPECT_NE(ErrorsOf(yaml).find("spec.selector: Required value"), std::string::npos)
      << ErrorsOf(yaml);
}

TEST(WorkloadManifest, RollingUpdateBoundsAreChecked) {
  std::string yaml = kDeployment;
  yaml.replace(yaml.find("{maxSurge: 2, maxUnavailable: \"50%\"}"), 36,
               "{maxSurge: 0, maxUnavailable: 0}");
  EXPECT_NE(ErrorsOf(yaml).find("w.yaml:10: spec.strategy.rollingUpdate.maxUnavailable: may not "
                                "be 0 when `maxSurge` is 0"),
            std::string::npos)
      << ErrorsOf(yaml);
  yaml = kDeployment;
  yaml.replace(yaml.find("\"50%\""), 5, "\"150%\"");
  EXPECT_NE(ErrorsOf(yaml).find("maxUnavailable: must not be greater than 100%"),
            std::string::npos);
  yaml = kDeployment;
  yaml.replace(yaml.find("\"50%\""), 5, "\"half\"");
  EXPECT_NE(ErrorsOf(yaml).find("a valid percent string must be a numeric string followed by"),
            std::string::npos);
}

TEST(WorkloadManifest, ADeploymentsPodsMustRestartAlways) {
  std::string yaml = kDeployment;
  yaml.replace(yaml.find("      containers:"), 0, "      restartPolicy: Never\n");
  EXPECT_NE(ErrorsOf(yaml).find("spec.template.spec.restartPolicy: Unsupported value: \"Never\": "
                                "supported values: \"Always\""),
            std::string::npos)
      << ErrorsOf(yaml);
}

TEST(WorkloadManifest, AStatefulSetMountsItsClaimsAndRefusesParallel) {
  std::string yaml = R"(apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  selector: {matchLabels: {app: db}}
  serviceName: db
  template:
    metadata: {labels: {app: db}}
    spec:
      containers:
        - name: db
          image: busybox
          volumeMounts: [{name: data, mountPath: /data}]
  volumeClaimTemplates:
    - metadata: {name: data}
      spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
)";
  auto parsed = ParseManifests(yaml, "w.yaml");
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ(parsed->workloads[0].volume_claims, std::vector<std::string>{"data"});
  EXPECT_EQ(parsed->workloads[0].replicas, 1);
  std::string parallel = yaml;
  parallel.replace(parallel.find("  serviceName: db\n"), 0, "  podManagementPolicy: Parallel\n");
  EXPECT_NE(ErrorsOf(parallel).find("w.yaml:6: spec.podManagementPolicy: must be one of "
                                    "\"OrderedReady\""),
            std::string::npos)
      << ErrorsOf(parallel);
  // A mount of a volume that is neither in the template nor a claim is still an error.
  std::string missing = yaml;
  missing.replace(missing.find("{name: data}\n      spec"), 12, "{name: other}");
  EXPECT_NE(ErrorsOf(missing), "");
}

TEST(WorkloadManifest, ADaemonSetIsReadAsADeploymentOfOne) {
  std::string yaml = kDeployment;
  yaml.replace(yaml.find("kind: Deployment"), 16, "kind: DaemonSet");
  yaml.replace(yaml.find("  replicas: 4\n"), 14, "");
  yaml.replace(
      yaml.find("  strategy:\n    rollingUpdate: {maxSurge: 2, maxUnavailable: \"50%\"}\n"), 68,
      "");
  auto parsed = ParseManifests(yaml, "w.yaml");
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ(parsed->workloads[0].kind, "Deployment");
  EXPECT_TRUE(parsed->workloads[0].daemon_set);
  EXPECT_EQ(parsed->workloads[0].object["kind"], "DaemonSet");
}

TEST(WorkloadManifest, AWrongApiVersionIsNamed) {
  std::string yaml = kJob;
  yaml.replace(yaml.find("batch/v1"), 8, "apps/v1");
  EXPECT_NE(ErrorsOf(yaml).find("w.yaml:1: apiVersion: must be \"batch/v1\" for Job"),
            std::string::npos)
      << ErrorsOf(yaml);
}

TEST(WorkloadManifest, TheTemplateReparsesFromItsJson) {
  // What the controller stamps pods from parses back to the same pod spec.
  auto parsed = ParseManifests(kDeployment, "w.yaml");
  ASSERT_TRUE(parsed) << parsed.error().message;
  nlohmann::json pod = parsed->workloads[0].pod_template.json;
  pod["apiVersion"] = "v1";
  pod["kind"] = "Pod";
  pod["metadata"]["name"] = "web-x";
  pod["metadata"]["ownerReferences"] = {
      {{"apiVersion", "apps/v1"}, {"kind", "Deployment"}, {"name", "web"}, {"uid", "u-1"}}};
  auto again = ParseManifests(pod.dump(), "stamped", ParseOptions{.ignore_unsupported = true});
  ASSERT_TRUE(again) << again.error().message;
  ASSERT_EQ(again->pods.size(), 1u);
  EXPECT_EQ(again->pods[0].spec.containers[0].image, "nginx");
  ASSERT_EQ(again->pods[0].metadata.owner_references.size(), 1u);
  EXPECT_EQ(again->pods[0].metadata.owner_references[0].uid, "u-1");
}

TEST(WorkloadArithmetic, PercentagesRoundAsTheDeploymentControllerRoundsThem) {
  EXPECT_EQ(ResolveIntOrPercent(std::string("25%"), 3, true), 1);   // maxSurge: up
  EXPECT_EQ(ResolveIntOrPercent(std::string("25%"), 3, false), 0);  // maxUnavailable: down
  EXPECT_EQ(ResolveIntOrPercent(std::string("50%"), 4, false), 2);
  EXPECT_EQ(ResolveIntOrPercent(3, 10, false), 3);
}

TEST(WorkloadArithmetic, TemplateHashesAreStableAndSafe) {
  nlohmann::json a = {{"spec", {{"containers", {{{"name", "c"}, {"image", "x"}}}}}}};
  nlohmann::json b = a;
  b["spec"]["containers"][0]["image"] = "y";
  EXPECT_EQ(PodTemplateHash(a), PodTemplateHash(a));
  EXPECT_NE(PodTemplateHash(a), PodTemplateHash(b));
  for (char c : PodTemplateHash(a)) {
    EXPECT_NE(std::string("bcdfghjklmnpqrstvwxz2456789").find(c), std::string::npos) << c;
  }
}

TEST(WorkloadFormat, JobsAndDeploymentsPrintKubectlsColumns) {
  nlohmann::json job = {
      {"kind", "Job"},
      {"metadata", {{"name", "pi"}, {"creationTimestamp", "2026-01-01T00:00:00Z"}}},
      {"spec", {{"completions", 3}}},
      {"status",
       {{"succeeded", 3},
        {"startTime", "2026-01-01T00:00:00Z"},
        {"completionTime", "2026-01-01T00:00:12Z"},
        {"conditions", {{{"type", "Complete"}, {"status", "True"}}}}}}};
  int64_t now = cli::ParseRfc3339("2026-01-01T00:01:00Z");
  EXPECT_EQ(cli::FormatWorkloadTable("Job", {job}, now, false),
            "NAME   STATUS     COMPLETIONS   DURATION   AGE\n"
            "pi     Complete   3/3           12s        60s\n");
  nlohmann::json web = {
      {"kind", "Deployment"},
      {"metadata", {{"name", "web"}, {"creationTimestamp", "2026-01-01T00:00:00Z"}}},
      {"spec", {{"replicas", 3}}},
      {"status", {{"readyReplicas", 2}, {"updatedReplicas", 3}, {"availableReplicas", 2}}}};
  EXPECT_EQ(cli::FormatWorkloadTable("Deployment", {web}, now, false),
            "NAME   READY   UP-TO-DATE   AVAILABLE   AGE\n"
            "web    2/3     3            2           60s\n");
  EXPECT_EQ(cli::JobStatus(nlohmann::json::object()), "Running");
  EXPECT_EQ(cli::WorkloadKindOf("deploy"), "Deployment");
  EXPECT_EQ(cli::WorkloadKindOf("sts"), "StatefulSet");
  EXPECT_EQ(cli::WorkloadKindOf("pods"), "");
}

TEST(WorkloadFormat, RolloutStatusSaysWhatItWaitsFor) {
  nlohmann::json web = {{"kind", "Deployment"},
                        {"metadata", {{"name", "web"}, {"generation", 2}}},
                        {"spec", {{"replicas", 3}}},
                        {"status",
                         {{"observedGeneration", 2},
                          {"replicas", 4},
                          {"updatedReplicas", 1},
                          {"availableReplicas", 3}}}};
  auto progress = cli::DeploymentRolloutStatus(web);
  EXPECT_FALSE(progress.done);
  EXPECT_EQ(progress.message,
            "Waiting for deployment \"web\" rollout to finish: 1 out of 3 new replicas have been "
            "updated...");
  web["status"]["updatedReplicas"] = 3;
  web["status"]["replicas"] = 3;
  progress = cli::DeploymentRolloutStatus(web);
  EXPECT_TRUE(progress.done);
  EXPECT_EQ(progress.message, "deployment \"web\" successfully rolled out");
}

}  // namespace
}  // namespace peapod::agent::controller
