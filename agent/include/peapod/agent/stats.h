// The CRI stats and metrics the managers answer with (ContainerStats, PodSandboxStats,
// ListPodSandboxMetrics), as plain structs shaped like api.proto's, plus the pure pieces they are
// computed with: /proc/net/dev parsing, the CPU rate kept per object, the cadvisor-like metrics.
// Times are nanoseconds since the epoch; an unset optional is a figure this host cannot give.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "peapod/agent/cri_types.h"
#include "peapod/runtime/cgroup.h"

namespace peapod::agent {

struct CpuUsage {
  int64_t timestamp = 0;
  std::optional<uint64_t> usage_core_nano_seconds;  // cumulative
  std::optional<uint64_t> usage_nano_cores;         // rate since the previous sample
  std::optional<runtime::PsiStats> psi;             // cpu.pressure (KEP-4205)
};

struct MemoryUsage {
  int64_t timestamp = 0;
  std::optional<uint64_t> working_set_bytes;
  std::optional<uint64_t> available_bytes;  // limit minus working set; only under a limit
  std::optional<uint64_t> usage_bytes;
  std::optional<uint64_t> rss_bytes;
  std::optional<uint64_t> page_faults;
  std::optional<uint64_t> major_page_faults;
  std::optional<runtime::PsiStats> psi;  // memory.pressure
};

// CRI's IoUsage holds only the io.pressure figures (KEP-4205).
struct IoUsage {
  int64_t timestamp = 0;
  runtime::PsiStats psi;
};

struct FilesystemUsage {
  int64_t timestamp = 0;
  std::string mountpoint;  // fs_id.mountpoint: the image filesystem, as in ImageFsInfo
  std::optional<uint64_t> used_bytes;
  std::optional<uint64_t> inodes_used;
};

struct ContainerAttributes {
  std::string id;
  ContainerMetadata metadata;
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;
};

struct ContainerStats {
  ContainerAttributes attributes;
  std::optional<CpuUsage> cpu;        // only while the container has a live cgroup
  std::optional<MemoryUsage> memory;  // likewise
  std::optional<FilesystemUsage> writable_layer;
  std::optional<IoUsage> io;  // only where the kernel gives io.pressure for the cgroup
};

struct NetworkInterfaceUsage {
  std::string name;
  uint64_t rx_bytes = 0;
  uint64_t rx_errors = 0;
  uint64_t tx_bytes = 0;
  uint64_t tx_errors = 0;
};

struct NetworkUsage {
  int64_t timestamp = 0;
  std::optional<NetworkInterfaceUsage> default_interface;  // eth0, the CNI interface
  std::vector<NetworkInterfaceUsage> interfaces;           // every other one but lo
};

struct ProcessUsage {
  int64_t timestamp = 0;
  std::optional<uint64_t> process_count;
};

struct PodSandboxAttributes {
  std::string id;
  PodSandboxMetadata metadata;
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;
};

struct PodSandboxStats {
  PodSandboxAttributes attributes;
  std::optional<CpuUsage> cpu;
  std::optional<MemoryUsage> memory;
  std::optional<NetworkUsage> network;
  std::optional<ProcessUsage> process;
  std::vector<ContainerStats> containers;
  std::optional<IoUsage> io;
};

struct ContainerStatsFilter {
  std::string id;  // a prefix of the id matches
  std::string pod_sandbox_id;
  std::map<std::string, std::string> label_selector;
};

struct PodSandboxStatsFilter {
  std::string id;  // a prefix of the id matches
  std::map<std::string, std::string> label_selector;
};

// ---- Metrics (ListMetricDescriptors / ListPodSandboxMetrics) ------------------------------

enum class MetricType { kCounter = 0, kGauge = 1 };  // CRI's values

struct MetricDescriptor {
  std::string name;
  std::string help;
  std::vector<std::string> label_keys;
};

struct Metric {
  std::string name;
  int64_t timestamp = 0;
  MetricType type = MetricType::kGauge;
  std::vector<std::string> label_values;  // parallel to the descriptor's label_keys
  uint64_t value = 0;
};

struct ContainerMetrics {
  std::string container_id;
  std::vector<Metric> metrics;
};

struct PodSandboxMetrics {
  std::string pod_sandbox_id;
  std::vector<Metric> metrics;
  std::vector<ContainerMetrics> container_metrics;
};

// The cadvisor-named metrics peapod offers, each with its label keys.
const std::vector<MetricDescriptor>& MetricDescriptors();
// The metrics of one pod from its stats; `images` maps container id -> image name.
PodSandboxMetrics MetricsOf(const PodSandboxStats& stats,
                            const std::map<std::string, std::string>& images);

// ---- Pure pieces ------------------------------------------------------------------------------

// Every interface of a /proc/<pid>/net/dev text, in file order. Malformed lines are skipped.
std::vector<NetworkInterfaceUsage> ParseNetDev(std::string_view text);
// Splits parsed interfaces into CRI's default interface and the others (lo is left out).
NetworkUsage NetworkUsageOf(std::vector<NetworkInterfaceUsage> interfaces, int64_t timestamp,
                            std::string_view default_interface = "eth0");

// CpuRateTracker: usage_nano_cores from two cumulative samples of the same object, as containerd
// keeps the previous sample per container. Thread-safe.
class CpuRateTracker {
 public:
  // Records the sample and returns the rate since the previous one of `key`: 0 for the first
  // sample and after the counter went backwards (a new cgroup under the same id).
  uint64_t Update(const std::string& key, int64_t timestamp_ns, uint64_t usage_ns);
  void Forget(const std::string& key);
  // Drops the samples of every key not in `keys` (objects that are gone).
  void ForgetAllBut(const std::set<std::string>& keys);

 private:
  struct Sample {
    int64_t timestamp_ns = 0;
    uint64_t usage_ns = 0;
    uint64_t rate = 0;
  };
  std::mutex mu_;
  std::map<std::string, Sample> samples_;
};

// Disk usage of a directory tree (st_blocks, every inode once, symlinks not followed, no other
// filesystem entered), cached per directory for `ttl` so a relist does not walk every tree.
// Thread-safe.
class DirUsageCache {
 public:
  struct Usage {
    uint64_t bytes = 0;
    uint64_t inodes = 0;
  };
  explicit DirUsageCache(std::chrono::milliseconds ttl) : ttl_(ttl) {}
  std::optional<Usage> Get(const std::string& dir);
  void Forget(const std::string& dir);
  void ForgetAllBut(const std::set<std::string>& dirs);

 private:
  struct Entry {
    std::chrono::steady_clock::time_point sampled_at;
    Usage usage;
  };
  std::chrono::milliseconds ttl_;
  std::mutex mu_;
  std::map<std::string, Entry> entries_;
};

// CRI CPU usage from a cgroup's stats, the rate taken through `rates` under `key`; nullopt when
// the cgroup has no CPU accounting.
std::optional<CpuUsage> CpuUsageOf(const runtime::CgroupStats& stats, int64_t timestamp,
                                   CpuRateTracker& rates, const std::string& key);
// CRI memory usage from a cgroup's stats; nullopt without a memory controller.
std::optional<MemoryUsage> MemoryUsageOf(const runtime::CgroupStats& stats, int64_t timestamp);
// CRI IO usage (io.pressure); nullopt where the kernel does not report it for the cgroup.
std::optional<IoUsage> IoUsageOf(const runtime::CgroupStats& stats, int64_t timestamp);

// Walks `dir` now (what DirUsageCache caches); nullopt when `dir` cannot be read.
std::optional<DirUsageCache::Usage> MeasureDirUsage(const std::string& dir);

}  // namespace peapod::agent
