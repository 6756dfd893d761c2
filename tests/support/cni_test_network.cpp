#include "support/cni_test_network.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <mutex>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "peapod/cni/cni_client.h"

extern char** environ;

namespace peapod::testing {

namespace {

using nlohmann::json;

constexpr const char* kLockDir = "/run/peapod-cni-test";
constexpr const char* kIsolationRule =
    "FORWARD -s 10.99.0.0/16 ! -d 10.99.0.0/16 -m comment --comment peapod-cni-test -j DROP";

std::mutex isolation_mutex;
int isolation_refs = 0;

// A free slot 1..250 held by flock, so parallel test binaries get different subnets and
// bridges; the kernel drops the lock if the process dies.
int AcquireSlot(int& fd_out) {
  ::mkdir(kLockDir, 0755);
  for (int i = 1; i <= 250; ++i) {
    std::string path = std::string(kLockDir) + "/" + std::to_string(i) + ".lock";
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) continue;
    if (::flock(fd, LOCK_EX | LOCK_NB) == 0) {
      fd_out = fd;
      return i;
    }
    ::close(fd);
  }
  throw std::runtime_error("no free CNI test slot");
}

}  // namespace

std::string CaptureShellOutput(const std::string& command) {
  std::string out;
  FILE* p = ::popen(command.c_str(), "re");
  if (p == nullptr) return out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  ::pclose(p);
  return out;
}

TestNetns::TestNetns(std::string name) : name_(std::move(name)) {
  if (RunShell("ip netns add " + name_) != 0) throw std::runtime_error("ip netns add " + name_);
  alive_ = true;
  RunShell("ip netns exec " + name_ + " ip link set lo up");
}

TestNetns::~TestNetns() { Remove(); }

void TestNetns::Remove() {
  if (!alive_) return;
  RunShell("ip netns del " + name_ + " 2>/dev/null");
  alive_ = false;
}

int TestNetns::Exec(const std::string& command) const {
  return RunShell("ip netns exec " + name_ + " " + command);
}

NetnsProcess::NetnsProcess(const TestNetns& netns, const std::vector<std::string>& argv) {
  std::vector<std::string> full = {"/usr/sbin/ip", "netns", "exec", netns.name()};
  if (::access(full[0].c_str(), X_OK) != 0) full[0] = "/sbin/ip";
  full.insert(full.end(), argv.begin(), argv.end());
  std::vector<char*> cargv;
  for (auto& a : full) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  if (::posix_spawn(&pid_, cargv[0], nullptr, nullptr, cargv.data(), environ) != 0) {
    throw std::runtime_error("spawn " + argv.at(0) + " in " + netns.name());
  }
}

NetnsProcess::~NetnsProcess() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, nullptr, 0);
}

ForwardIsolation::ForwardIsolation() {
  std::lock_guard lock(isolation_mutex);
  if (isolation_refs++ > 0) return;
  if (RunShell(std::string("iptables -w -I ") + kIsolationRule) != 0) {
    --isolation_refs;
    throw std::runtime_error("cannot install test FORWARD isolation rule");
  }
}

ForwardIsolation::~ForwardIsolation() {
  std::lock_guard lock(isolation_mutex);
  if (--isolation_refs > 0) return;
  RunShell(std::string("iptables -w -D ") + kIsolationRule + " 2>/dev/null");
}

namespace {

void RemovePortmapChains(const std::string& tool) {
  std::string dnat = CaptureShellOutput(tool + " -w -t nat -S CNI-HOSTPORT-DNAT 2>/dev/null");
  if (dnat.empty() || dnat.find("-A CNI-HOSTPORT-DNAT") != std::string::npos) return;
  std::string save = CaptureShellOutput(tool + "-save -t nat 2>/dev/null");
  size_t pos = 0;
  while (pos < save.size()) {
    size_t end = save.find('\n', pos);
    if (end == std::string::npos) end = save.size();
    std::string line = save.substr(pos, end - pos);
    pos = end + 1;
    bool builtin = line.starts_with("-A PREROUTING ") || line.starts_with("-A OUTPUT ") ||
                   line.starts_with("-A POSTROUTING ");
    if (builtin && line.find("-j CNI-HOSTPORT-") != std::string::npos) {
      RunShell(tool + " -w -t nat -D " + line.substr(3) + " 2>/dev/null");
    }
  }
  for (const char* chain : {"CNI-HOSTPORT-DNAT", "CNI-HOSTPORT-MASQ", "CNI-HOSTPORT-SETMARK"}) {
    RunShell(tool + " -w -t nat -F " + chain + " 2>/dev/null");
    RunShell(tool + " -w -t nat -X " + chain + " 2>/dev/null");
  }
}

}  // namespace

PortmapChainsCleanup::PortmapChainsCleanup() {
  ::mkdir(kLockDir, 0755);
  fd_ =
      ::open((std::string(kLockDir) + "/portmap.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd_ >= 0) ::flock(fd_, LOCK_SH);
}

PortmapChainsCleanup::~PortmapChainsCleanup() {
  if (fd_ < 0) return;
  if (::flock(fd_, LOCK_EX | LOCK_NB) == 0) {
    RemovePortmapChains("iptables");
    RemovePortmapChains("ip6tables");
  }
  ::close(fd_);
}

CniTestNetwork::CniTestNetwork() {
  index_ = AcquireSlot(lock_fd_);
  network_name_ = "pptest" + std::to_string(index_);
  bridge_ = "pptest" + std::to_string(index_) + "0";
  for (const auto& dir : {conf_dir(), plugin_dir(), ipam_data_dir(), cache_dir()}) {
    std::filesystem::create_directories(dir);
  }
  // A bridge left by a crashed earlier run of this slot would carry stale state.
  RunShell("ip link del " + bridge_ + " 2>/dev/null");
}

CniTestNetwork::~CniTestNetwork() {
  auto client = peapod::cni::CniClient::Create(Options());
  if (client) {
    for (const auto& id : sandboxes_) {
      peapod::cni::PodNetwork pod;
      pod.sandbox_id = id;
      (void)(*client)->Del(pod);
    }
  }
  for (const auto& ns : netns_names_) RunShell("ip netns del " + ns + " 2>/dev/null");
  RunShell("ip link del " + bridge_ + " 2>/dev/null");
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

peapod::cni::CniOptions CniTestNetwork::Options() const {
  peapod::cni::CniOptions o;
  o.conf_dir = conf_dir();
  o.plugin_dirs = {plugin_dir(), "/usr/lib/cni"};
  o.cache_dir = cache_dir();
  o.plugin_timeout = std::chrono::seconds(30);
  return o;
}

std::string CniTestNetwork::Conflist(const TestConflistOptions& options) const {
  json plugins = json::array();
  if (!options.only_plugins.empty()) {
    for (const auto& t : options.only_plugins) plugins.push_back({{"type", t}});
  } else {
    plugins.push_back({{"type", "bridge"},
                       {"bridge", bridge_},
                       {"isGateway", true},
                       {"ipMasq", false},
                       {"hairpinMode", true},
                       {"ipam",
                        {{"type", "host-local"},
                         {"dataDir", ipam_data_dir()},
                         {"ranges", json::array({json::array({{{"subnet", subnet()}}})})},
                         {"routes", json::array({{{"dst", "0.0.0.0/0"}}})}}}});
    if (options.portmap) {
      plugins.push_back(
          {{"type", "portmap"}, {"capabilities", {{"portMappings", true}}}, {"snat", true}});
    }
    for (const auto& t : options.extra_plugins) plugins.push_back({{"type", t}});
  }
  json list = {{"cniVersion", options.cni_version}, {"name", network_name_}, {"plugins", plugins}};
  return list.dump(2);
}

void CniTestNetwork::WriteConflist(const std::string& text, const std::string& file) const {
  WriteFile(conf_dir() + "/" + file, text);
}

void CniTestNetwork::ClearConfDir() const {
  for (const auto& e : std::filesystem::directory_iterator(conf_dir())) {
    std::filesystem::remove(e.path());
  }
}

void CniTestNetwork::AddFakePlugin(const std::string& type, const std::string& script_body) const {
  std::string path = plugin_dir() + "/" + type;
  WriteFile(path, "#!/bin/sh\n" + script_body + "\n");
  ::chmod(path.c_str(), 0755);
}

std::string CniTestNetwork::NewSandboxId() {
  std::string id = "pptest" + std::to_string(index_) + "-" + std::to_string(::getpid()) + "-" +
                   std::to_string(next_id_++);
  sandboxes_.push_back(id);
  return id;
}

std::unique_ptr<TestNetns> CniTestNetwork::NewNetns() {
  std::string name = "pptest" + std::to_string(index_) + "-" + std::to_string(netns_names_.size());
  netns_names_.push_back(name);
  RunShell("ip netns del " + name + " 2>/dev/null");
  return std::make_unique<TestNetns>(name);
}

peapod::cni::PodNetwork CniTestNetwork::Pod(const std::string& sandbox_id,
                                            const TestNetns& netns) const {
  peapod::cni::PodNetwork pod;
  pod.sandbox_id = sandbox_id;
  pod.netns_path = netns.path();
  pod.pod_name = "pod-" + sandbox_id;
  pod.pod_namespace = "default";
  pod.pod_uid = "uid-" + sandbox_id;
  return pod;
}

std::vector<std::string> CniTestNetwork::Leases() const {
  std::vector<std::string> leases;
  std::string dir = ipam_data_dir() + "/" + network_name_;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    std::string name = e.path().filename();
    if (name == "lock" || name.starts_with("last_reserved_ip")) continue;
    leases.push_back(name);
  }
  return leases;
}

std::vector<std::string> CniTestNetwork::BridgePorts() const {
  std::vector<std::string> ports;
  std::string out = CaptureShellOutput("ip -o link show master " + bridge_ + " 2>/dev/null");
  size_t pos = 0;
  while (pos < out.size()) {
    size_t end = out.find('\n', pos);
    if (end == std::string::npos) end = out.size();
    std::string line = out.substr(pos, end - pos);
    // "7: vethabc@if2: <...>"
    size_t a = line.find(": ");
    size_t b = a == std::string::npos ? a : line.find_first_of("@:", a + 2);
    if (b != std::string::npos) ports.push_back(line.substr(a + 2, b - a - 2));
    pos = end + 1;
  }
  return ports;
}

}  // namespace peapod::testing
