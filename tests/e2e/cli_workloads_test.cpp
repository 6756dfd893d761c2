// Workloads through the CLI as a kubectl user meets them on one node: Jobs (completions,
// backoffLimit, activeDeadlineSeconds, ttlSecondsAfterFinished), Deployments (rolling update,
// scale, rollout status and undo), StatefulSets (ordered pods, claims that outlive them), and
// all of them surviving a kill -9 of the agent.
#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "e2e/cli_fixture.h"

namespace peapod::testing {
namespace {

using nlohmann::json;

std::string Example(const std::string& name) {
  return std::string(PEAPOD_SOURCE_DIR "/manifests/examples/") + name;
}

std::string ReadText(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

class Workloads : public CliTest {
 protected:
  json Get(const std::string& kind, const std::string& name) {
    return GetJson({"get", kind, name, "-o", "json"});
  }

  // The pods whose ownerReferences name `uid`, sorted by name.
  std::vector<json> OwnedPods(const std::string& uid) {
    std::vector<json> out;
    json pods = GetJson({"get", "pods", "-o", "json"});
    if (!pods.is_object()) return out;
    for (const auto& pod : pods.value("items", json::array())) {
      for (const auto& ref : pod["metadata"].value("ownerReferences", json::array())) {
        if (ref.value("uid", "") == uid) out.push_back(pod);
      }
    }
    std::sort(out.begin(), out.end(), [](const json& a, const json& b) {
      return a["metadata"].value("name", "") < b["metadata"].value("name", "");
    });
    return out;
  }

  static std::string Uid(const json& object) {
    return object.is_object() ? object["metadata"].value("uid", "") : "";
  }

  static json Condition(const json& object, const std::string& type) {
    if (!object.is_object()) return nullptr;
    for (const auto& c : object["status"].value("conditions", json::array())) {
      if (c.value("type", "") == type && c.value("status", "") == "True") return c;
    }
    return nullptr;
  }

  static std::set<std::string> Names(const std::vector<json>& pods) {
    std::set<std::string> names;
    for (const auto& p : pods) names.insert(p["metadata"].value("name", ""));
    return names;
  }

  static std::string Label(const json& pod, const std::string& key) {
    return pod["metadata"].value("labels", json::object()).value(key, "");
  }
};

std::string FailingJob(const std::string& name, const std::string& extra_spec,
                       const std::string& command) {
  return "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: " + name + "\nspec:\n" + extra_spec +
         "  template:\n    spec:\n      restartPolicy: Never\n"
         "      terminationGracePeriodSeconds: 1\n      containers:\n        - name: main\n"
         "          image: busybox:latest\n          imagePullPolicy: IfNotPresent\n"
         "          command: [sh, -c, '" +
         command + "']\n";
}

TEST_F(Workloads, AJobRunsItsCompletionsAndIsListedAsKubectlListsIt) {
  auto applied = Cli({"apply", "-f", Example("job.yaml")});
  ASSERT_EQ(applied.exit_code, 0) << applied.Describe();
  EXPECT_EQ(applied.out, "job.batch/pi created\n");
  ASSERT_TRUE(WaitUntil([&] { return Condition(Get("job", "pi"), "Complete").is_object(); }))
      << Cli({"describe", "job", "pi"}).out;
  json job = Get("job", "pi");
  EXPECT_EQ(job["status"].value("succeeded", 0), 3) << job.dump(2);
  EXPECT_FALSE(job["status"].contains("active")) << job.dump(2);
  EXPECT_TRUE(job["status"].contains("completionTime")) << job.dump(2);

  auto pods = OwnedPods(Uid(job));
  ASSERT_EQ(pods.size(), 3u);
  for (const auto& pod : pods) {
    std::string name = pod["metadata"]["name"];
    EXPECT_TRUE(name.starts_with("pi-") && name.size() == 8) << name;
    EXPECT_EQ(Label(pod, "job-name"), "pi");
    EXPECT_EQ(Label(pod, "batch.kubernetes.io/job-name"), "pi");
    EXPECT_EQ(Label(pod, "controller-uid"), Uid(job));
    EXPECT_EQ(pod["metadata"]["ownerReferences"][0].value("kind", ""), "Job");
    EXPECT_EQ(pod["status"].value("phase", ""), "Succeeded");
    auto logs = Cli({"logs", name});
    EXPECT_EQ(logs.out, "computed by " + name + "\n") << logs.Describe();
  }
  auto table = Cli({"get", "jobs"});
  ASSERT_EQ(table.exit_code, 0) << table.Describe();
  EXPECT_TRUE(table.out.starts_with("NAME   STATUS     COMPLETIONS   DURATION   AGE\n"))
      << table.out;
  EXPECT_NE(table.out.find("pi     Complete   3/3"), std::string::npos) << table.out;
  auto pod_table = Cli({"get", "pods"});
  EXPECT_NE(pod_table.out.find("Completed"), std::string::npos) << pod_table.out;

  auto deleted = Cli({"delete", "job/pi"});
  ASSERT_EQ(deleted.exit_code, 0) << deleted.Describe();
  EXPECT_EQ(deleted.out, "job.batch \"pi\" deleted\n");
  EXPECT_TRUE(OwnedPods(Uid(job)).empty());
  EXPECT_EQ(Cli({"get", "job", "pi"}).exit_code, 1);
}

TEST_F(Workloads, AJobThatKeepsFailingStopsAtItsBackoffLimit) {
  auto applied = Apply(FailingJob("flaky", "  backoffLimit: 1\n", "exit 3"));
  ASSERT_EQ(applied.exit_code, 0) << applied.Describe();
  ASSERT_TRUE(WaitUntil([&] { return Condition(Get("job", "flaky"), "Failed").is_object(); }))
      << Cli({"describe", "job", "flaky"}).out;
  json job = Get("job", "flaky");
  json failed = Condition(job, "Failed");
  EXPECT_EQ(failed.value("reason", ""), "BackoffLimitExceeded");
  EXPECT_EQ(failed.value("message", ""), "Job has reached the specified backoff limit");
  // backoffLimit 1: the first failure is retried, the second one fails the job.
  EXPECT_EQ(job["status"].value("failed", 0), 2) << job.dump(2);
  auto pods = OwnedPods(Uid(job));
  EXPECT_EQ(pods.size(), 2u);
  for (const auto& pod : pods) EXPECT_EQ(pod["status"].value("phase", ""), "Failed");
  EXPECT_NE(Cli({"get", "jobs"}).out.find("flaky   Failed   0/1"), std::string::npos)
      << Cli({"get", "jobs"}).out;
}

TEST_F(Workloads, AJobPastItsDeadlineFailsAndItsPodsAreStopped) {
  auto applied = Apply(FailingJob("slow", "  activeDeadlineSeconds: 2\n", "exec sleep 3600"));
  ASSERT_EQ(applied.exit_code, 0) << applied.Describe();
  ASSERT_TRUE(WaitUntil([&] { return Condition(Get("job", "slow"), "Failed").is_object(); }));
  json failed = Condition(Get("job", "slow"), "Failed");
  EXPECT_EQ(failed.value("reason", ""), "DeadlineExceeded");
  EXPECT_EQ(failed.value("message", ""), "Job was active longer than specified deadline");
  std::string uid = Uid(Get("job", "slow"));
  EXPECT_TRUE(WaitUntil([&] { return OwnedPods(uid).empty(); }));
}

TEST_F(Workloads, AFinishedJobGoesAfterItsTtl) {
  auto applied = Apply(FailingJob("brief", "  ttlSecondsAfterFinished: 3\n", "sleep 1"));
  ASSERT_EQ(applied.exit_code, 0) << applied.Describe();
  ASSERT_TRUE(WaitUntil([&] { return Uid(Get("job", "brief")) != ""; }));
  std::string uid = Uid(Get("job", "brief"));
  EXPECT_TRUE(WaitUntil([&] { return Cli({"get", "job", "brief"}).exit_code == 1; }));
  EXPECT_TRUE(WaitUntil([&] { return OwnedPods(uid).empty(); }));
}

TEST_F(Workloads, WhatTheApiServerRefusesIsRefusedWithItsLine) {
  std::string job = FailingJob("always", "", "true");
  job.replace(job.find("restartPolicy: Never"), std::string("restartPolicy: Never").size(),
              "restartPolicy: Always");
  auto refused = Apply(job);
  EXPECT_EQ(refused.exit_code, 1) << refused.Describe();
  EXPECT_NE(refused.err.find("-:8: spec.template.spec.restartPolicy: Unsupported value: "
                             "\"Always\": supported values: \"OnFailure\", \"Never\""),
            std::string::npos)
      << refused.Describe();

  auto mismatch = Apply(R"(apiVersion: apps/v1
kind: Deployment
metadata:
  name: odd
spec:
  selector:
    matchLabels: {app: one}
  template:
    metadata:
      labels: {app: other}
    spec:
      containers: [{name: c, image: busybox:latest}]
)");
  EXPECT_EQ(mismatch.exit_code, 1) << mismatch.Describe();
  EXPECT_NE(mismatch.err.find("-:10: spec.template.metadata.labels: Invalid value: `selector` "
                              "does not match template `labels`"),
            std::string::npos)
      << mismatch.Describe();
  EXPECT_EQ(Cli({"get", "deployment", "odd"}).exit_code, 1);
}

TEST_F(Workloads, ADeploymentRollsScalesAndUndoesAsKubectlDoes) {
  auto applied = Cli({"apply", "-f", Example("deployment-rollout.yaml")});
  ASSERT_EQ(applied.exit_code, 0) << applied.Describe();
  EXPECT_EQ(applied.out, "deployment.apps/web created\n");
  auto status = Cli({"rollout", "status", "deployment/web", "--timeout", "120s"});
  ASSERT_EQ(status.exit_code, 0) << status.Describe() << Cli({"describe", "deploy", "web"}).out;
  EXPECT_NE(status.out.find("deployment \"web\" successfully rolled out\n"), std::string::npos);
  json deployment = Get("deployment", "web");
  std::string uid = Uid(deployment);
  auto first = OwnedPods(uid);
  ASSERT_EQ(first.size(), 3u);
  std::string first_hash = Label(first[0], "pod-template-hash");
  ASSERT_EQ(first_hash.size(), 10u);
  for (const auto& pod : first) {
    std::string name = pod["metadata"]["name"];
    EXPECT_TRUE(name.starts_with("web-" + first_hash + "-")) << name;
    EXPECT_EQ(name.size(), std::string("web-").size() + 10 + 1 + 5) << name;
    EXPECT_TRUE(PodReady(pod));
  }
  auto table = Cli({"get", "deploy"});
  EXPECT_NE(
      table.out.find("NAME   READY   UP-TO-DATE   AVAILABLE   AGE\nweb    3/3     3            3"),
      std::string::npos)
      << table.out;

  // A new template: a rolling update, one new pod at a time (maxSurge 1, maxUnavailable 0).
  std::string text = ReadText(Example("deployment-rollout.yaml"));
  // The last one: the first is in the comment that shows the same change with sed.
  text.replace(text.rfind("value: \"1\""), std::string("value: \"1\"").size(), "value: \"2\"");
  auto updated = Apply(text);
  ASSERT_EQ(updated.exit_code, 0) << updated.Describe();
  EXPECT_EQ(updated.out, "deployment.apps/web configured\n");
  status = Cli({"rollout", "status", "deploy/web", "--timeout", "120s"});
  ASSERT_EQ(status.exit_code, 0) << status.Describe();
  EXPECT_NE(status.out.find("new replicas have been updated..."), std::string::npos) << status.out;
  ASSERT_TRUE(WaitUntil([&] { return OwnedPods(uid).size() == 3; }));
  auto second = OwnedPods(uid);
  std::string second_hash = Label(second[0], "pod-template-hash");
  EXPECT_NE(second_hash, first_hash);
  for (const auto& pod : second) {
    EXPECT_EQ(Label(pod, "pod-template-hash"), second_hash);
    auto out = Cli({"logs", pod["metadata"]["name"]});
    EXPECT_EQ(out.out, "web version 2\n") << out.Describe();
  }
  EXPECT_EQ(Get("deployment", "web")["metadata"]["annotations"].value(
                "deployment.kubernetes.io/revision", ""),
            "2");

  auto undo = Cli({"rollout", "undo", "deployment/web"});
  ASSERT_EQ(undo.exit_code, 0) << undo.Describe();
  EXPECT_EQ(undo.out, "deployment.apps/web rolled back\n");
  ASSERT_EQ(Cli({"rollout", "status", "deployment/web", "--timeout", "120s"}).exit_code, 0);
  ASSERT_TRUE(WaitUntil([&] { return OwnedPods(uid).size() == 3; }));
  for (const auto& pod : OwnedPods(uid)) EXPECT_EQ(Label(pod, "pod-template-hash"), first_hash);

  auto scaled = Cli({"scale", "deployment/web", "--replicas=1"});
  ASSERT_EQ(scaled.exit_code, 0) << scaled.Describe();
  EXPECT_EQ(scaled.out, "deployment.apps/web scaled\n");
  EXPECT_TRUE(WaitUntil([&] { return OwnedPods(uid).size() == 1; }));
  EXPECT_EQ(Get("deployment", "web")["spec"].value("replicas", 0), 1);

  auto deleted = Cli({"delete", "deployment", "web"});
  ASSERT_EQ(deleted.exit_code, 0) << deleted.Describe();
  EXPECT_EQ(deleted.out, "deployment.apps \"web\" deleted\n");
  EXPECT_TRUE(OwnedPods(uid).empty());
}

TEST_F(Workloads, RolloutStatusGivesUpAtItsTimeout) {
  auto applied = Apply(R"(apiVersion: apps/v1
kind: Deployment
metadata:
  name: never-ready
spec:
  replicas: 1
  selector:
    matchLabels: {app: never-ready}
  template:
    metadata:
      labels: {app: never-ready}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
        - name: c
          image: busybox:latest
          imagePullPolicy: IfNotPresent
          command: [sleep, "3600"]
          readinessProbe:
            exec: {command: ["false"]}
            periodSeconds: 1
)");
  ASSERT_EQ(applied.exit_code, 0) << applied.Describe();
  auto status = Cli({"rollout", "status", "deployment/never-ready", "--timeout", "3s"});
  EXPECT_EQ(status.exit_code, 1) << status.Describe();
  EXPECT_NE(status.err.find("timed out waiting for the condition"), std::string::npos)
      << status.Describe();
}

TEST_F(Workloads, AStatefulSetStartsInOrderAndItsClaimsOutliveItsPods) {
  auto applied = Cli({"apply", "-f", Example("statefulset.yaml")});
  ASSERT_EQ(applied.exit_code, 0) << applied.Describe();
  auto status = Cli({"rollout", "status", "sts/db", "--timeout", "120s"});
  ASSERT_EQ(status.exit_code, 0) << status.Describe() << Cli({"describe", "sts", "db"}).out;
  std::string uid = Uid(Get("statefulset", "db"));
  auto pods = OwnedPods(uid);
  ASSERT_EQ(Names(pods), (std::set<std::string>{"db-0", "db-1", "db-2"}));
  // OrderedReady: each pod was made only once the one before it was Ready.
  for (size_t i = 1; i < pods.size(); ++i) {
    std::string made = pods[i]["metadata"].value("creationTimestamp", "");
    std::string ready_before;
    for (const auto& c : pods[i - 1]["status"].value("conditions", json::array())) {
      if (c.value("type", "") == "Ready") ready_before = c.value("lastTransitionTime", "");
    }
    EXPECT_LE(ready_before, made) << pods[i - 1].dump(2) << pods[i].dump(2);
  }
  auto table = Cli({"get", "statefulsets"});
  EXPECT_NE(table.out.find("NAME   READY   AGE\ndb     3/3"), std::string::npos) << table.out;

  auto first = Cli({"exec", "db-1", "--", "cat", "/data/first-start"});
  EXPECT_EQ(first.out, "db-1\n") << first.Describe();
  std::string claim = daemon_->state_root() + "/controller/volumes/data-db-1";
  EXPECT_EQ(ReadText(claim + "/first-start"), "db-1\n");

  // A pod deleted by hand comes back under its name, with its claim's files.
  ASSERT_EQ(Cli({"delete", "pod", "db-1"}).exit_code, 0);
  ASSERT_TRUE(WaitUntil([&] { return PodReady(Pod("db-1")); }));
  auto again = Cli({"exec", "db-1", "--", "cat", "/data/first-start"});
  EXPECT_EQ(again.out, "db-1\n") << again.Describe();

  auto scaled = Cli({"scale", "sts/db", "--replicas=1"});
  ASSERT_EQ(scaled.exit_code, 0) << scaled.Describe();
  ASSERT_TRUE(WaitUntil([&] { return Names(OwnedPods(uid)) == std::set<std::string>{"db-0"}; }));

  ASSERT_EQ(Cli({"delete", "statefulset", "db"}).exit_code, 0);
  EXPECT_TRUE(OwnedPods(uid).empty());
  // As Kubernetes keeps a StatefulSet's PVCs, the claims' directories stay.
  EXPECT_EQ(ReadText(claim + "/first-start"), "db-1\n");
  EXPECT_TRUE(std::filesystem::exists(daemon_->state_root() + "/controller/volumes/data-db-2"));
}

TEST_F(Workloads, MixedKindsInOneFileApplyAndSurviveAKillOfTheAgent) {
  std::string text = ReadText(Example("deployment-rollout.yaml")) + "---\n" +
                     FailingJob("later", "", "sleep 2") + "---\n" +
                     "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n"
                     "data:\n  a: b\n";
  auto applied = Apply(text);
  ASSERT_EQ(applied.exit_code, 0) << applied.Describe();
  EXPECT_NE(applied.out.find("deployment.apps/web created"), std::string::npos) << applied.out;
  EXPECT_NE(applied.out.find("job.batch/later created"), std::string::npos) << applied.out;
  EXPECT_NE(applied.out.find("configmap/settings created"), std::string::npos) << applied.out;
  ASSERT_EQ(Cli({"rollout", "status", "deployment/web", "--timeout", "120s"}).exit_code, 0);
  std::string uid = Uid(Get("deployment", "web"));
  std::string job_uid = Uid(Get("job", "later"));
  auto before = Names(OwnedPods(uid));
  ASSERT_EQ(before.size(), 3u);

  int wait_status = daemon_->Terminate(SIGKILL);
  ASSERT_TRUE(WIFSIGNALED(wait_status) && WTERMSIG(wait_status) == SIGKILL) << wait_status;
  ASSERT_TRUE(daemon_->Restart());

  // The same pods, adopted: none made twice, none lost; the job carries on to completion.
  ASSERT_TRUE(WaitUntil([&] { return Uid(Get("deployment", "web")) == uid; }));
  for (int i = 0; i < 5; ++i) EXPECT_EQ(Names(OwnedPods(uid)), before);
  ASSERT_TRUE(WaitUntil([&] { return Condition(Get("job", "later"), "Complete").is_object(); }));
  EXPECT_EQ(OwnedPods(job_uid).size(), 1u);

  // Reconciling continues: scaling up after the restart makes one pod more.
  ASSERT_EQ(Cli({"scale", "deploy/web", "--replicas=4"}).exit_code, 0);
  ASSERT_EQ(Cli({"rollout", "status", "deployment/web", "--timeout", "120s"}).exit_code, 0);
  auto after = Names(OwnedPods(uid));
  EXPECT_EQ(after.size(), 4u);
  EXPECT_TRUE(std::includes(after.begin(), after.end(), before.begin(), before.end()));
}

TEST_F(Workloads, ADaemonSetRunsAsADeploymentOfOneAndSaysSo) {
  auto applied = Apply(R"(apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: agent
spec:
  selector:
    matchLabels: {app: agent}
  template:
    metadata:
      labels: {app: agent}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
        - name: c
          image: busybox:latest
          imagePullPolicy: IfNotPresent
          command: [sleep, "3600"]
)");
  ASSERT_EQ(applied.exit_code, 0) << applied.Describe();
  EXPECT_EQ(applied.out, "daemonset.apps/agent created\n");
  EXPECT_NE(applied.err.find("peapod runs a DaemonSet as a Deployment of one pod"),
            std::string::npos)
      << applied.Describe();
  ASSERT_TRUE(WaitUntil([&] {
    return Get("daemonset", "agent")["status"].value("readyReplicas", 0) == 1;
  })) << Cli({"describe", "ds", "agent"}).out;
  EXPECT_EQ(OwnedPods(Uid(Get("daemonset", "agent"))).size(), 1u);
  EXPECT_EQ(Cli({"get", "deployment", "agent"}).exit_code, 1);
  ASSERT_EQ(Cli({"delete", "ds", "agent"}).exit_code, 0);
}

}  // namespace
}  // namespace peapod::testing
