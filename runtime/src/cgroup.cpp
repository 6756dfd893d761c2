// One cgroup across every hierarchy: limits (v1 and v2 formats per controller), membership,
// stats, OOM counter, kill and removal.
#include "peapod/runtime/cgroup.h"

#include <dirent.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>

#include "cgroup_files.h"

namespace peapod::runtime {
namespace {

using cgroup_internal::Exists;
using cgroup_internal::FlatKeyedValue;
using cgroup_internal::ParseU64;
using cgroup_internal::ReadText;
using cgroup_internal::SplitLines;
using cgroup_internal::WriteText;

constexpr int kKillRounds = 1000;  // x 5 ms: a fork bomb under a pids limit dies well within this
constexpr int kRmdirRounds = 200;  // x 10 ms: the kernel may take a moment to drop dead tasks

void SleepMs(int ms) {
  struct timespec ts {
    ms / 1000, (ms % 1000) * 1000000L
  };
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

// Sub-directories of `dir`, recursively, deepest first (so they can be removed in order).
void ChildDirsDeepestFirst(const std::string& dir, std::vector<std::string>* out) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return;
  std::vector<std::string> children;
  while (struct dirent* e = ::readdir(d)) {
    if (e->d_type != DT_DIR) continue;
    std::string_view name = e->d_name;
    if (name == "." || name == "..") continue;
    children.push_back(dir + "/" + e->d_name);
  }
  ::closedir(d);
  for (const std::string& child : children) {
    ChildDirsDeepestFirst(child, out);
    out->push_back(child);
  }
}

std::vector<pid_t> ReadPids(const std::string& dir) {
  std::vector<pid_t> pids;
  auto text = ReadText(dir + "/cgroup.procs");
  if (!text) return pids;
  for (std::string_view line : SplitLines(*text)) {
    if (auto v = ParseU64(line)) pids.push_back(static_cast<pid_t>(*v));
  }
  return pids;
}

// Pids in `dir` and every cgroup below it.
std::vector<pid_t> ReadPidsRecursive(const std::string& dir) {
  std::vector<std::string> dirs;
  ChildDirsDeepestFirst(dir, &dirs);
  dirs.push_back(dir);
  std::vector<pid_t> pids;
  for (const std::string& d : dirs) {
    std::vector<pid_t> some = ReadPids(d);
    pids.insert(pids.end(), some.begin(), some.end());
  }
  return pids;
}

std::string Limit(int64_t value, std::string_view unlimited) {
  return value > 0 ? std::to_string(value) : std::string(unlimited);
}

}  // namespace

uint64_t CpuSharesToWeight(uint64_t shares) {
  if (shares == 0) return 0;  // "not set": the caller leaves cpu.weight alone
  shares = std::clamp<uint64_t>(shares, 2, 262144);
  return 1 + ((shares - 2) * 9999) / 262142;
}

Cgroup::Cgroup(std::shared_ptr<const CgroupDriver> driver, std::string path)
    : driver_(std::move(driver)), path_(std::move(path)) {}

std::string Cgroup::DirIn(const CgroupHierarchy& h) const {
  std::string_view rel = path_;
  if (h.mount_root != "/" && rel.starts_with(h.mount_root) &&
      (rel.size() == h.mount_root.size() || rel[h.mount_root.size()] == '/')) {
    rel.remove_prefix(h.mount_root.size());
  }
  return h.mount_point + std::string(rel);
}

Status Cgroup::DelegateTo(uid_t uid, gid_t gid) const {
  // The kernel's delegation model (cgroup-v2.rst, "Delegation"): the directory and the files
  // that create, move and enable; limits set from above stay root's. v1 has tasks instead of
  // cgroup.threads and no subtree_control: what is missing is skipped.
  for (const auto& h : driver_->hierarchies()) {
    std::string dir = DirIn(h);
    if (::chown(dir.c_str(), uid, gid) != 0) return FailErrno("delegate cgroup " + dir);
    for (const char* file : {"cgroup.procs", "cgroup.threads", "cgroup.subtree_control", "tasks"}) {
      std::string path = dir + "/" + file;
      if (::chown(path.c_str(), uid, gid) != 0 && errno != ENOENT) {
        return FailErrno("delegate cgroup file " + path);
      }
    }
  }
  return Ok();
}

std::string Cgroup::DirFor(std::string_view controller) const {
  const CgroupHierarchy* h = driver_->HierarchyFor(controller);
  return h == nullptr ? std::string() : DirIn(*h);
}

namespace {

// A file written by an update and what it held before, so a failed update can put it back.
struct UndoEntry {
  std::string path;
  std::string before;
};

struct ApplyContext {
  const Cgroup& cgroup;
  const CgroupDriver& driver;
  std::vector<UndoEntry>* undo = nullptr;  // set by Update: successful writes, in order

  Status Write(const CgroupHierarchy& h, std::string_view file, std::string_view value) const {
    std::string path = cgroup.DirIn(h) + "/" + std::string(file);
    std::optional<std::string> before;
    if (undo != nullptr) {
      if (auto text = ReadText(path)) before = *text;
    }
    auto st = WriteText(path, value);
    if (!st) return std::unexpected(std::move(st.error()).Context("cgroup " + cgroup.path()));
    if (before) {
      while (!before->empty() && before->back() == '\n') before->pop_back();
      undo->push_back({std::move(path), std::move(*before)});
    }
    return Ok();
  }
  Result<const CgroupHierarchy*> Need(std::string_view controller, std::string_view what) const {
    const CgroupHierarchy* h = driver.HierarchyFor(controller);
    if (h == nullptr) {
      return Fail(ErrorCode::kFailedPrecondition,
                  "cgroup " + cgroup.path() + ": " + std::string(what) + " needs the " +
                      std::string(controller) +
                      " cgroup controller, which this host does not have");
    }
    return h;
  }
};

Status ApplyCpu(const ApplyContext& ctx, const Resources& r) {
  bool has_quota = r.cpu_quota_us.has_value() || r.cpu_period_us.has_value();
  if (!r.cpu_shares && !has_quota) return Ok();
  const CgroupHierarchy* h = ctx.driver.HierarchyFor("cpu");
  if (h == nullptr) {
    if (has_quota) return std::unexpected(ctx.Need("cpu", "a CPU quota").error());
    // kubelet always sends shares; a host without the cpu controller can still run pods.
    spdlog::warn("cgroup {}: no cpu controller on this host, cpu shares not applied",
                 ctx.cgroup.path());
    return Ok();
  }
  uint64_t period = r.cpu_period_us.value_or(100000);
  std::string quota_text =
      Limit(r.cpu_quota_us.value_or(-1), h->version == CgroupVersion::kV1 ? "-1" : "max");
  if (h->version == CgroupVersion::kV1) {
    if (r.cpu_shares && *r.cpu_shares > 0) {
      if (auto st = ctx.Write(*h, "cpu.shares", std::to_string(*r.cpu_shares)); !st) return st;
    }
    if (has_quota) {
      if (auto st = ctx.Write(*h, "cpu.cfs_period_us", std::to_string(period)); !st) return st;
      if (auto st = ctx.Write(*h, "cpu.cfs_quota_us", quota_text); !st) return st;
    }
    return Ok();
  }
  if (r.cpu_shares && *r.cpu_shares > 0) {
    if (auto st = ctx.Write(*h, "cpu.weight", std::to_string(CpuSharesToWeight(*r.cpu_shares)));
        !st) {
      return st;
    }
  }
  if (has_quota) {
    if (auto st = ctx.Write(*h, "cpu.max", quota_text + " " + std::to_string(period)); !st)
      return st;
  }
  return Ok();
}

Status ApplyCpuset(const ApplyContext& ctx, const Resources& r) {
  if (r.cpuset_cpus.empty() && r.cpuset_mems.empty()) return Ok();
  auto h = ctx.Need("cpuset", "a cpuset");
  if (!h) return std::unexpected(h.error());
  if (!r.cpuset_cpus.empty()) {
    if (auto st = ctx.Write(**h, "cpuset.cpus", r.cpuset_cpus); !st) return st;
  }
  if (!r.cpuset_mems.empty()) {
    if (auto st = ctx.Write(**h, "cpuset.mems", r.cpuset_mems); !st) return st;
  }
  return Ok();
}

Status ApplyMemory(const ApplyContext& ctx, const Resources& r) {
  if (!r.memory_limit_bytes) return Ok();
  auto hh = ctx.Need("memory", "a memory limit");
  if (!hh) return std::unexpected(hh.error());
  const CgroupHierarchy& h = **hh;
  int64_t limit = *r.memory_limit_bytes;
  if (h.version == CgroupVersion::kV2) {
    if (auto st = ctx.Write(h, "memory.max", Limit(limit, "max")); !st) return st;
    // No swap: the limit is all the container gets (memory.swap.max exists only with swap
    // accounting).
    if (Exists(ctx.cgroup.DirIn(h) + "/memory.swap.max")) {
      return ctx.Write(h, "memory.swap.max", limit > 0 ? "0" : "max");
    }
    return Ok();
  }
  std::string value = Limit(limit, "-1");
  bool has_memsw = Exists(ctx.cgroup.DirIn(h) + "/memory.memsw.limit_in_bytes");
  if (!has_memsw) return ctx.Write(h, "memory.limit_in_bytes", value);
  // The kernel keeps memsw >= limit at every moment: raising needs memsw first, lowering limit
  // first.
  if (auto st = ctx.Write(h, "memory.limit_in_bytes", value); st) {
    return ctx.Write(h, "memory.memsw.limit_in_bytes", value);
  }
  if (auto st = ctx.Write(h, "memory.memsw.limit_in_bytes", value); !st) return st;
  return ctx.Write(h, "memory.limit_in_bytes", value);
}

Status ApplyPids(const ApplyContext& ctx, const Resources& r) {
  if (!r.pids_limit) return Ok();
  auto h = ctx.Need("pids", "a pids limit");
  if (!h) return std::unexpected(h.error());
  return ctx.Write(**h, "pids.max", Limit(*r.pids_limit, "max"));
}

Status ApplyHugetlb(const ApplyContext& ctx, const Resources& r) {
  if (r.hugepage_limits.empty()) return Ok();
  auto hh = ctx.Need("hugetlb", "a hugepage limit");
  if (!hh) return std::unexpected(hh.error());
  const CgroupHierarchy& h = **hh;
  for (const auto& [size, bytes] : r.hugepage_limits) {
    std::string file =
        "hugetlb." + size + (h.version == CgroupVersion::kV2 ? ".max" : ".limit_in_bytes");
    if (!Exists(ctx.cgroup.DirIn(h) + "/" + file)) {
      return Fail(ErrorCode::kInvalidArgument, "cgroup " + ctx.cgroup.path() +
                                                   ": hugepage size \"" + size +
                                                   "\" is not supported by this host");
    }
    if (auto st = ctx.Write(h, file, std::to_string(bytes)); !st) return st;
  }
  return Ok();
}

// CRI's `unified` map: raw v2 files, written to the v2 hierarchy; refused when the file's
// controller lives in a v1 hierarchy (the value would mean nothing there).
Status ApplyUnified(const ApplyContext& ctx, const Resources& r) {
  const CgroupHierarchy* unified = ctx.driver.Unified();
  for (const auto& [key, value] : r.unified) {
    if (key.find('/') != std::string::npos || key.find("..") != std::string::npos || key.empty()) {
      return Fail(ErrorCode::kInvalidArgument,
                  "unified cgroup key \"" + key + "\" is not a file name");
    }
    std::string controller = key.substr(0, key.find('.'));
    const CgroupHierarchy* h = ctx.driver.HierarchyFor(controller);
    if (h == nullptr && controller == "cgroup") h = unified;
    if (h == nullptr || h->version != CgroupVersion::kV2) {
      return Fail(ErrorCode::kInvalidArgument,
                  "unified cgroup key \"" + key +
                      "\" needs its controller on cgroup v2, which this host does not provide");
    }
    if (auto st = ctx.Write(*h, key, value); !st) return st;
  }
  return Ok();
}

// In-place resize refuses a memory limit below what the cgroup holds and cannot give back: v1
// would fail the write with EBUSY after reclaiming, v2 would reclaim and then OOM-kill. kubelet
// makes the same best-effort check before lowering a limit (KEP-1287, "Memory limit decreases").
Status CheckMemoryFits(const Cgroup& cgroup, const Resources& r) {
  if (!r.memory_limit_bytes || *r.memory_limit_bytes <= 0) return Ok();
  const CgroupHierarchy* h = cgroup.driver().HierarchyFor("memory");
  if (h == nullptr) return Ok();  // ApplyMemory says why
  bool v2 = h->version == CgroupVersion::kV2;
  std::string dir = cgroup.DirIn(*h);
  auto usage = ReadText(dir + (v2 ? "/memory.current" : "/memory.usage_in_bytes"));
  auto stat = ReadText(dir + "/memory.stat");
  if (!usage || !stat) return Ok();
  CgroupStats s;
  FillMemoryStats(h->version, *usage, *stat, "", s);
  uint64_t in_use = s.memory_working_set_bytes.value_or(0);
  if (in_use <= static_cast<uint64_t>(*r.memory_limit_bytes)) return Ok();
  return Fail(ErrorCode::kFailedPrecondition,
              "cgroup " + cgroup.path() + ": memory limit " +
                  std::to_string(*r.memory_limit_bytes) + " is below the " +
                  std::to_string(in_use) + " bytes in use (working set); " +
                  (v2 ? "cgroup v2 would OOM-kill to get there" : "cgroup v1 would refuse it") +
                  ", so nothing was changed");
}

}  // namespace

Status Cgroup::ApplyAll(const Resources& r) {
  ApplyContext ctx{*this, *driver_};
  for (auto apply : {ApplyCpuset, ApplyCpu, ApplyMemory, ApplyPids, ApplyHugetlb, ApplyUnified}) {
    if (auto st = apply(ctx, r); !st) return st;
  }
  return Ok();
}

Status Cgroup::Apply(const Resources& resources) { return ApplyAll(resources); }

Status Cgroup::Update(const Resources& resources) {
  if (auto st = CheckMemoryFits(*this, resources); !st) return st;
  std::vector<UndoEntry> undo;
  ApplyContext ctx{*this, *driver_, &undo};
  for (auto apply : {ApplyCpuset, ApplyCpu, ApplyMemory, ApplyPids, ApplyHugetlb, ApplyUnified}) {
    auto st = apply(ctx, resources);
    if (st) continue;
    // All or nothing: what was written goes back, newest first (so memory and memory+swap
    // are restored in an order the kernel accepts).
    for (auto it = undo.rbegin(); it != undo.rend(); ++it) {
      if (auto back = WriteText(it->path, it->before); !back) {
        spdlog::warn("cgroup {}: could not restore {}: {}", path_, it->path,
                     back.error().ToString());
      }
    }
    return st;
  }
  spdlog::debug("cgroup {}: resources updated", path_);
  return Ok();
}

Status Cgroup::AddProcess(pid_t pid) {
  std::string text = std::to_string(pid);
  for (const CgroupHierarchy& h : driver_->hierarchies()) {
    // A container started by an agent that did not track name=systemd yet has no cgroup
    // there: an exec into it still works (it holds no limits).
    bool named_only = h.controllers.size() == 1 && h.controllers[0].starts_with("name=");
    if (named_only && !Exists(DirIn(h))) continue;
    std::string file = DirIn(h) + "/cgroup.procs";
    if (auto st = WriteText(file, text); !st) {
      return std::unexpected(
          std::move(st.error()).Context("add process " + text + " to cgroup " + path_));
    }
  }
  return Ok();
}

Result<std::vector<pid_t>> Cgroup::Processes() const {
  const CgroupHierarchy* h = driver_->Unified();
  if (h == nullptr) h = &driver_->hierarchies().front();
  auto text = ReadText(DirIn(*h) + "/cgroup.procs");
  if (!text)
    return std::unexpected(std::move(text.error()).Context("list processes of cgroup " + path_));
  std::vector<pid_t> pids;
  for (std::string_view line : SplitLines(*text)) {
    if (auto v = ParseU64(line)) pids.push_back(static_cast<pid_t>(*v));
  }
  return pids;
}

Result<std::vector<pid_t>> Cgroup::ProcessesRecursive() const {
  const CgroupHierarchy* h = driver_->Unified();
  if (h == nullptr) h = &driver_->hierarchies().front();
  std::string dir = DirIn(*h);
  if (!Exists(dir)) return FailErrno("list processes of cgroup " + path_ + ": " + dir);
  return ReadPidsRecursive(dir);
}

Status Cgroup::KillAll(int signal) {
  const CgroupHierarchy* unified = driver_->Unified();
  if (signal == SIGKILL && unified != nullptr && Exists(DirIn(*unified) + "/cgroup.kill")) {
    return WriteText(DirIn(*unified) + "/cgroup.kill", "1");
  }
  // Any hierarchy holds every process; take the first whose directory exists.
  for (const CgroupHierarchy& h : driver_->hierarchies()) {
    std::string dir = DirIn(h);
    if (!Exists(dir)) continue;
    for (pid_t pid : ReadPidsRecursive(dir)) {
      if (::kill(pid, signal) != 0 && errno != ESRCH) {
        return FailErrno("signal " + std::to_string(signal) + " to pid " + std::to_string(pid) +
                         " of cgroup " + path_);
      }
    }
    return Ok();
  }
  return Ok();
}

Result<uint64_t> Cgroup::OomKillCount() const {
  const CgroupHierarchy* h = driver_->HierarchyFor("memory");
  if (h == nullptr)
    return Fail(ErrorCode::kFailedPrecondition, "no memory cgroup controller on this host");
  bool v2 = h->version == CgroupVersion::kV2;
  std::string file = DirIn(*h) + (v2 ? "/memory.events" : "/memory.oom_control");
  auto text = ReadText(file);
  if (!text)
    return std::unexpected(std::move(text.error()).Context("read OOM count of cgroup " + path_));
  auto count = FlatKeyedValue(*text, "oom_kill");
  if (!count)
    return Fail(ErrorCode::kUnimplemented,
                file + " has no oom_kill counter (kernel older than 4.13)");
  return *count;
}

Result<bool> Cgroup::OomKilled(uint64_t baseline) const {
  auto count = OomKillCount();
  if (!count) return std::unexpected(count.error());
  return *count > baseline;
}

void FillMemoryStats(CgroupVersion version, std::string_view usage, std::string_view stat,
                     std::string_view limit, CgroupStats& out) {
  bool v2 = version == CgroupVersion::kV2;
  if (!usage.empty()) out.memory_usage_bytes = ParseU64(usage);
  if (!stat.empty()) {
    out.memory_rss_bytes = FlatKeyedValue(stat, v2 ? "anon" : "total_rss");
    out.memory_page_faults = FlatKeyedValue(stat, v2 ? "pgfault" : "total_pgfault");
    out.memory_major_page_faults = FlatKeyedValue(stat, v2 ? "pgmajfault" : "total_pgmajfault");
    if (out.memory_usage_bytes) {
      // kubelet's working set: what cannot be reclaimed without I/O (cadvisor subtracts
      // inactive_file, total_inactive_file on v1 so that children count).
      uint64_t inactive =
          FlatKeyedValue(stat, v2 ? "inactive_file" : "total_inactive_file").value_or(0);
      uint64_t used = *out.memory_usage_bytes;
      out.memory_working_set_bytes = used > inactive ? used - inactive : 0;
    }
  }
  // v1 reports "no limit" as the largest page-aligned int64 (0x7FFFFFFFFFFFF000); v2 as "max".
  constexpr uint64_t kV1Unlimited = 1ULL << 62;
  if (auto bytes = ParseU64(limit); bytes && *bytes < kV1Unlimited) out.memory_limit_bytes = bytes;
}

namespace {

// "avg10=0.12 avg60=0.05 avg300=0.00 total=1234" -> PsiData; every key must be there.
std::optional<PsiData> ParsePressureFields(std::string_view fields) {
  PsiData data;
  int seen = 0;
  while (!fields.empty()) {
    size_t space = fields.find(' ');
    std::string_view field = fields.substr(0, space);
    fields = space == std::string_view::npos ? std::string_view() : fields.substr(space + 1);
    if (field.empty()) continue;
    size_t eq = field.find('=');
    if (eq == std::string_view::npos) return std::nullopt;
    std::string_view key = field.substr(0, eq), value = field.substr(eq + 1);
    if (key == "total") {
      auto total = ParseU64(value);
      if (!total) return std::nullopt;
      data.total_us = *total;
      seen |= 1;
      continue;
    }
    double* avg = key == "avg10"    ? &data.avg10
                  : key == "avg60"  ? &data.avg60
                  : key == "avg300" ? &data.avg300
                                    : nullptr;
    if (avg == nullptr) continue;  // a key a later kernel may add
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), *avg);
    if (ec != std::errc() || end != value.data() + value.size()) return std::nullopt;
    seen |= key == "avg10" ? 2 : key == "avg60" ? 4 : 8;
  }
  if (seen != 15) return std::nullopt;
  return data;
}

}  // namespace

std::optional<PsiStats> ParsePressure(std::string_view text) {
  std::optional<PsiStats> out;
  std::optional<PsiData> full;
  for (std::string_view line : SplitLines(text)) {
    if (line.starts_with("some ")) {
      auto some = ParsePressureFields(line.substr(5));
      if (!some) return std::nullopt;
      out = PsiStats{*some, std::nullopt};
    } else if (line.starts_with("full ")) {
      full = ParsePressureFields(line.substr(5));
      if (!full) return std::nullopt;
    }
  }
  if (out) out->full = full;
  return out;
}

Result<CgroupStats> Cgroup::Stats() const {
  CgroupStats s;
  auto read = [&](const CgroupHierarchy* h, const char* file) -> std::optional<std::string> {
    if (h == nullptr) return std::nullopt;
    auto text = ReadText(DirIn(*h) + "/" + file);
    return text ? std::optional<std::string>(*text) : std::nullopt;
  };
  const CgroupHierarchy* unified = driver_->Unified();
  const CgroupHierarchy* cpu = driver_->HierarchyFor("cpu");
  const CgroupHierarchy* cpuacct = driver_->HierarchyFor("cpuacct");

  if (auto usage = read(cpuacct, "cpuacct.usage")) {
    s.cpu_usage_ns = ParseU64(*usage);
  } else if (auto stat =
                 read(unified, "cpu.stat")) {  // v2 has cpu.stat usage without the controller
    if (auto us = FlatKeyedValue(*stat, "usage_usec")) s.cpu_usage_ns = *us * 1000;
  }
  if (auto stat = read(cpu, "cpu.stat")) {
    s.cpu_nr_periods = FlatKeyedValue(*stat, "nr_periods");
    s.cpu_nr_throttled = FlatKeyedValue(*stat, "nr_throttled");
    if (cpu->version == CgroupVersion::kV1) {
      s.cpu_throttled_ns = FlatKeyedValue(*stat, "throttled_time");
    } else if (auto us = FlatKeyedValue(*stat, "throttled_usec")) {
      s.cpu_throttled_ns = *us * 1000;
    }
  }

  if (const CgroupHierarchy* mem = driver_->HierarchyFor("memory")) {
    bool v2 = mem->version == CgroupVersion::kV2;
    FillMemoryStats(mem->version,
                    read(mem, v2 ? "memory.current" : "memory.usage_in_bytes").value_or(""),
                    read(mem, "memory.stat").value_or(""),
                    read(mem, v2 ? "memory.max" : "memory.limit_in_bytes").value_or(""), s);
    if (auto ooms = OomKillCount()) s.oom_kills = *ooms;
  }
  if (auto current = read(driver_->HierarchyFor("pids"), "pids.current"))
    s.pids_current = ParseU64(*current);
  if (auto text = read(unified, "cpu.pressure")) s.cpu_pressure = ParsePressure(*text);
  if (auto text = read(unified, "memory.pressure")) s.memory_pressure = ParsePressure(*text);
  if (auto text = read(unified, "io.pressure")) s.io_pressure = ParsePressure(*text);
  return s;
}

Status Cgroup::Remove() {
  const CgroupHierarchy* unified = driver_->Unified();
  if (unified != nullptr && Exists(DirIn(*unified) + "/cgroup.kill")) {
    (void)WriteText(DirIn(*unified) + "/cgroup.kill", "1");  // best effort; the loop below checks
  }
  // Without cgroup.kill (v1, old v2), kill what is there until nothing is left: processes may fork
  // between reading cgroup.procs and the kills, but each round leaves fewer of them.
  for (const CgroupHierarchy& h : driver_->hierarchies()) {
    std::string dir = DirIn(h);
    if (!Exists(dir)) continue;
    int round = 0;
    for (; round < kKillRounds; ++round) {
      std::vector<pid_t> pids = ReadPidsRecursive(dir);
      if (pids.empty()) break;
      for (pid_t pid : pids) ::kill(pid, SIGKILL);
      SleepMs(5);
    }
    if (round == kKillRounds) {
      return Fail(ErrorCode::kDeadlineExceeded, "remove cgroup " + path_ + ": processes in " + dir +
                                                    " survived " + std::to_string(kKillRounds) +
                                                    " rounds of SIGKILL");
    }
  }
  for (const CgroupHierarchy& h : driver_->hierarchies()) {
    std::string dir = DirIn(h);
    if (!Exists(dir)) continue;
    std::vector<std::string> dirs;
    ChildDirsDeepestFirst(dir, &dirs);
    dirs.push_back(dir);
    for (const std::string& d : dirs) {
      int round = 0;
      while (::rmdir(d.c_str()) != 0) {
        if (errno == ENOENT) break;
        if (errno != EBUSY || ++round >= kRmdirRounds)
          return FailErrno("remove cgroup directory " + d);
        SleepMs(10);
      }
    }
  }
  spdlog::debug("cgroup {}: removed", path_);
  return Ok();
}

}  // namespace peapod::runtime
