// Capability names, containerd's add/drop arithmetic, and the five sets runc applies.
#include <fcntl.h>
#include <linux/capability.h>
#include <spdlog/spdlog.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>

#include "peapod/runtime/security.h"

namespace peapod::runtime {
namespace {

constexpr std::array<std::string_view, kLastKnownCapability + 1> kNames = {
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
};

std::string Canonical(std::string_view name) {
  std::string upper;
  for (char c : name)
    upper.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  if (!upper.starts_with("CAP_")) upper = "CAP_" + upper;
  return upper;
}

bool IsAll(std::string_view name) { return Canonical(name) == "CAP_ALL"; }

uint64_t Bit(int cap) { return uint64_t{1} << cap; }

}  // namespace

std::optional<int> CapabilityFromName(std::string_view name) {
  std::string canonical = Canonical(name);
  for (size_t i = 0; i < kNames.size(); ++i) {
    if (kNames[i] == canonical) return static_cast<int>(i);
  }
  return std::nullopt;
}

std::string_view CapabilityName(int cap) {
  if (cap < 0 || cap > kLastKnownCapability) return {};
  return kNames[static_cast<size_t>(cap)];
}

std::string FormatCapabilities(uint64_t mask) {
  std::string out;
  for (int cap = 0; cap < 64; ++cap) {
    if ((mask & Bit(cap)) == 0) continue;
    if (!out.empty()) out += ",";
    std::string_view name = CapabilityName(cap);
    out += name.empty() ? "CAP_" + std::to_string(cap) : std::string(name);
  }
  return out;
}

int KernelLastCapability() {
  static const int last = [] {
    int fd = ::open("/proc/sys/kernel/cap_last_cap", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return kLastKnownCapability;
    char buf[16] = {};
    ssize_t n = ::read(fd, buf, sizeof buf - 1);
    ::close(fd);
    int value = n > 0 ? std::atoi(buf) : 0;
    return value > 0 && value < 64 ? value : kLastKnownCapability;
  }();
  return last;
}

uint64_t AllCapabilities(int last_cap) {
  last_cap = std::clamp(last_cap, 0, 63);
  return last_cap == 63 ? ~uint64_t{0} : (Bit(last_cap + 1) - 1);
}

uint64_t DefaultCapabilities() {
  uint64_t mask = 0;
  for (std::string_view name :
       {"CHOWN", "DAC_OVERRIDE", "FSETID", "FOWNER", "MKNOD", "NET_RAW", "SETGID", "SETUID",
        "SETFCAP", "SETPCAP", "NET_BIND_SERVICE", "SYS_CHROOT", "KILL", "AUDIT_WRITE"}) {
    mask |= Bit(*CapabilityFromName(name));
  }
  return mask;
}

Result<uint64_t> ComputeCapabilities(const std::vector<std::string>& add,
                                     const std::vector<std::string>& drop, bool privileged,
                                     int last_cap) {
  uint64_t all = AllCapabilities(last_cap);
  if (privileged) return all;
  auto lookup = [](const std::string& name, const char* verb) -> Result<uint64_t> {
    auto cap = CapabilityFromName(name);
    if (!cap) {
      return Fail(ErrorCode::kInvalidArgument,
                  std::string("unknown capability \"") + name + "\" to " + verb);
    }
    return Bit(*cap);
  };
  uint64_t caps = DefaultCapabilities();
  if (std::any_of(add.begin(), add.end(), IsAll)) caps = all;
  if (std::any_of(drop.begin(), drop.end(), IsAll)) caps = 0;
  for (const std::string& name : add) {
    if (IsAll(name)) continue;
    auto bit = lookup(name, "add");
    if (!bit) return std::unexpected(bit.error());
    caps |= *bit;
  }
  for (const std::string& name : drop) {
    if (IsAll(name)) continue;
    auto bit = lookup(name, "drop");
    if (!bit) return std::unexpected(bit.error());
    caps &= ~*bit;
  }
  return caps;
}

CapabilitySet ContainerCapabilitySet(uint64_t caps) {
  CapabilitySet set;
  set.bounding = caps;
  set.effective = caps;
  set.permitted = caps;
  return set;
}

CapabilitySet ClampToCurrentProcess(const CapabilitySet& set, std::string_view container_id) {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  if (::syscall(SYS_capget, &header, data) != 0) return set;
  uint64_t held = (uint64_t{data[1].permitted} << 32) | data[0].permitted;
  uint64_t wanted = set.bounding | set.effective | set.permitted | set.inheritable | set.ambient;
  uint64_t missing = wanted & ~held;
  if (missing == 0) return set;
  spdlog::warn("container {}: capabilities {} are not held by peapod and will not be granted",
               container_id, FormatCapabilities(missing));
  CapabilitySet clamped = set;
  for (uint64_t* mask : {&clamped.bounding, &clamped.effective, &clamped.permitted,
                         &clamped.inheritable, &clamped.ambient}) {
    *mask &= held;
  }
  return clamped;
}

}  // namespace peapod::runtime
