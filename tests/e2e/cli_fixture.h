// End-to-end fixture: a real peapodd (PeapoddProcess, short CrashLoopBackOff) on a private CNI
// network with portmap, the test images loaded through `peapod load`, and the `peapod` binary of
// this build run as a user would run it. Every pod the test applied is deleted through the CLI
// before the daemon stops.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "support/cni_test_network.h"
#include "support/peapodd_process.h"
#include "support/registry.h"
#include "support/sanitizer_report.h"
#include "support/temp_dir.h"

extern char** environ;

namespace peapod::testing {

struct CliResult {
  int exit_code = -1;
  std::string out;
  std::string err;
  std::string Describe() const {
    return "exit " + std::to_string(exit_code) + "\n--- stdout\n" + out + "--- stderr\n" + err;
  }
};

inline std::string CliBinary() { return PEAPOD_BINARY_DIR "/cli/peapod"; }

// Runs the CLI with `args` (no shell), stdin from `input`; waits for it.
inline CliResult RunCli(const std::vector<std::string>& args, const std::string& input = "") {
  TempDir io("peapod-cli-io");
  WriteFile(io / "in", input);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, (io / "in").c_str(), O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, (io / "out").c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0644);
  posix_spawn_file_actions_addopen(&actions, 2, (io / "err").c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0644);
  std::vector<std::string> argv_strings = {CliBinary()};
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_strings) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  CliResult result;
  int rc = ::posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    result.err = "posix_spawn " + CliBinary() + " failed: " + std::to_string(rc);
    return result;
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  result.out = ReadFile(io / "out");
  result.err = ReadFile(io / "err");
  // A sanitized CLI's report must fail the test even where the test expects the CLI to fail.
  ExpectNoSanitizerReport("peapod " + (args.empty() ? std::string() : args[0]), result.err);
  return result;
}

// Polls `done` every 200 ms until it holds or `limit` passes (a wait, never an assertion).
inline bool WaitUntil(const std::function<bool()>& done,
                      std::chrono::seconds limit = std::chrono::seconds(90)) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return done();
}

// A TCP port on 127.0.0.1 nobody listens on right now.
inline int FreeLoopbackPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    network_ = std::make_unique<CniTestNetwork>();
    network_->WriteConflist(network_->Conflist());
    StartDaemon();
    if (HasFatalFailure()) return;
    for (const char* image : {"busybox", "nginx", "etcd"}) {
      auto loaded = Cli({"load", "-i", TestImagesDir() + "/" + image + ".oci.tar"});
      ASSERT_EQ(loaded.exit_code, 0) << loaded.Describe();
    }
  }

  void TearDown() override {
    if (daemon_) {
      // Workloads first (their pods with them), or they would make their pods again.
      for (const char* kind : {"deployments", "statefulsets", "jobs", "daemonsets"}) {
        auto list = GetJson({"get", kind, "-A", "-o", "json"});
        if (!list.is_object()) continue;
        for (const auto& w : list.value("items", nlohmann::json::array())) {
          Cli({"delete", kind, w["metadata"]["name"].get<std::string>(), "-n",
               w["metadata"]["namespace"].get<std::string>()});
        }
      }
      // The controller would restart what CRI removes: delete the applied pods through it.
      auto pods = GetJson({"get", "pods", "-A", "-o", "json"});
      if (!pods.is_object()) pods = nlohmann::json::object();
      for (const auto& pod : pods.value("items", nlohmann::json::array())) {
        Cli({"delete", "pod", pod["metadata"]["name"].get<std::string>(), "-n",
             pod["metadata"]["namespace"].get<std::string>()});
      }
      daemon_->Stop();
      if (HasFailure()) std::cerr << "---- peapodd log ----\n" << daemon_->Log() << "\n";
    }
    daemon_.reset();
    network_.reset();
  }

  // Flags a suite adds to the daemon's command line.
  virtual std::vector<std::string> ExtraDaemonArgs() const { return {}; }
  // "NAME=value" a suite adds to the daemon's environment (test hooks).
  virtual std::vector<std::string> ExtraDaemonEnv() const { return {}; }

  void StartDaemon() {
    PeapoddOptions options;
    options.cni_conf_dir = network_->conf_dir();
    options.cni_plugin_dirs = {network_->plugin_dir(), "/usr/lib/cni"};
    options.extra_args = {"--backoff-initial", "1s",    "--backoff-max",  "4s",
                          "--relist-period",   "200ms", "--pod-log-root", logs_ / "pods"};
    for (const auto& arg : ExtraDaemonArgs()) options.extra_args.push_back(arg);
    options.extra_env = ExtraDaemonEnv();
    auto started = PeapoddProcess::Start(options);
    ASSERT_TRUE(started) << started.error().ToString();
    daemon_ = std::move(*started);
  }

  CliResult Cli(std::vector<std::string> args, const std::string& input = "") {
    args.insert(args.begin(), {"--socket", daemon_->socket_path()});
    return RunCli(args, input);
  }

  // `peapod <args>` printing JSON; null when it failed.
  nlohmann::json GetJson(const std::vector<std::string>& args) {
    auto r = Cli(args);
    if (r.exit_code != 0) return nullptr;
    return nlohmann::json::parse(r.out, nullptr, false);
  }

  nlohmann::json Pod(const std::string& name) {
    return GetJson({"get", "pod", name, "-o", "json"});
  }

  CliResult Apply(const std::string& yaml, const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args = {"apply", "-f", "-"};
    args.insert(args.end(), extra.begin(), extra.end());
    return Cli(args, yaml);
  }

  // The status of container `name` (app, init or sidecar); null when absent.
  static nlohmann::json ContainerStatus(const nlohmann::json& pod, const std::string& name) {
    if (!pod.is_object()) return nullptr;
    for (const char* key : {"containerStatuses", "initContainerStatuses"}) {
      for (const auto& s : pod["status"].value(key, nlohmann::json::array())) {
        if (s.value("name", "") == name) return s;
      }
    }
    return nullptr;
  }

  static bool PodReady(const nlohmann::json& pod) {
    if (!pod.is_object()) return false;
    for (const auto& c : pod["status"].value("conditions", nlohmann::json::array())) {
      if (c.value("type", "") == "Ready") return c.value("status", "") == "True";
    }
    return false;
  }

  static int RestartCount(const nlohmann::json& pod, const std::string& container) {
    auto s = ContainerStatus(pod, container);
    return s.is_object() ? s.value("restartCount", 0) : -1;
  }

  static std::string StateKind(const nlohmann::json& pod, const std::string& container) {
    auto s = ContainerStatus(pod, container);
    if (!s.is_object() || !s["state"].is_object() || s["state"].empty()) return "";
    return s["state"].begin().key();
  }

  bool WaitPodReady(const std::string& name, bool ready = true) {
    return WaitUntil([&] { return PodReady(Pod(name)) == ready; });
  }

  // Waits for `container` of pod `name` to be running; false at the deadline.
  bool WaitRunning(const std::string& name, const std::string& container) {
    return WaitUntil([&] { return StateKind(Pod(name), container) == "running"; });
  }

  TempDir logs_{"peapod-e2e-logs"};
  std::unique_ptr<CniTestNetwork> network_;
  std::unique_ptr<PeapoddProcess> daemon_;
};

}  // namespace peapod::testing
