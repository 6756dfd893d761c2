#include "support/pod_fixture.h"

#include <dirent.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>

#include <fstream>
#include <sstream>
#include <stdexcept>

namespace peapod::testing {

PodFixture::PodFixture(runtime::SandboxSpec spec) : dir_("peapod-pod") {
  // As in the agent: orphans of host-PID containers come back to us, not to the host's init.
  ::prctl(PR_SET_CHILD_SUBREAPER, 1);
  if (spec.id.empty()) spec.id = "pod-" + std::to_string(::getpid());
  spec.run_dir = dir_.path() + "/run";
  if (spec.pause_binary.empty()) spec.pause_binary = PEAPOD_PAUSE_BINARY;
  auto sandbox = runtime::Sandbox::Start(spec);
  if (!sandbox) throw std::runtime_error("start sandbox: " + sandbox.error().ToString());
  sandbox_ = std::move(*sandbox);
}

PodFixture::~PodFixture() {
  for (auto& c : containers_) {
    if (!c) continue;
    (void)c->Stop(SIGKILL, std::chrono::seconds(0));
    (void)c->Wait(std::chrono::seconds(5));
    (void)c->Destroy();
  }
  if (sandbox_) (void)sandbox_->Destroy();
}

runtime::ContainerSpec PodFixture::Spec(const std::string& name, const std::string& command,
                                        runtime::PidMode pid_mode) {
  runtime::ContainerSpec spec;
  spec.id = name;
  spec.rootfs = BusyboxRootfs();
  spec.net_ns = sandbox_->NamespacePath(runtime::Namespace::kNetwork);
  spec.ipc_ns = sandbox_->NamespacePath(runtime::Namespace::kIpc);
  spec.uts_ns = sandbox_->NamespacePath(runtime::Namespace::kUts);
  spec.pid_ns = sandbox_->NamespacePath(runtime::Namespace::kPid);
  spec.pid_mode = pid_mode;
  spec.args = {"sh", "-c", command};
  spec.env = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root"};
  spec.run_dir = sandbox_->spec().run_dir;
  spec.ledger_path = sandbox_->LedgerPath();
  spec.log_path = dir_.path() + "/logs/" + name + ".log";
  // The busybox tree is shared by every test: give each container a private /tmp.
  spec.mounts.push_back({"/tmp", "tmpfs", "tmpfs", "mode=1777", false, {}});
  return spec;
}

runtime::Container& PodFixture::Run(runtime::ContainerSpec spec) {
  auto c = runtime::Container::Create(std::move(spec), &logs_);
  if (!c) throw std::runtime_error("create: " + c.error().ToString());
  auto started = (*c)->Start();
  if (!started) throw std::runtime_error("start: " + started.error().ToString());
  containers_.push_back(std::move(*c));
  return *containers_.back();
}

runtime::ExitStatus PodFixture::WaitExit(runtime::Container& c,
                                         std::chrono::milliseconds timeout) {
  auto status = c.Wait(timeout);
  if (!status) throw std::runtime_error("wait: " + status.error().ToString());
  if (!*status) throw std::runtime_error("container " + c.spec().id + " did not exit in time");
  return **status;
}

void PodFixture::Forget(runtime::Container& c) {
  for (auto& owned : containers_) {
    if (owned.get() == &c) owned.reset();
  }
}

std::vector<int> ZombieChildren(int ppid) {
  std::vector<int> zombies;
  DIR* proc = ::opendir("/proc");
  while (dirent* e = proc ? ::readdir(proc) : nullptr) {
    int pid = std::atoi(e->d_name);
    if (pid <= 0) continue;
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string content((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
    auto close = content.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(content.substr(close + 2));
    char state;
    int parent;
    rest >> state >> parent;
    if (parent == ppid && state == 'Z') zombies.push_back(pid);
  }
  if (proc) ::closedir(proc);
  return zombies;
}

unsigned long NamespaceInode(int pid, const std::string& name) {
  struct stat st {};
  std::string path = "/proc/" + std::to_string(pid) + "/ns/" + name;
  if (::stat(path.c_str(), &st) != 0) return 0;
  return st.st_ino;
}

}  // namespace peapod::testing
