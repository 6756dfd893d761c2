// A PodController over a real Agent (AgentFixture: temporary roots, the CNI test network), with
// the busybox test image loaded and a short CrashLoopBackOff so restarts happen in test time.
// Helpers apply YAML and wait (with deadlines, never asserting durations) for pod conditions.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "agent_fixture.h"
#include "peapod/agent/controller/pod_controller.h"

namespace peapod::testing {

class ControllerFixture : public AgentFixture {
 protected:
  void SetUp() override {
    AgentFixture::SetUp();
    if (HasFatalFailure()) return;
    ASSERT_FALSE(LoadImage("busybox.oci.tar").empty());
    StartController();
  }

  void TearDown() override {
    controller_.reset();  // stops the workers; AgentFixture removes the sandboxes
    AgentFixture::TearDown();
    RemoveTreeWithMounts(dir_ / "state");  // tmpfs volumes of pods a failed test left
  }

  virtual agent::controller::ControllerConfig ControllerConfig() const {
    agent::controller::ControllerConfig c;
    c.backoff_initial = std::chrono::milliseconds(300);
    c.backoff_max = std::chrono::milliseconds(1200);
    c.backoff_reset = std::chrono::minutes(10);
    c.relist_period = std::chrono::milliseconds(100);
    c.pod_log_root = dir_ / "pod-logs";
    return c;
  }

  void StartController() {
    controller_ = std::make_unique<agent::controller::PodController>(*agent_, ControllerConfig());
    auto started = controller_->Start();
    ASSERT_TRUE(started.has_value()) << started.error().ToString();
  }

  // Destroys the controller and the agent (pods keep running), then opens both again.
  void RestartAgent() {
    controller_.reset();
    agent_.reset();
    OpenAgent();
    if (HasFatalFailure()) return;
    StartController();
  }

  agent::controller::ApplyResult Apply(const std::string& yaml,
                                       const std::string& name = "pod.yaml") {
    auto result = controller_->Apply({{name, yaml}});
    if (!result) {
      ADD_FAILURE() << "Apply: " << result.error().ToString();
      return {};
    }
    return *result;
  }

  // Polls the pod until `done` holds; fails the test (and returns the last view) at the deadline.
  agent::controller::PodView WaitPod(
      const std::string& name, const std::function<bool(const agent::controller::PodView&)>& done,
      const std::string& what, std::chrono::seconds timeout = std::chrono::seconds(60)) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    agent::controller::PodView last;
    for (;;) {
      auto pod = controller_->GetPod("default", name);
      if (pod) {
        last = *pod;
        if (done(last)) return last;
      }
      if (std::chrono::steady_clock::now() > deadline) {
        ADD_FAILURE() << "pod " << name << ": timed out waiting for " << what << "\n"
                      << Describe(last) << Logs(last);
        return last;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }

  // Waits for `container` of pod `name` to be running.
  agent::controller::PodView WaitRunning(const std::string& name,
                                         const std::string& container = "app") {
    return WaitPod(
        name, [&](const agent::controller::PodView& p) { return ContainerRunning(p, container); },
        "running");
  }

  // Waits for `container` of pod `name` to be in a state with `reason` (e.g. CrashLoopBackOff).
  agent::controller::PodView WaitReason(const std::string& name, const std::string& container,
                                        const std::string& reason) {
    return WaitPod(
        name,
        [&](const agent::controller::PodView& p) {
          auto* c = Find(p, container);
          return c && c->state.reason == reason;
        },
        reason);
  }

  static const agent::controller::ContainerStatusView* Find(const agent::controller::PodView& pod,
                                                            const std::string& container) {
    for (const auto* list : {&pod.container_statuses, &pod.init_container_statuses}) {
      for (const auto& c : *list) {
        if (c.name == container) return &c;
      }
    }
    return nullptr;
  }

  static bool ContainerRunning(const agent::controller::PodView& pod, const std::string& c) {
    auto* s = Find(pod, c);
    return s && s->state.kind == "running";
  }

  static int32_t Restarts(const agent::controller::PodView& pod, const std::string& c) {
    auto* s = Find(pod, c);
    return s ? s->restart_count : -1;
  }

  static std::string Condition(const agent::controller::PodView& pod, const std::string& type) {
    for (const auto& c : pod.conditions) {
      if (c.type == type) return c.status;
    }
    return "";
  }

  static bool HasEvent(const agent::controller::PodView& pod, const std::string& reason,
                       const std::string& object_part = "") {
    for (const auto& e : pod.events) {
      if (e.reason == reason && e.object.find(object_part) != std::string::npos) return true;
    }
    return false;
  }

  static std::string Describe(const agent::controller::PodView& pod) {
    std::string out = "phase=" + pod.phase + " reason=" + pod.reason + "\n";
    for (const auto* list : {&pod.init_container_statuses, &pod.container_statuses}) {
      for (const auto& c : *list) {
        out += "  " + c.name + ": " + c.state.kind + " " + c.state.reason +
               " exit=" + std::to_string(c.state.exit_code) +
               " restarts=" + std::to_string(c.restart_count) + " ready=" + (c.ready ? "1" : "0") +
               " " + c.state.message + "\n";
      }
    }
    for (const auto& c : pod.conditions) out += "  cond " + c.type + "=" + c.status + "\n";
    for (const auto& e : pod.events) {
      out += "  event " + e.type + " " + e.reason + " " + e.object + " x" +
             std::to_string(e.count) + ": " + e.message + "\n";
    }
    return out;
  }

  // The last lines of every container's current and previous log, for failure messages.
  std::string Logs(const agent::controller::PodView& pod) {
    std::string out;
    for (const auto* list : {&pod.init_container_statuses, &pod.container_statuses}) {
      for (const auto& c : *list) {
        for (bool previous : {true, false}) {
          auto path = controller_->LogPath(pod.namespace_, pod.name, c.name, previous);
          if (!path) continue;
          std::string text = ReadFile(*path);
          if (text.size() > 1500) text = text.substr(text.size() - 1500);
          out += "  log " + c.name + (previous ? " (previous)" : "") + ":\n" + text;
        }
      }
    }
    return out;
  }

  // Runs a shell command in the current instance of a container; its stdout.
  std::string Exec(const std::string& pod, const std::string& container,
                   const std::string& script) {
    auto id = controller_->ContainerId("default", pod, container);
    if (!id) {
      ADD_FAILURE() << "ContainerId: " << id.error().ToString();
      return "";
    }
    auto r = agent_->containers().ExecSync(*id, {"sh", "-c", script}, 10);
    if (!r) {
      ADD_FAILURE() << "ExecSync: " << r.error().ToString();
      return "";
    }
    return r->stdout_data;
  }

  // The host directory of a pod's volume.
  std::string VolumeDir(const agent::controller::PodView& pod, const std::string& volume) {
    return dir_ / ("state/controller/pod-data/" + pod.uid + "/volumes/" + volume);
  }

  std::unique_ptr<agent::controller::PodController> controller_;
};

}  // namespace peapod::testing
