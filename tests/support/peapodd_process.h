// A real peapodd for CRI tests: the daemon this build made (PEAPOD_BINARY_DIR/cri/peapodd),
// started with private state/run roots and socket under a temporary directory and the test's
// CNI network, plus gRPC stubs connected to it. Stop() (also run by the destructor) removes
// every pod the daemon still lists, stops the daemon by pid and kills whatever it left behind.
#pragma once

#include <unistd.h>

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "cri/proto/api.grpc.pb.h"
#include "peapod/error.h"
#include "support/cgroup_support.h"
#include "support/temp_dir.h"

namespace peapod::testing {

struct PeapoddOptions {
  std::string cni_conf_dir;
  std::vector<std::string> cni_plugin_dirs = {"/usr/lib/cni"};
  std::vector<std::string> extra_args;  // e.g. {"--runtime-handler", "fast"}
  // "NAME=value" added to the daemon's environment (test hooks such as
  // PEAPOD_TEST_IMAGE_GC_PERIOD), kept across Restart.
  std::vector<std::string> extra_env;
};

class PeapoddProcess {
 public:
  // Starts the daemon and waits (up to 20 s) until its socket accepts connections.
  static Result<std::unique_ptr<PeapoddProcess>> Start(const PeapoddOptions& options);
  PeapoddProcess(const PeapoddProcess&) = delete;
  PeapoddProcess& operator=(const PeapoddProcess&) = delete;
  ~PeapoddProcess();

  // Removes the pods it lists, SIGTERMs the daemon (SIGKILL after 10 s), reaps it, and kills
  // any child it left (pause processes). Idempotent.
  void Stop();

  // Sends `signo` to the daemon and reaps it (SIGKILL after 10 s); returns its wait status.
  // Pods are left as the daemon leaves them. A sanitizer report in its log (a sanitized build's
  // daemon, or a child it forked, found a leak or undefined behaviour) fails the test.
  int Terminate(int signo);
  // Starts a new daemon on the same roots, socket and flags (after Terminate), with
  // `extra_env` ("NAME=value", e.g. "PEAPOD_CRASH_AT=sandbox-after-pause") added to its
  // environment.
  Status Restart(const std::vector<std::string>& extra_env = {});

  // What the daemon's pods left on the node, one line each: mounts under the roots (namespace
  // pins, rootfs), pause processes whose ledger is under the run root, pod cgroups under the
  // cgroup parent, CNI result cache entries, container dirs and records. Empty when clean.
  std::vector<std::string> Leftovers() const;

  static std::string BinaryPath();
  pid_t pid() const { return pid_; }
  const std::string& socket_path() const { return socket_path_; }
  std::string cgroup_parent() const { return "peapod-cri-test-" + std::to_string(::getpid()); }
  std::string socket_dir() const { return root_ / "sock"; }
  std::string state_root() const { return root_ / "state"; }
  std::string run_root() const { return root_ / "run"; }
  std::string log_dir() const { return root_ / "logs"; }
  // The daemon's stderr so far (for failure messages).
  std::string Log() const;

  ::runtime::v1::RuntimeService::Stub& runtime() { return *runtime_; }
  ::runtime::v1::ImageService::Stub& images() { return *images_; }

 private:
  PeapoddProcess() = default;
  std::vector<std::string> env_;  // PeapoddOptions::extra_env
  Status Launch(const std::vector<std::string>& extra_env = {});
  // Fails the test on a sanitizer report in the part of the log not checked yet.
  void CheckLogForSanitizerReports(pid_t pid);

  RootSubtreeControlRestorer restore_root_;  // first: restored after the daemon's cgroups are gone
  TempDir root_{"peapod-cri"};
  std::string socket_path_;
  std::vector<std::string> args_;
  pid_t pid_ = -1;
  size_t log_checked_ = 0;  // bytes of peapodd.log already searched for sanitizer reports
  std::unique_ptr<::runtime::v1::RuntimeService::Stub> runtime_;
  std::unique_ptr<::runtime::v1::ImageService::Stub> images_;
};

}  // namespace peapod::testing
