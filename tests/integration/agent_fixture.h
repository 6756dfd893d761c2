// An Agent over temporary state/run roots and a private CNI test network, plus helpers to run
// pods and containers through the CRI verbs. Everything is removed in the destructor, also when a
// test fails half-way.
#pragma once

#include <dirent.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "peapod/agent/agent.h"
#include "peapod/image/image_service.h"
#include "support/cgroup_support.h"
#include "support/cni_test_network.h"
#include "support/registry.h"
#include "peapod/runtime/cgroup.h"
#include "support/temp_dir.h"

namespace peapod::testing {

class AgentFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    net_.WriteConflist(net_.Conflist());
    OpenAgent();
  }

  void TearDown() override {
    if (agent_) {
      for (const auto& pod : agent_->sandboxes().ListPodSandbox()) {
        auto removed = agent_->sandboxes().RemovePodSandbox(pod.id);
        EXPECT_TRUE(removed.has_value()) << removed.error().ToString();
      }
      agent_.reset();
    }
    RemoveTreeWithMounts(dir_.path() + "/run");
    if (driver_) {  // a parent of the test's own (UseOwnCgroupParent): removed, and must go
      auto removed = runtime::Cgroup(driver_, "/" + cgroup_parent_).Remove();
      EXPECT_TRUE(removed.has_value()) << removed.error().ToString();
    } else if (cgroup_parent_.empty()) {  // the default below: this fixture's own, removed with it
      if (auto driver = runtime::CgroupDriver::Detect(); driver) {
        auto shared = std::make_shared<const runtime::CgroupDriver>(std::move(*driver));
        (void)runtime::Cgroup(shared, "/" + DefaultCgroupParent()).Remove();
      }
    }
  }

  // Before SetUp: the agent's pods go under "<prefix>-<pid>", which TearDown removes (and fails
  // the test when it cannot); driver_ is the host's cgroup layout, detected per controller.
  void UseOwnCgroupParent(const std::string& prefix) {
    cgroup_parent_ = prefix + "-" + std::to_string(::getpid());
    auto driver = runtime::CgroupDriver::Detect();
    ASSERT_TRUE(driver.has_value()) << driver.error().ToString();
    driver_ = std::make_shared<const runtime::CgroupDriver>(std::move(*driver));
  }

  static std::string DefaultCgroupParent() {
    return "peapod-agent-fixture-" + std::to_string(::getpid());
  }

  agent::AgentConfig Config() const {
    agent::AgentConfig c;
    c.state_root = dir_ / "state";
    c.run_root = dir_ / "run";
    c.pause_binary = PEAPOD_PAUSE_BINARY;
    c.cni = net_.Options();
    c.cgroup_parent = cgroup_parent_.empty() ? DefaultCgroupParent() : cgroup_parent_;
    return c;
  }

  void OpenAgent() {
    auto agent = agent::Agent::Open(Config());
    ASSERT_TRUE(agent.has_value()) << agent.error().ToString();
    agent_ = std::move(*agent);
  }

  std::string LoadImage(const std::string& archive) {
    auto ids = agent_->images().Load(TestImagesDir() + "/" + archive);
    if (!ids || ids->empty()) {
      ADD_FAILURE() << "load " << archive << ": " << (ids ? "no image" : ids.error().ToString());
      return "";
    }
    return (*ids)[0];
  }

  agent::PodSandboxConfig PodConfig(const std::string& name) {
    agent::PodSandboxConfig c;
    c.metadata = {name, "uid-" + name, "default", 0};
    c.hostname = name;
    c.log_directory = dir_ / ("logs/" + name);
    return c;
  }

  std::string RunPod(const agent::PodSandboxConfig& config) {
    auto id = agent_->sandboxes().RunPodSandbox(config);
    if (!id) {
      ADD_FAILURE() << "RunPodSandbox: " << id.error().ToString();
      return "";
    }
    return *id;
  }

  agent::ContainerConfig ContainerConfig(const std::string& name, const std::string& image,
                                         std::vector<std::string> command = {},
                                         std::vector<std::string> args = {}) {
    agent::ContainerConfig c;
    c.metadata = {name, 0};
    c.image.image = image;
    c.command = std::move(command);
    c.args = std::move(args);
    c.log_path = name + ".log";
    return c;
  }

  // CreateContainer + StartContainer.
  std::string Run(const std::string& pod, const agent::PodSandboxConfig& pod_config,
                  const agent::ContainerConfig& config) {
    auto id = agent_->containers().CreateContainer(pod, config, pod_config);
    if (!id) {
      ADD_FAILURE() << "CreateContainer: " << id.error().ToString();
      return "";
    }
    auto started = agent_->containers().StartContainer(*id);
    if (!started) ADD_FAILURE() << "StartContainer: " << started.error().ToString();
    return *id;
  }

  std::string RunShell(const std::string& pod, const agent::PodSandboxConfig& pod_config,
                       const std::string& name, const std::string& script,
                       const std::string& image = "busybox") {
    return Run(pod, pod_config, ContainerConfig(name, image, {"sh", "-c", script}));
  }

  // Polls ContainerStatus (which the exit monitor keeps current) until the container exited.
  agent::ContainerStatus WaitExited(const std::string& id,
                                    std::chrono::seconds timeout = std::chrono::seconds(20)) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      auto st = agent_->containers().ContainerStatus(id);
      if (!st) {
        ADD_FAILURE() << "ContainerStatus: " << st.error().ToString();
        return {};
      }
      if (st->status.state == agent::ContainerState::kExited) return st->status;
      if (std::chrono::steady_clock::now() > deadline) {
        ADD_FAILURE() << "container " << id << " did not exit in time";
        return st->status;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }

  // The text of a container's CRI log, without the timestamp/stream/tag prefixes.
  std::string LogText(const std::string& id) {
    auto st = agent_->containers().ContainerStatus(id);
    if (!st) return "";
    std::string raw = ReadFile(st->status.log_path), text;
    size_t pos = 0;
    while (pos < raw.size()) {
      size_t end = raw.find('\n', pos);
      if (end == std::string::npos) end = raw.size();
      std::string line = raw.substr(pos, end - pos);
      // "<ts> <stream> <F|P> <text>"
      size_t cut = 0;
      for (int i = 0; i < 3 && cut != std::string::npos; ++i) cut = line.find(' ', cut + (i ? 1 : 0));
      if (cut != std::string::npos) text += line.substr(cut + 1) + "\n";
      pos = end + 1;
    }
    return text;
  }

  // Runs a shell script in a new container of `pod` and returns its output once it exited 0.
  std::string Output(const std::string& pod, const agent::PodSandboxConfig& pod_config,
                     const std::string& name, const std::string& script,
                     const std::string& image = "busybox") {
    auto id = RunShell(pod, pod_config, name, script, image);
    if (id.empty()) return "";
    auto st = WaitExited(id);
    EXPECT_EQ(st.exit_code, 0) << name << ": " << LogText(id);
    return LogText(id);
  }

  std::vector<std::string> DirEntries(const std::string& path) {
    std::vector<std::string> names;
    DIR* d = ::opendir(path.c_str());
    // An emptiness check on a directory that is not there would prove nothing.
    if (d == nullptr) ADD_FAILURE() << "cannot open " << path << ": " << std::strerror(errno);
    while (dirent* e = d ? ::readdir(d) : nullptr) {
      std::string n = e->d_name;
      if (n != "." && n != "..") names.push_back(n);
    }
    if (d) ::closedir(d);
    return names;
  }

  // Children of this process running the pause binary (the agent starts pause).
  std::vector<int> PauseChildren() {
    std::vector<int> pids;
    for (const auto& name : DirEntries("/proc")) {
      int pid = std::atoi(name.c_str());
      if (pid <= 0) continue;
      char exe[4096];
      ssize_t n = ::readlink(("/proc/" + name + "/exe").c_str(), exe, sizeof(exe) - 1);
      if (n <= 0) continue;
      exe[n] = 0;
      std::string stat = ReadFile("/proc/" + name + "/stat");
      auto close = stat.rfind(')');
      if (close == std::string::npos) continue;
      int ppid = std::atoi(stat.c_str() + close + 4);
      if (ppid == ::getpid() && std::string(exe) == PEAPOD_PAUSE_BINARY) pids.push_back(pid);
    }
    return pids;
  }

  RootSubtreeControlRestorer restore_root_;  // first: restored after everything else is gone
  CniTestNetwork net_;
  TempDir dir_{"peapod-agent"};
  std::string cgroup_parent_;  // "" keeps AgentConfig's default; set before SetUp
  std::shared_ptr<const runtime::CgroupDriver> driver_;  // set by UseOwnCgroupParent
  std::unique_ptr<agent::Agent> agent_;
};

}  // namespace peapod::testing
