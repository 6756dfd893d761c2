// Cgroups for pods and containers (cgroupfs driver): where each controller lives (v1, v2 or the
// hybrid of both), per-pod and per-container cgroups, resource limits, stats, OOM and clean-up.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "peapod/error.h"

namespace peapod::runtime {

enum class CgroupVersion { kV1, kV2 };

// One mounted cgroup hierarchy that holds at least one controller peapod uses (on a hybrid host
// the v2 hierarchy is kept even without controllers: it gives cgroup.kill and exact membership).
struct CgroupHierarchy {
  CgroupVersion version = CgroupVersion::kV1;
  std::string mount_point;       // e.g. /sys/fs/cgroup/memory or /sys/fs/cgroup
  std::string mount_root = "/";  // the hierarchy path seen at mount_point (mountinfo field 4)
  std::vector<std::string> controllers;  // the controllers of ours it holds ("cpu", "memory", ...)
  // v1: what names the hierarchy to mount(2): its controllers and name= ("cpu,cpuacct",
  // "name=systemd"), as the host mounted it. Empty on v2.
  std::string mount_options;
};

// Inputs of detection, injectable so tests can describe any host (pure v1, pure v2, hybrid).
struct CgroupDetectSources {
  std::string mountinfo;     // text of /proc/self/mountinfo
  std::string proc_cgroups;  // text of /proc/cgroups ("" = every controller assumed enabled)
  // cgroup.controllers at the root of the v2 mount; nullopt = read it from the mount found.
  std::optional<std::string> v2_root_controllers;
};

// CgroupDriver: which hierarchy each controller peapod uses lives in, detected per controller.
// Controllers used: cpu, cpuacct (v1 only; v2 reads cpu.stat), cpuset, memory, pids, hugetlb,
// and the v1 "name=systemd" hierarchy where the host has one: a container sees its own cgroup
// there, which systemd in a container needs on a v1 or hybrid host.
class CgroupDriver {
 public:
  // Reads /proc/self/mountinfo, /proc/cgroups and the v2 root's cgroup.controllers.
  static Result<CgroupDriver> Detect();
  static Result<CgroupDriver> FromSources(const CgroupDetectSources& sources);
  // Only the v2 hierarchy mounted at `mount_point` (as on a pure-v2 host); tests point it at a
  // second mount of the unified hierarchy.
  static Result<CgroupDriver> ForUnifiedMount(const std::string& mount_point);

  // The hierarchy that holds `controller`, or nullptr when it is not available on this host.
  const CgroupHierarchy* HierarchyFor(std::string_view controller) const;
  const std::vector<CgroupHierarchy>& hierarchies() const { return hierarchies_; }
  // The v2 hierarchy when one is mounted (with or without controllers), else nullptr.
  const CgroupHierarchy* Unified() const;
  // "cpu=v1:/sys/fs/cgroup/cpu memory=v1:... hugetlb=v2:/sys/fs/cgroup/unified", for logs.
  std::string Describe() const;

 private:
  std::vector<CgroupHierarchy> hierarchies_;
};

// One step of giving a container its own cgroups at /sys/fs/cgroup, taken inside its cgroup
// namespace (where a cgroup mount shows the namespace's root, the container's own cgroup).
struct CgroupMountStep {
  enum class Kind { kTmpfs, kCgroup1, kCgroup2, kSymlink };
  Kind kind = Kind::kTmpfs;
  std::string target;  // absolute inside the container
  // kCgroup1: the hierarchy's mount options ("memory", "cpu,cpuacct", "name=systemd");
  // kSymlink: what the link points to ("cpu,cpuacct").
  std::string data;
};

// The host's layout, as runc mounts it: on pure v2 cgroup2 at /sys/fs/cgroup; on v1 or hybrid a
// tmpfs there, one cgroup mount per hierarchy of the driver under the host's directory name
// (cpu,cpuacct, memory, systemd, unified for the v2 one) and a symlink per controller of a
// co-mounted hierarchy (cpu -> cpu,cpuacct). Mounted in that order.
std::vector<CgroupMountStep> ContainerCgroupMounts(const CgroupDriver& driver);

struct Resources {
  std::optional<uint64_t> cpu_shares;     // v1 cpu.shares; v2 cpu.weight via SharesToWeight
  std::optional<int64_t> cpu_quota_us;    // <= 0 means no quota ("max")
  std::optional<uint64_t> cpu_period_us;  // default 100000 when only a quota is given
  std::string cpuset_cpus;                // "" = inherit
  std::string cpuset_mems;
  // <= 0 means unlimited. Swap is never granted: memory+swap is set to the same limit
  // (v1 memory.memsw.limit_in_bytes when present, v2 memory.swap.max=0), as Kubernetes does.
  std::optional<int64_t> memory_limit_bytes;
  std::optional<int64_t> pids_limit;                // <= 0 means unlimited ("max")
  std::map<std::string, uint64_t> hugepage_limits;  // CRI page size ("2MB", "1GB") -> bytes
  std::map<std::string, std::string> unified;       // v2 only: raw file name -> value
};

// Kubernetes/runc conversion of cpu.shares [2, 262144] to cpu.weight [1, 10000].
uint64_t CpuSharesToWeight(uint64_t shares);

// One line of a cgroup v2 <resource>.pressure file (pressure stall information).
struct PsiData {
  uint64_t total_us = 0;  // cumulative stall time, microseconds as the file says
  double avg10 = 0;       // percent of the last 10 s
  double avg60 = 0;
  double avg300 = 0;
};

struct PsiStats {
  PsiData some;                 // at least one task stalled
  std::optional<PsiData> full;  // all tasks stalled; cpu.pressure has it from Linux 5.13
};

// "some avg10=0.12 avg60=0.05 avg300=0.00 total=1234\nfull avg10=... total=..." -> PsiStats;
// nullopt when there is no well-formed "some" line.
std::optional<PsiStats> ParsePressure(std::string_view text);

struct CgroupStats {
  std::optional<uint64_t> cpu_usage_ns;
  std::optional<uint64_t> cpu_nr_periods;
  std::optional<uint64_t> cpu_nr_throttled;
  std::optional<uint64_t> cpu_throttled_ns;
  std::optional<uint64_t> memory_usage_bytes;
  // usage minus inactive_file (never negative), what kubelet evicts and reports on.
  std::optional<uint64_t> memory_working_set_bytes;
  std::optional<uint64_t> memory_rss_bytes;
  std::optional<uint64_t> memory_page_faults;        // pgfault (v2) / total_pgfault (v1)
  std::optional<uint64_t> memory_major_page_faults;  // pgmajfault / total_pgmajfault
  std::optional<uint64_t> memory_limit_bytes;        // absent when unlimited
  std::optional<uint64_t> oom_kills;
  std::optional<uint64_t> pids_current;
  // From the v2 hierarchy, whichever hierarchy holds the controller (PSI is accounted per v2
  // cgroup); absent on a host without a v2 hierarchy or with PSI off (psi=0).
  std::optional<PsiStats> cpu_pressure;
  std::optional<PsiStats> memory_pressure;
  std::optional<PsiStats> io_pressure;
};

// Fills the memory figures of `out` from the memory controller's files: `usage` is memory.current
// (v2) or memory.usage_in_bytes (v1), `stat` memory.stat, `limit` memory.max or
// memory.limit_in_bytes; an empty text is a file that could not be read.
void FillMemoryStats(CgroupVersion version, std::string_view usage, std::string_view stat,
                     std::string_view limit, CgroupStats& out);

// Cgroup: one cgroup path (e.g. /peapod/pod-1/c1) in every hierarchy peapod uses. A plain handle:
// destroying it removes nothing, since pods outlive the agent; call Remove().
class Cgroup {
 public:
  Cgroup(std::shared_ptr<const CgroupDriver> driver, std::string path);

  const std::string& path() const { return path_; }
  const CgroupDriver& driver() const { return *driver_; }
  // Directory of this cgroup in `hierarchy` (mount point + path relative to the mount's root).
  std::string DirIn(const CgroupHierarchy& hierarchy) const;
  // Directory in the hierarchy holding `controller`; empty when the controller is unavailable.
  std::string DirFor(std::string_view controller) const;

  // Writes every limit that is set. Apply is for a new cgroup, Update for a live one; both order
  // memory and memory+swap writes so that raising and lowering both succeed. Update is all or
  // nothing: a memory limit below the working set is refused (kFailedPrecondition) before any
  // write, and any failing write puts back every file already written.
  Status Apply(const Resources& resources);
  Status Update(const Resources& resources);

  // Hands the cgroup to `uid`/`gid` (host ids) as the kernel's delegation model says: the root
  // of a pod's user namespace may then manage cgroups below it (systemd in a container).
  Status DelegateTo(uid_t uid, gid_t gid) const;
  // Moves `pid` (all its threads) into this cgroup in every hierarchy.
  Status AddProcess(pid_t pid);
  // Processes in this cgroup (not in its children), read from the first hierarchy.
  Result<std::vector<pid_t>> Processes() const;
  // Processes in this cgroup and every cgroup below it (a systemd container's units).
  Result<std::vector<pid_t>> ProcessesRecursive() const;
  // Sends `signal` to every process in this cgroup and its children.
  Status KillAll(int signal);

  // oom_kill count from memory.events (v2) or memory.oom_control (v1, kernel >= 4.13).
  Result<uint64_t> OomKillCount() const;
  // True when the oom_kill counter is above `baseline` (take the baseline at container start).
  Result<bool> OomKilled(uint64_t baseline = 0) const;

  Result<CgroupStats> Stats() const;

  // Kills every process left in this cgroup and its children (cgroup.kill where the kernel has it,
  // else SIGKILL to each pid until empty, bounded), then removes the directories, deepest first,
  // in every hierarchy. Missing directories are fine.
  Status Remove();

 private:
  Status ApplyAll(const Resources& resources);

  std::shared_ptr<const CgroupDriver> driver_;
  std::string path_;  // absolute within the hierarchies, e.g. "/peapod/pod-1/c1"
};

struct CgroupManagerOptions {
  // Parent of every pod cgroup: "peapod", or CRI's cgroup_parent ("/kubepods/besteffort/pod<uid>").
  // Always taken from the hierarchy root (cgroupfs driver), with or without the leading '/'.
  std::string parent = "peapod";
  // pids.max for each pod cgroup unless the pod asks otherwise (Kubernetes' podPidsLimit); <= 0
  // off.
  int64_t default_pod_pids_limit = 0;
};

// CgroupManager: makes <parent>/pod-<id> and <parent>/pod-<id>/<container id>, creating the
// directories in every hierarchy, copying cpuset.cpus/mems down on v1 and enabling controllers in
// cgroup.subtree_control of the ancestors on v2. On v2 a pod cgroup with children cannot hold
// processes itself, so put the pause process in a container cgroup of its own (sandbox id).
class CgroupManager {
 public:
  CgroupManager(std::shared_ptr<const CgroupDriver> driver, CgroupManagerOptions options);
  static Result<CgroupManager> Create(CgroupManagerOptions options);  // with Detect()

  const CgroupDriver& driver() const { return *driver_; }
  std::string PodPath(std::string_view pod_id) const;  // "/peapod/pod-<id>"
  std::string ContainerPath(std::string_view pod_id, std::string_view container_id) const;

  // Creates (or reuses) the pod cgroup and applies `resources` plus the default pids limit.
  Result<Cgroup> CreatePod(std::string_view pod_id, const Resources& resources = {});
  // Creates the container cgroup under an existing pod cgroup and applies `resources`.
  // On failure nothing new is left behind.
  Result<Cgroup> CreateContainer(std::string_view pod_id, std::string_view container_id,
                                 const Resources& resources = {});
  // Handles for existing cgroups (re-adoption after an agent restart); nothing is created.
  Cgroup Pod(std::string_view pod_id) const;
  Cgroup Container(std::string_view pod_id, std::string_view container_id) const;

  // Removes pod-<id> cgroups under the parent whose id is not in `known_pod_ids`, killing what
  // is left in them. Returns the ids removed. Errors on single pods are logged and skipped.
  Result<std::vector<std::string>> SweepUnknownPods(const std::set<std::string>& known_pod_ids);

 private:
  Status CreateDirs(const std::string& path, std::vector<std::string>* created) const;

  std::shared_ptr<const CgroupDriver> driver_;
  CgroupManagerOptions options_;
  std::string parent_;  // normalised: "/peapod"
};

}  // namespace peapod::runtime
