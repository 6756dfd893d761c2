// A pod for runtime tests: a real sandbox (pause in fresh namespaces) in a temporary run dir,
// containers from the busybox root filesystem, and CRI logs drained by a LogCollector.
// Everything it made is torn down in the destructor, also when a test fails halfway.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "peapod/runtime/container.h"
#include "peapod/runtime/sandbox.h"
#include "support/temp_dir.h"

namespace peapod::testing {

class PodFixture {
 public:
  explicit PodFixture(runtime::SandboxSpec overrides = {});
  ~PodFixture();

  runtime::Sandbox& sandbox() { return *sandbox_; }
  const std::string& root() const { return dir_.path(); }

  // A spec for a container of this pod running `command` with busybox's sh -c.
  runtime::ContainerSpec Spec(const std::string& name, const std::string& command,
                              runtime::PidMode pid_mode = runtime::PidMode::kContainer);
  // Creates and starts; the container is destroyed with the fixture.
  runtime::Container& Run(runtime::ContainerSpec spec);
  runtime::ExitStatus WaitExit(runtime::Container& c,
                               std::chrono::milliseconds timeout = std::chrono::seconds(20));
  std::string Log(const runtime::Container& c) const { return ReadFile(c.spec().log_path); }
  runtime::LogCollector& logs() { return logs_; }
  void Forget(runtime::Container& c);  // drops the object without stopping the process

 private:
  TempDir dir_;
  runtime::LogCollector logs_;
  std::unique_ptr<runtime::Sandbox> sandbox_;
  std::vector<std::unique_ptr<runtime::Container>> containers_;
};

// Processes whose parent is `ppid` and whose state is zombie.
std::vector<int> ZombieChildren(int ppid);
// Inode of /proc/<pid>/ns/<name>.
unsigned long NamespaceInode(int pid, const std::string& name);

}  // namespace peapod::testing
