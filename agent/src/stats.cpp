// The pure pieces of the stats verbs: /proc/net/dev parsing, the per-object CPU rate and the
// cached walk of writable layers.
#include "peapod/agent/stats.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <charconv>
#include <filesystem>
#include <set>
#include <utility>

namespace peapod::agent {
namespace {

std::vector<std::string_view> Fields(std::string_view text) {
  std::vector<std::string_view> fields;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && (text[i] == ' ' || text[i] == '\t')) ++i;
    size_t start = i;
    while (i < text.size() && text[i] != ' ' && text[i] != '\t') ++i;
    if (i > start) fields.push_back(text.substr(start, i - start));
  }
  return fields;
}

std::optional<uint64_t> ToU64(std::string_view text) {
  uint64_t value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size()) return std::nullopt;
  return value;
}

}  // namespace

std::vector<NetworkInterfaceUsage> ParseNetDev(std::string_view text) {
  // "  eth0: rx_bytes packets errs drop fifo frame compressed multicast tx_bytes packets errs ..."
  // The first two lines are headers; with large counters the kernel leaves no space after ':'.
  constexpr size_t kRxBytes = 0, kRxErrors = 2, kTxBytes = 8, kTxErrors = 10, kFields = 16;
  std::vector<NetworkInterfaceUsage> result;
  while (!text.empty()) {
    size_t eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    text = eol == std::string_view::npos ? std::string_view() : text.substr(eol + 1);
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    auto name = Fields(line.substr(0, colon));
    auto fields = Fields(line.substr(colon + 1));
    if (name.size() != 1 || fields.size() < kFields) continue;
    NetworkInterfaceUsage usage;
    usage.name = std::string(name[0]);
    auto rx = ToU64(fields[kRxBytes]), rx_err = ToU64(fields[kRxErrors]);
    auto tx = ToU64(fields[kTxBytes]), tx_err = ToU64(fields[kTxErrors]);
    if (!rx || !rx_err || !tx || !tx_err) continue;
    usage.rx_bytes = *rx;
    usage.rx_errors = *rx_err;
    usage.tx_bytes = *tx;
    usage.tx_errors = *tx_err;
    result.push_back(std::move(usage));
  }
  return result;
}

NetworkUsage NetworkUsageOf(std::vector<NetworkInterfaceUsage> interfaces, int64_t timestamp,
                            std::string_view default_interface) {
  NetworkUsage usage;
  usage.timestamp = timestamp;
  for (auto& iface : interfaces) {
    if (iface.name == "lo") continue;
    if (iface.name == default_interface) {
      usage.default_interface = std::move(iface);
    } else {
      usage.interfaces.push_back(std::move(iface));
    }
  }
  return usage;
}

uint64_t CpuRateTracker::Update(const std::string& key, int64_t timestamp_ns, uint64_t usage_ns) {
  std::lock_guard lock(mu_);
  auto [it, inserted] = samples_.try_emplace(key);
  Sample& previous = it->second;
  uint64_t rate = 0;
  if (!inserted) {
    // Two calls within one clock tick would divide by zero: answer the last rate again.
    if (timestamp_ns == previous.timestamp_ns) return previous.rate;
    if (timestamp_ns > previous.timestamp_ns && usage_ns >= previous.usage_ns) {
      auto window = static_cast<unsigned __int128>(timestamp_ns - previous.timestamp_ns);
      unsigned __int128 used = usage_ns - previous.usage_ns;
      rate = static_cast<uint64_t>(used * 1000000000u / window);
    }
  }
  previous = Sample{timestamp_ns, usage_ns, rate};
  return rate;
}

void CpuRateTracker::Forget(const std::string& key) {
  std::lock_guard lock(mu_);
  samples_.erase(key);
}

void CpuRateTracker::ForgetAllBut(const std::set<std::string>& keys) {
  std::lock_guard lock(mu_);
  std::erase_if(samples_, [&](const auto& kv) { return !keys.contains(kv.first); });
}

std::optional<CpuUsage> CpuUsageOf(const runtime::CgroupStats& stats, int64_t timestamp,
                                   CpuRateTracker& rates, const std::string& key) {
  if (!stats.cpu_usage_ns) return std::nullopt;
  CpuUsage cpu;
  cpu.timestamp = timestamp;
  cpu.usage_core_nano_seconds = *stats.cpu_usage_ns;
  cpu.usage_nano_cores = rates.Update(key, timestamp, *stats.cpu_usage_ns);
  cpu.psi = stats.cpu_pressure;
  return cpu;
}

std::optional<MemoryUsage> MemoryUsageOf(const runtime::CgroupStats& stats, int64_t timestamp) {
  if (!stats.memory_usage_bytes) return std::nullopt;
  MemoryUsage memory;
  memory.timestamp = timestamp;
  memory.usage_bytes = stats.memory_usage_bytes;
  memory.working_set_bytes = stats.memory_working_set_bytes;
  memory.rss_bytes = stats.memory_rss_bytes;
  memory.page_faults = stats.memory_page_faults;
  memory.major_page_faults = stats.memory_major_page_faults;
  memory.psi = stats.memory_pressure;
  if (stats.memory_limit_bytes) {
    // As cadvisor: what the cgroup can still take before reclaim of its working set.
    uint64_t used = stats.memory_working_set_bytes.value_or(*stats.memory_usage_bytes);
    memory.available_bytes =
        *stats.memory_limit_bytes > used ? *stats.memory_limit_bytes - used : 0;
  }
  return memory;
}

std::optional<IoUsage> IoUsageOf(const runtime::CgroupStats& stats, int64_t timestamp) {
  if (!stats.io_pressure) return std::nullopt;
  return IoUsage{timestamp, *stats.io_pressure};
}

std::optional<DirUsageCache::Usage> MeasureDirUsage(const std::string& dir) {
  struct stat root {};
  if (::lstat(dir.c_str(), &root) != 0) return std::nullopt;
  DirUsageCache::Usage usage;
  usage.bytes = static_cast<uint64_t>(root.st_blocks) * 512;
  usage.inodes = 1;
  std::set<ino_t> seen;  // hard links count once, as du does
  std::error_code ec;
  std::filesystem::recursive_directory_iterator it(dir, ec), end;
  if (ec) return std::nullopt;
  for (; it != end; it.increment(ec)) {
    if (ec) break;
    struct stat st {};
    if (::lstat(it->path().c_str(), &st) != 0) continue;
    if (st.st_dev != root.st_dev) {  // never wander into another filesystem
      it.disable_recursion_pending();
      continue;
    }
    if (st.st_nlink > 1 && !S_ISDIR(st.st_mode) && !seen.insert(st.st_ino).second) continue;
    usage.bytes += static_cast<uint64_t>(st.st_blocks) * 512;
    ++usage.inodes;
  }
  return usage;
}

std::optional<DirUsageCache::Usage> DirUsageCache::Get(const std::string& dir) {
  auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard lock(mu_);
    auto it = entries_.find(dir);
    if (it != entries_.end() && now - it->second.sampled_at < ttl_) return it->second.usage;
  }
  // Walked without the lock: one slow tree must not hold up the others.
  auto usage = MeasureDirUsage(dir);
  std::lock_guard lock(mu_);
  if (!usage) {
    entries_.erase(dir);
    return std::nullopt;
  }
  entries_[dir] = Entry{now, *usage};
  return usage;
}

void DirUsageCache::Forget(const std::string& dir) {
  std::lock_guard lock(mu_);
  entries_.erase(dir);
}

void DirUsageCache::ForgetAllBut(const std::set<std::string>& dirs) {
  std::lock_guard lock(mu_);
  std::erase_if(entries_, [&](const auto& kv) { return !dirs.contains(kv.first); });
}

}  // namespace peapod::agent
