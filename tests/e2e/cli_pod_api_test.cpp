// The rest of the Pod API through the CLI, as a kubectl user meets it: what peapod will not do is
// refused (or, with --ignore-unsupported, dropped without leaving a pod waiting), downwardAPI and
// projected volumes (labels updated in place on re-apply), subPathExpr, activeDeadlineSeconds,
// hostPath types, and admission as a one-node scheduler (host ports, CPU requests).
#include <sys/socket.h>
#include <sys/un.h>

#include <filesystem>

#include "e2e/cli_fixture.h"

namespace peapod::testing {
namespace {

using nlohmann::json;

class PodApi : public CliTest {
 protected:
  std::string Exec(const std::string& pod, const std::string& script) {
    auto r = Cli({"exec", pod, "--", "sh", "-c", script});
    EXPECT_EQ(r.exit_code, 0) << r.Describe();
    return r.out;
  }

  static json Condition(const json& pod, const std::string& type) {
    if (!pod.is_object()) return nullptr;
    for (const auto& c : pod["status"].value("conditions", json::array())) {
      if (c.value("type", "") == type) return c;
    }
    return nullptr;
  }

  static std::string Phase(const json& pod) {
    return pod.is_object() ? pod["status"].value("phase", "") : "";
  }

  bool Unschedulable(const std::string& name, const std::string& message) {
    return WaitUntil([&] {
      json c = Condition(Pod(name), "PodScheduled");
      return c.is_object() && c.value("status", "") == "False" &&
             c.value("reason", "") == "Unschedulable" && c.value("message", "") == message;
    });
  }
};

std::string SleepPod(const std::string& name, const std::string& spec_extra = "",
                     const std::string& container_extra = "") {
  return "apiVersion: v1\nkind: Pod\nmetadata:\n  name: " + name +
         "\nspec:\n  terminationGracePeriodSeconds: 1\n" + spec_extra +
         "  containers:\n    - name: app\n      image: busybox:latest\n"
         "      imagePullPolicy: IfNotPresent\n      command: [sleep, \"3600\"]\n" +
         container_extra;
}

TEST_F(PodApi, AnUnsupportedKindOrVolumeIsRefusedAndNothingIsMade) {
  auto deployment = Apply(R"(apiVersion: batch/v1
kind: CronJob
metadata:
  name: web
---
)" + SleepPod("beside"));
  EXPECT_EQ(deployment.exit_code, 1) << deployment.Describe();
  EXPECT_NE(deployment.err.find("-:2: kind: \"CronJob\" is not supported by peapod"),
            std::string::npos)
      << deployment.Describe();
  EXPECT_NE(deployment.err.find("--ignore-unsupported"), std::string::npos) << deployment.err;
  EXPECT_EQ(Cli({"get", "pod", "beside"}).exit_code, 1);

  std::string nfs =
      SleepPod("nfs", "  volumes:\n    - name: data\n      nfs: {server: nas, path: /x}\n",
               "      volumeMounts: [{name: data, mountPath: /data}]\n");
  auto refused = Apply(nfs);
  EXPECT_EQ(refused.exit_code, 1) << refused.Describe();
  EXPECT_NE(refused.err.find("-:9: spec.volumes[0].nfs: not supported by peapod"),
            std::string::npos)
      << refused.Describe();
  EXPECT_EQ(Cli({"get", "pod", "nfs"}).exit_code, 1);

  // Asked to, peapod runs the pod without the volume: an empty directory, never a pod that
  // waits in PodInitializing for a mount nobody will make.
  auto ignored = Apply(nfs, {"--ignore-unsupported"});
  EXPECT_EQ(ignored.exit_code, 0) << ignored.Describe();
  EXPECT_NE(ignored.err.find("Warning: -:9: spec.volumes[0].nfs: not supported by peapod, "
                             "ignored: an empty directory is mounted in its place"),
            std::string::npos)
      << ignored.Describe();
  ASSERT_TRUE(WaitRunning("nfs", "app")) << Cli({"describe", "pod", "nfs"}).out;
  EXPECT_EQ(Exec("nfs", "touch /data/x && ls /data"), "x\n");
}

TEST_F(PodApi, DownwardApiFilesFollowTheLabelsWithoutARestart) {
  auto pod = [](const std::string& tier) {
    return R"(apiVersion: v1
kind: Pod
metadata:
  name: info
  labels: {app: info, tier: )" +
           tier + R"(}
  annotations: {note: "a \"quoted\" note"}
spec:
  terminationGracePeriodSeconds: 1
  containers:
    - name: app
      image: busybox:latest
      imagePullPolicy: IfNotPresent
      command: [sleep, "3600"]
      resources: {limits: {memory: 64Mi, cpu: 500m}}
      volumeMounts: [{name: info, mountPath: /etc/podinfo}]
  volumes:
    - name: info
      downwardAPI:
        items:
          - {path: labels, fieldRef: {fieldPath: metadata.labels}}
          - {path: annotations, fieldRef: {fieldPath: metadata.annotations}}
          - {path: name, fieldRef: {fieldPath: metadata.name}}
          - {path: namespace, fieldRef: {fieldPath: metadata.namespace}}
          - {path: uid, fieldRef: {fieldPath: metadata.uid}}
          - {path: tier, fieldRef: {fieldPath: "metadata.labels['tier']"}}
          - path: mem
            resourceFieldRef: {containerName: app, resource: limits.memory, divisor: 1Mi}
          - path: cpu
            resourceFieldRef: {containerName: app, resource: limits.cpu, divisor: 1m}
)";
  };
  auto applied = Apply(pod("front"));
  ASSERT_EQ(applied.exit_code, 0) << applied.Describe();
  ASSERT_TRUE(WaitRunning("info", "app")) << Cli({"describe", "pod", "info"}).out;
  std::string uid = Pod("info")["metadata"].value("uid", "");
  EXPECT_EQ(Exec("info",
                 "cd /etc/podinfo; for f in labels annotations name namespace uid tier mem cpu; "
                 "do cat $f; echo; done"),
            "app=\"info\"\ntier=\"front\"\nnote=\"a \\\"quoted\\\" note\"\ninfo\ndefault\n" + uid +
                "\nfront\n64\n500\n");
  std::string container = ContainerStatus(Pod("info"), "app").value("containerID", "");
  std::string before = Exec("info", "readlink /etc/podinfo/..data");

  // A label change is applied to the running pod, as the API server lets labels change.
  auto relabelled = Apply(pod("back"));
  ASSERT_EQ(relabelled.exit_code, 0) << relabelled.Describe();
  EXPECT_EQ(relabelled.out, "pod/info configured\n");
  EXPECT_TRUE(WaitUntil([&] { return Exec("info", "cat /etc/podinfo/tier") == "back"; }));
  EXPECT_EQ(Exec("info", "cat /etc/podinfo/labels"), "app=\"info\"\ntier=\"back\"");
  EXPECT_NE(Exec("info", "readlink /etc/podinfo/..data"), before);  // swapped whole
  auto after = Pod("info");
  EXPECT_EQ(ContainerStatus(after, "app").value("containerID", ""), container);
  EXPECT_EQ(RestartCount(after, "app"), 0);
  EXPECT_EQ(after["metadata"]["labels"].value("tier", ""), "back");
  EXPECT_EQ(Apply(pod("back")).out, "pod/info unchanged\n");
  // Read-only, as kubelet mounts it.
  EXPECT_NE(Cli({"exec", "info", "--", "touch", "/etc/podinfo/x"}).exit_code, 0);
}

TEST_F(PodApi, AProjectedVolumeJoinsConfigMapSecretAndDownwardApi) {
  auto applied = Apply(R"(apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data: {mode: fast, extra: unused}
---
apiVersion: v1
kind: Secret
metadata: {name: creds}
stringData: {password: hunter2}
---
apiVersion: v1
kind: Pod
metadata: {name: all-in-one}
spec:
  terminationGracePeriodSeconds: 1
  containers:
    - name: app
      image: busybox:latest
      imagePullPolicy: IfNotPresent
      command: [sleep, "3600"]
      volumeMounts: [{name: all, mountPath: /etc/all}]
  volumes:
    - name: all
      projected:
        defaultMode: 0440
        sources:
          - configMap: {name: settings, items: [{key: mode, path: conf/mode}]}
          - secret: {name: creds}
          - secret: {name: absent, optional: true}
          - downwardAPI: {items: [{path: pod, fieldRef: {fieldPath: metadata.name}}]}
)");
  ASSERT_EQ(applied.exit_code, 0) << applied.Describe();
  ASSERT_TRUE(WaitRunning("all-in-one", "app")) << Cli({"describe", "pod", "all-in-one"}).out;
  EXPECT_EQ(Exec("all-in-one",
                 "cd /etc/all; cat conf/mode; echo; cat password; echo; cat pod; "
                 "echo; ls; stat -L -c %a password"),
            "fast\nhunter2\nall-in-one\nconf\npassword\npod\n440\n");
  auto describe = Cli({"describe", "pod", "all-in-one"});
  EXPECT_NE(describe.out.find("Projected"), std::string::npos) << describe.out;

  // A service account token needs an API server to mint it: refused, with why.
  auto token = Apply(SleepPod("token", R"(  volumes:
    - name: token
      projected:
        sources: [{serviceAccountToken: {path: token}}]
)"));
  EXPECT_EQ(token.exit_code, 1) << token.Describe();
  EXPECT_NE(token.err.find("serviceAccountToken: peapod has no API server to issue a service "
                           "account token"),
            std::string::npos)
      << token.Describe();
}

TEST_F(PodApi, SubPathExprExpandsThePodsEnvironment) {
  auto applied = Apply(SleepPod("expr", "  volumes: [{name: logs, emptyDir: {}}]\n", R"y(      env:
        - name: POD_NAME
          valueFrom: {fieldRef: {fieldPath: metadata.name}}
      volumeMounts:
        - {name: logs, mountPath: /all}
        - {name: logs, mountPath: /mine, subPathExpr: "app-$(POD_NAME)"}
)y"));
  ASSERT_EQ(applied.exit_code, 0) << applied.Describe();
  ASSERT_TRUE(WaitRunning("expr", "app")) << Cli({"describe", "pod", "expr"}).out;
  EXPECT_EQ(Exec("expr", "echo hi > /mine/log; cat /all/app-expr/log"), "hi\n");

  // A variable with no value fails the container as kubelet fails it.
  auto missing = Apply(SleepPod("missing", "  volumes: [{name: logs, emptyDir: {}}]\n",
                                "      volumeMounts: [{name: logs, mountPath: /mine, "
                                "subPathExpr: \"$(NOPE)\"}]\n"));
  ASSERT_EQ(missing.exit_code, 0) << missing.Describe();
  EXPECT_TRUE(WaitUntil([&] {
    auto s = ContainerStatus(Pod("missing"), "app");
    return s.is_object() && s["state"].contains("waiting") &&
           s["state"]["waiting"].value("reason", "") == "CreateContainerConfigError" &&
           s["state"]["waiting"].value("message", "").find("missing value for NOPE") !=
               std::string::npos;
  })) << Cli({"describe", "pod", "missing"}).out;
}

TEST_F(PodApi, ActiveDeadlineSecondsFailsThePodAndKillsItsContainers) {
  auto applied = Apply(SleepPod("deadline", "  activeDeadlineSeconds: 3\n"));
  ASSERT_EQ(applied.exit_code, 0) << applied.Describe();
  ASSERT_TRUE(WaitUntil([&] { return Phase(Pod("deadline")) == "Failed"; }))
      << Cli({"describe", "pod", "deadline"}).out;
  auto pod = Pod("deadline");
  EXPECT_EQ(pod["status"].value("reason", ""), "DeadlineExceeded");
  EXPECT_EQ(pod["status"].value("message", ""),
            "Pod was active on the node longer than the specified deadline");
  EXPECT_EQ(StateKind(pod, "app"), "terminated");
  auto describe = Cli({"describe", "pod", "deadline"});
  EXPECT_NE(describe.out.find("DeadlineExceeded"), std::string::npos) << describe.out;
  // It stays failed: nothing restarts it.
  EXPECT_EQ(RestartCount(pod, "app"), 0);
}

TEST_F(PodApi, HostPathTypesAreCheckedAsKubeletChecksThem) {
  TempDir host("peapod-e2e-hostpath");
  std::string socket_path = (host / "agent.sock");
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", socket_path.c_str());
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  auto volumes = [&](const std::string& missing_type) {
    return "  volumes:\n"
           "    - {name: made, hostPath: {path: " +
           (host / "made/deep") +
           ", type: DirectoryOrCreate}}\n"
           "    - {name: file, hostPath: {path: " +
           (host / "touched") +
           ", type: FileOrCreate}}\n"
           "    - {name: sock, hostPath: {path: " +
           socket_path +
           ", type: Socket}}\n"
           "    - {name: devnull, hostPath: {path: /dev/null, type: CharDevice}}\n"
           "    - {name: other, hostPath: {path: " +
           (host / "missing") + ", type: " + missing_type + "}}\n";
  };
  std::string mounts =
      "      volumeMounts:\n"
      "        - {name: made, mountPath: /made}\n"
      "        - {name: file, mountPath: /touched}\n"
      "        - {name: sock, mountPath: /run/agent.sock}\n"
      "        - {name: devnull, mountPath: /mnt/null}\n"
      "        - {name: other, mountPath: /other}\n";
  auto applied = Apply(SleepPod("hostpaths", volumes("DirectoryOrCreate"), mounts));
  ASSERT_EQ(applied.exit_code, 0) << applied.Describe();
  ASSERT_TRUE(WaitRunning("hostpaths", "app")) << Cli({"describe", "pod", "hostpaths"}).out;
  EXPECT_TRUE(std::filesystem::is_directory(host / "made/deep"));
  EXPECT_TRUE(std::filesystem::is_regular_file(host / "touched"));
  EXPECT_EQ(Exec("hostpaths", "test -S /run/agent.sock && test -c /mnt/null && echo ok"), "ok\n");

  // A path that is not what the type says: the pod waits with FailedMount saying why.
  auto wrong = Apply(SleepPod("wrongtype",
                              "  volumes:\n    - {name: dev, hostPath: {path: /dev/null, type: "
                              "BlockDevice}}\n",
                              "      volumeMounts: [{name: dev, mountPath: /dev-x}]\n"));
  ASSERT_EQ(wrong.exit_code, 0) << wrong.Describe();
  EXPECT_TRUE(WaitUntil([&] {
    return Cli({"describe", "pod", "wrongtype"})
               .out.find("hostPath type check failed: /dev/null is not a block device") !=
           std::string::npos;
  })) << Cli({"describe", "pod", "wrongtype"}).out;
  auto missing = Apply(SleepPod(
      "missingfile",
      "  volumes:\n    - {name: f, hostPath: {path: " + (host / "nothing") + ", type: File}}\n",
      "      volumeMounts: [{name: f, mountPath: /f}]\n"));
  ASSERT_EQ(missing.exit_code, 0) << missing.Describe();
  EXPECT_TRUE(WaitUntil([&] {
    return Cli({"describe", "pod", "missingfile"}).out.find("does not exist") != std::string::npos;
  })) << Cli({"describe", "pod", "missingfile"}).out;
  EXPECT_NE(StateKind(Pod("missingfile"), "app"), "running");
  ::close(fd);
}

TEST_F(PodApi, AHostPortTakenByAnotherPodKeepsThePodPendingUntilItIsFree) {
  int port = FreeLoopbackPort();
  std::string ports =
      "      ports: [{containerPort: 80, hostPort: " + std::to_string(port) + "}]\n";
  auto first = Apply(SleepPod("first", "", ports));
  ASSERT_EQ(first.exit_code, 0) << first.Describe();
  ASSERT_TRUE(WaitRunning("first", "app"));
  auto second = Apply(SleepPod("second", "", ports));
  ASSERT_EQ(second.exit_code, 0) << second.Describe();
  EXPECT_TRUE(Unschedulable("second",
                            "0/1 nodes are available: 1 node(s) didn't have free ports for the "
                            "requested pod ports."))
      << Cli({"describe", "pod", "second"}).out;
  EXPECT_EQ(Phase(Pod("second")), "Pending");
  auto describe = Cli({"describe", "pod", "second"});
  EXPECT_NE(describe.out.find("FailedScheduling"), std::string::npos) << describe.out;
  EXPECT_EQ(ContainerStatus(Pod("second"), "app").value("containerID", ""), "");

  auto deleted = Cli({"delete", "pod", "first"});
  ASSERT_EQ(deleted.exit_code, 0) << deleted.Describe();
  EXPECT_TRUE(WaitRunning("second", "app")) << Cli({"describe", "pod", "second"}).out;
  json scheduled = Condition(Pod("second"), "PodScheduled");
  EXPECT_EQ(scheduled.value("status", ""), "True");
}

TEST_F(PodApi, APodWhoseRequestsDoNotFitStaysPendingUntilThereIsRoom) {
  auto huge = Apply(SleepPod("huge", "", "      resources: {requests: {cpu: \"100000\"}}\n"));
  ASSERT_EQ(huge.exit_code, 0) << huge.Describe();
  EXPECT_TRUE(Unschedulable("huge", "0/1 nodes are available: 1 Insufficient cpu."))
      << Cli({"describe", "pod", "huge"}).out;

  // Most of the node's CPU to one pod; another that asks for more than is left waits for it.
  int64_t millis = ::sysconf(_SC_NPROCESSORS_ONLN) * 1000;
  auto big = Apply(SleepPod(
      "big", "", "      resources: {requests: {cpu: " + std::to_string(millis - 100) + "m}}\n"));
  ASSERT_EQ(big.exit_code, 0) << big.Describe();
  ASSERT_TRUE(WaitRunning("big", "app"));
  auto small = Apply(SleepPod("small", "", "      resources: {requests: {cpu: 200m}}\n"));
  ASSERT_EQ(small.exit_code, 0) << small.Describe();
  EXPECT_TRUE(Unschedulable("small", "0/1 nodes are available: 1 Insufficient cpu."));
  ASSERT_EQ(Cli({"delete", "pod", "big"}).exit_code, 0);
  EXPECT_TRUE(WaitRunning("small", "app")) << Cli({"describe", "pod", "small"}).out;
  EXPECT_EQ(Phase(Pod("huge")), "Pending");
}

}  // namespace
}  // namespace peapod::testing
