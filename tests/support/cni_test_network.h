// Test fixtures for anything that runs real CNI plugins: a private network (conf dir, plugin
// dir for fake plugins, host-local dataDir, result cache, bridge "pptest<N>0" on 10.99.N.0/24),
// network namespaces made by the test, and a FORWARD rule that keeps test pods from reaching
// anything beyond their subnet. Everything is removed on destruction, also when a test fails.
#pragma once

#include <sys/types.h>

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "peapod/cni/types.h"
#include "support/temp_dir.h"

namespace peapod::testing {

// Runs a shell command and returns its stdout ("" when it could not run).
std::string CaptureShellOutput(const std::string& command);

// A named network namespace ("ip netns add"), deleted on destruction. lo is brought up.
class TestNetns {
 public:
  explicit TestNetns(std::string name);
  TestNetns(const TestNetns&) = delete;
  TestNetns& operator=(const TestNetns&) = delete;
  ~TestNetns();
  const std::string& name() const { return name_; }
  std::string path() const { return "/run/netns/" + name_; }
  // Deletes it now (e.g. to test DEL after the netns is gone).
  void Remove();
  // Runs `command` inside the namespace through "ip netns exec"; returns the exit status.
  int Exec(const std::string& command) const;

 private:
  std::string name_;
  bool alive_ = false;
};

// A process started inside a netns (argv run through "ip netns exec", which execs it, so the
// pid is the process's own). Killed by pid and reaped on destruction.
class NetnsProcess {
 public:
  NetnsProcess(const TestNetns& netns, const std::vector<std::string>& argv);
  NetnsProcess(const NetnsProcess&) = delete;
  NetnsProcess& operator=(const NetnsProcess&) = delete;
  ~NetnsProcess();
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
};

// While any instance lives, forwarded traffic from 10.99.0.0/16 to outside it is dropped.
class ForwardIsolation {
 public:
  ForwardIsolation();
  ~ForwardIsolation();
  ForwardIsolation(const ForwardIsolation&) = delete;
  ForwardIsolation& operator=(const ForwardIsolation&) = delete;
};

// portmap creates shared nat chains (CNI-HOSTPORT-DNAT, -MASQ, -SETMARK) and never removes
// them. Every live CniTestNetwork holds this shared; the last one out (exclusive lock) removes
// the chains when no hostPort rule is left in them.
class PortmapChainsCleanup {
 public:
  PortmapChainsCleanup();
  ~PortmapChainsCleanup();
  PortmapChainsCleanup(const PortmapChainsCleanup&) = delete;
  PortmapChainsCleanup& operator=(const PortmapChainsCleanup&) = delete;

 private:
  int fd_ = -1;
};

struct TestConflistOptions {
  bool portmap = true;
  // Fake plugins appended after bridge (and portmap), by type name.
  std::vector<std::string> extra_plugins;
  // Replaces the bridge+host-local+portmap chain with exactly these plugin types.
  std::vector<std::string> only_plugins;
  std::string cni_version = "1.0.0";
};

class CniTestNetwork {
 public:
  CniTestNetwork();
  CniTestNetwork(const CniTestNetwork&) = delete;
  CniTestNetwork& operator=(const CniTestNetwork&) = delete;
  // DELs every sandbox handed out by NewSandboxId (through the cache), then removes the
  // bridge, leftover netns, leases and directories.
  ~CniTestNetwork();

  int index() const { return index_; }
  const std::string& network_name() const { return network_name_; }
  const std::string& bridge() const { return bridge_; }
  std::string subnet() const { return "10.99." + std::to_string(index_) + ".0/24"; }
  std::string conf_dir() const { return root_ / "net.d"; }
  std::string plugin_dir() const { return root_ / "bin"; }
  std::string ipam_data_dir() const { return root_ / "ipam"; }
  std::string cache_dir() const { return root_ / "cache"; }

  // Options for a CniClient on this network: fake plugin dir first, then /usr/lib/cni.
  peapod::cni::CniOptions Options() const;
  std::string Conflist(const TestConflistOptions& options = {}) const;
  // Writes into conf_dir (default name 10-test.conflist).
  void WriteConflist(const std::string& text, const std::string& file = "10-test.conflist") const;
  void ClearConfDir() const;
  // A shell-script plugin in plugin_dir().
  void AddFakePlugin(const std::string& type, const std::string& script_body) const;

  // A unique sandbox id, remembered so the destructor can DEL it.
  std::string NewSandboxId();
  std::unique_ptr<TestNetns> NewNetns();
  peapod::cni::PodNetwork Pod(const std::string& sandbox_id, const TestNetns& netns) const;

  // host-local's lease files (one per leased IP) under ipam_data_dir().
  std::vector<std::string> Leases() const;
  // Interfaces enslaved to this test's bridge (the host ends of pod veths).
  std::vector<std::string> BridgePorts() const;

 private:
  PortmapChainsCleanup portmap_chains_;
  ForwardIsolation isolation_;
  int index_ = 0;
  int lock_fd_ = -1;
  TempDir root_{"peapod-cni"};
  std::string network_name_;
  std::string bridge_;
  std::vector<std::string> sandboxes_;
  std::vector<std::string> netns_names_;
  int next_id_ = 0;
};

}  // namespace peapod::testing
