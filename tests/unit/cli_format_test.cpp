// The CLI's pure formatting: kubectl's ages, STATUS/READY/RESTARTS columns, table layout,
// event ages, describe sections and YAML output.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "peapod/cli/format.h"

namespace peapod::cli {
namespace {

using nlohmann::json;
constexpr int64_t kSec = 1'000'000'000;
// 2026-11-24T15:00:00Z
const int64_t kNow = ParseRfc3339("2026-11-24T15:00:00Z");

TEST(CliAge, FollowsKubectlHumanDuration) {
  EXPECT_EQ(HumanDuration(0), "0s");
  EXPECT_EQ(HumanDuration(5), "5s");
  EXPECT_EQ(HumanDuration(119), "119s");
  EXPECT_EQ(HumanDuration(182), "3m2s");
  EXPECT_EQ(HumanDuration(180), "3m");
  EXPECT_EQ(HumanDuration(11 * 60 + 5), "11m");
  EXPECT_EQ(HumanDuration(3 * 3600 + 5 * 60), "3h5m");
  EXPECT_EQ(HumanDuration(10 * 3600), "10h");
  EXPECT_EQ(HumanDuration(2 * 86400), "2d");
  EXPECT_EQ(HumanDuration(3 * 86400 + 4 * 3600), "3d4h");
  EXPECT_EQ(HumanDuration(30 * 86400), "30d");
  EXPECT_EQ(HumanDuration(3 * 365 * 86400), "3y");
  EXPECT_EQ(HumanDuration(-1), "0s");
  EXPECT_EQ(HumanDuration(-5), "<invalid>");
}

TEST(CliAge, ParsesApiServerTimestamps) {
  EXPECT_EQ(ParseRfc3339("1970-01-01T00:00:10Z"), 10 * kSec);
  EXPECT_EQ(ParseRfc3339("1970-01-01T00:00:10.5Z"), 10 * kSec + kSec / 2);
  EXPECT_EQ(ParseRfc3339("not a time"), 0);
  EXPECT_EQ(ParseRfc3339("1970-01-01T00:00:10+02:00"), 0);
  EXPECT_EQ(AgeSince("2026-11-24T14:58:58Z", kNow), "62s");
  EXPECT_EQ(AgeSince("", kNow), "<unknown>");
}

json Pod(json spec, json status) {
  return {
      {"metadata",
       {{"name", "p"}, {"namespace", "default"}, {"creationTimestamp", "2026-11-24T14:59:00Z"}}},
      {"spec", std::move(spec)},
      {"status", std::move(status)}};
}

json Running(bool ready, int restarts = 0) {
  return {{"name", "c"},
          {"ready", ready},
          {"restartCount", restarts},
          {"state", {{"running", {{"startedAt", "2026-11-24T14:59:10Z"}}}}}};
}

TEST(CliPodStatus, RunningAndReady) {
  auto row = ComputePodRow(Pod({{"containers", {{{"name", "c"}}}}},
                               {{"phase", "Running"}, {"containerStatuses", {Running(true)}}}),
                           kNow);
  EXPECT_EQ(row.status, "Running");
  EXPECT_EQ(row.ready, "1/1");
  EXPECT_EQ(row.restarts, "0");
  EXPECT_EQ(row.age, "60s");
}

TEST(CliPodStatus, WaitingReasonWinsAndRestartsShowTheLastOne) {
  json cs = {
      {"name", "c"},
      {"ready", false},
      {"restartCount", 5},
      {"state", {{"waiting", {{"reason", "CrashLoopBackOff"}}}}},
      {"lastState", {{"terminated", {{"exitCode", 1}, {"finishedAt", "2026-11-24T14:59:55Z"}}}}}};
  auto row = ComputePodRow(
      Pod({{"containers", {{{"name", "c"}}}}}, {{"phase", "Running"}, {"containerStatuses", {cs}}}),
      kNow);
  EXPECT_EQ(row.status, "CrashLoopBackOff");
  EXPECT_EQ(row.ready, "0/1");
  EXPECT_EQ(row.restarts, "5 (5s ago)");
}

TEST(CliPodStatus, TerminatedReasonsAndExitCodes) {
  json completed = {{"name", "c"},
                    {"state", {{"terminated", {{"exitCode", 0}, {"reason", "Completed"}}}}}};
  EXPECT_EQ(ComputePodRow(Pod({{"containers", {{{"name", "c"}}}}},
                              {{"phase", "Succeeded"}, {"containerStatuses", {completed}}}),
                          kNow)
                .status,
            "Completed");
  json error = {{"name", "c"}, {"state", {{"terminated", {{"exitCode", 1}, {"reason", "Error"}}}}}};
  EXPECT_EQ(ComputePodRow(Pod({{"containers", {{{"name", "c"}}}}},
                              {{"phase", "Failed"}, {"containerStatuses", {error}}}),
                          kNow)
                .status,
            "Error");
  json bare = {{"name", "c"}, {"state", {{"terminated", {{"exitCode", 3}}}}}};
  EXPECT_EQ(ComputePodRow(Pod({{"containers", {{{"name", "c"}}}}},
                              {{"phase", "Failed"}, {"containerStatuses", {bare}}}),
                          kNow)
                .status,
            "ExitCode:3");
}

TEST(CliPodStatus, CompletedWithARunningContainerIsRunning) {
  json done = {{"name", "a"},
               {"state", {{"terminated", {{"exitCode", 0}, {"reason", "Completed"}}}}}};
  json spec = {{"containers", {{{"name", "a"}}, {{"name", "c"}}}}};
  json status = {{"phase", "Running"},
                 {"conditions", {{{"type", "Ready"}, {"status", "False"}}}},
                 {"containerStatuses", {done, Running(true)}}};
  // kubectl walks the statuses from the last one, so the first container's reason is last.
  auto row = ComputePodRow(Pod(spec, status), kNow);
  EXPECT_EQ(row.status, "Running");
  EXPECT_EQ(row.ready, "1/2");
}

TEST(CliPodStatus, InitContainersShowProgress) {
  json spec = {{"initContainers", {{{"name", "i1"}}, {{"name", "i2"}}}},
               {"containers", {{{"name", "c"}}}}};
  json i1 = {{"name", "i1"},
             {"state", {{"terminated", {{"exitCode", 0}, {"reason", "Completed"}}}}}};
  json i2 = {{"name", "i2"}, {"state", {{"running", json::object()}}}};
  json c = {{"name", "c"}, {"state", {{"waiting", {{"reason", "PodInitializing"}}}}}};
  auto row = ComputePodRow(
      Pod(spec,
          {{"phase", "Pending"}, {"initContainerStatuses", {i1, i2}}, {"containerStatuses", {c}}}),
      kNow);
  EXPECT_EQ(row.status, "Init:1/2");
  EXPECT_EQ(row.ready, "0/1");

  json failed = {{"name", "i2"},
                 {"state", {{"terminated", {{"exitCode", 2}, {"reason", "Error"}}}}}};
  EXPECT_EQ(ComputePodRow(
                Pod(spec, {{"phase", "Pending"}, {"initContainerStatuses", {i1, failed}}}), kNow)
                .status,
            "Init:Error");
  json backoff = {{"name", "i2"}, {"state", {{"waiting", {{"reason", "CrashLoopBackOff"}}}}}};
  EXPECT_EQ(ComputePodRow(
                Pod(spec, {{"phase", "Pending"}, {"initContainerStatuses", {i1, backoff}}}), kNow)
                .status,
            "Init:CrashLoopBackOff");
}

TEST(CliPodStatus, SidecarsCountAsContainers) {
  json spec = {{"initContainers", {{{"name", "side"}, {"restartPolicy", "Always"}}}},
               {"containers", {{{"name", "c"}}}}};
  json side = {{"name", "side"},
               {"started", true},
               {"ready", true},
               {"restartCount", 2},
               {"state", {{"running", json::object()}}}};
  auto row =
      ComputePodRow(Pod(spec, {{"phase", "Running"},
                               {"conditions", {{{"type", "Initialized"}, {"status", "True"}}}},
                               {"initContainerStatuses", {side}},
                               {"containerStatuses", {Running(true)}}}),
                    kNow);
  EXPECT_EQ(row.ready, "2/2");
  EXPECT_EQ(row.status, "Running");
  EXPECT_EQ(row.restarts, "2");
}

TEST(CliPodStatus, ContainerCreatingAndTerminating) {
  json creating = {{"name", "c"}, {"state", {{"waiting", {{"reason", "ContainerCreating"}}}}}};
  json pod = Pod({{"containers", {{{"name", "c"}}}}},
                 {{"phase", "Pending"}, {"containerStatuses", {creating}}});
  EXPECT_EQ(ComputePodRow(pod, kNow).status, "ContainerCreating");
  pod["metadata"]["deletionTimestamp"] = "2026-11-24T15:00:00Z";
  EXPECT_EQ(ComputePodRow(pod, kNow).status, "Terminating");
}

TEST(CliTable, PadsColumnsLikeKubectl) {
  EXPECT_EQ(FormatTable({{"NAME", "READY"}, {"a-long-name", "1/1"}}),
            "NAME          READY\n"
            "a-long-name   1/1\n");
}

TEST(CliTable, PodTableHasKubectlColumnsAndWideAddsIpNode) {
  json pod =
      Pod({{"containers", {{{"name", "c"}}}}, {"nodeName", "node1"}},
          {{"phase", "Running"}, {"podIP", "10.0.0.5"}, {"containerStatuses", {Running(true)}}});
  EXPECT_EQ(FormatPodTable({pod}, kNow, GetFormat::kTable, false),
            "NAME   READY   STATUS    RESTARTS   AGE\n"
            "p      1/1     Running   0          60s\n");
  EXPECT_EQ(FormatPodTable({pod}, kNow, GetFormat::kWide, true),
            "NAMESPACE   NAME   READY   STATUS    RESTARTS   AGE   IP         NODE\n"
            "default     p      1/1     Running   0          60s   10.0.0.5   node1\n");
}

TEST(CliEvents, RepeatedEventsShowCountAndSpan) {
  EventRow once{"Normal", "Started",        "peapodd",       "Started container c",
                1,        kNow - 10 * kSec, kNow - 10 * kSec};
  EXPECT_EQ(EventAge(once, kNow), "10s");
  EventRow repeated{"Warning", "BackOff",         "peapodd",      "Back-off",
                    5,         kNow - 600 * kSec, kNow - 3 * kSec};
  EXPECT_EQ(EventAge(repeated, kNow), "3s (x5 over 10m)");
}

TEST(CliDescribe, HasKubectlSectionsAndEvents) {
  json spec = {{"containers",
                {{{"name", "web"},
                  {"image", "nginx:latest"},
                  {"ports", {{{"containerPort", 80}, {"hostPort", 8080}, {"protocol", "TCP"}}}},
                  {"livenessProbe",
                   {{"exec", {{"command", {"cat", "/tmp/ok"}}}},
                    {"initialDelaySeconds", 0},
                    {"timeoutSeconds", 1},
                    {"periodSeconds", 10},
                    {"successThreshold", 1},
                    {"failureThreshold", 3}}}}}},
               {"volumes", {{{"name", "conf"}, {"emptyDir", json::object()}}}}};
  json status = {{"phase", "Running"},
                 {"podIP", "10.0.0.5"},
                 {"conditions", {{{"type", "Ready"}, {"status", "True"}}}},
                 {"containerStatuses", {Running(true, 1)}}};
  status["containerStatuses"][0]["name"] = "web";
  std::vector<EventRow> events = {{"Normal", "Started", "peapodd", "Started container web", 1,
                                   kNow - 5 * kSec, kNow - 5 * kSec}};
  std::string text = DescribePod(Pod(spec, status), events, kNow);
  for (const char* expected :
       {"Name:             p\n", "Namespace:        default\n", "Status:           Running\n",
        "Containers:\n", "  web:\n", "    Image:          nginx:latest\n",
        "    Host Port:      8080/TCP\n", "    State:          Running\n",
        "    Restart Count:  1\n",
        "    Liveness:       exec [cat /tmp/ok] delay=0s timeout=1s period=10s #success=1 "
        "#failure=3\n",
        "Conditions:\n", "  Ready  True\n", "Volumes:\n", "EmptyDir", "Events:\n",
        "  Type    Reason   Age   From     Message\n",
        "  Normal  Started  5s    peapodd  Started container web\n"}) {
    EXPECT_NE(text.find(expected), std::string::npos) << "missing: " << expected << "\n" << text;
  }
}

TEST(CliYaml, EmitsBlockStyleAndQuotesAmbiguousStrings) {
  json doc = {{"kind", "Pod"},
              {"metadata", {{"name", "p"}, {"labels", {{"on", "yes"}}}}},
              {"spec", {{"containers", {{{"name", "c"}, {"args", {"-c", "echo 1"}}}}}}},
              {"n", 3},
              {"empty", json::object()},
              {"version", "1.0"}};
  EXPECT_EQ(ToYaml(doc),
            "empty: {}\n"
            "kind: Pod\n"
            "metadata:\n"
            "  labels:\n"
            "    \"on\": \"yes\"\n"
            "  name: p\n"
            "n: 3\n"
            "spec:\n"
            "  containers:\n"
            "  - args:\n"
            "    - \"-c\"\n"
            "    - echo 1\n"
            "    name: c\n"
            "version: \"1.0\"\n");
}

TEST(CliProgress, DrawsABarWithSizes) {
  EXPECT_EQ(ProgressLine("sha256:0123456789abcdef", 500, 1000, 10),
            "0123456789ab: [=====>    ] 500B/1kB");
  EXPECT_EQ(HumanBytes(1'234'567), "1.23MB");
}

}  // namespace
}  // namespace peapod::cli
