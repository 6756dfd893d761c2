// Container rlimits and OOM score: what containerd would set, clamped to what peapod may grant.
#include <fcntl.h>
#include <linux/capability.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>

#include "peapod/runtime/security.h"

namespace peapod::runtime {
namespace {

bool HoldsCapSysResource() {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  if (::syscall(SYS_capget, &header, data) != 0) return false;
  return (data[CAP_SYS_RESOURCE / 32].effective >> (CAP_SYS_RESOURCE % 32)) & 1;
}

}  // namespace

std::vector<RlimitSetting> DefaultContainerRlimits(std::string_view container_id) {
  return {ClampRlimit({RLIMIT_NOFILE, 1048576, 1048576}, container_id)};
}

RlimitSetting ClampRlimit(RlimitSetting wanted, std::string_view container_id) {
  struct rlimit current;
  if (::getrlimit(wanted.resource, &current) != 0) return wanted;
  uint64_t cap = current.rlim_max == RLIM_INFINITY ? UINT64_MAX : current.rlim_max;
  if (wanted.hard <= cap && wanted.soft <= cap) return wanted;
  // Raising a hard limit needs CAP_SYS_RESOURCE; lowering is always allowed.
  RlimitSetting clamped = wanted;
  clamped.hard = std::min(wanted.hard, cap);
  clamped.soft = std::min(wanted.soft, clamped.hard);
  spdlog::info("container {}: rlimit {} {}:{} clamped to {}:{} (peapod's own hard limit)",
               container_id, wanted.resource, wanted.soft, wanted.hard, clamped.soft, clamped.hard);
  return clamped;
}

int ClampOomScoreAdj(int wanted, std::string_view container_id) {
  wanted = std::clamp(wanted, -1000, 1000);
  int fd = ::open("/proc/self/oom_score_adj", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return wanted;
  char buf[16] = {};
  ssize_t n = ::read(fd, buf, sizeof buf - 1);
  ::close(fd);
  if (n <= 0) return wanted;
  int current = std::atoi(buf);
  // Going below our own value needs CAP_SYS_RESOURCE (the kernel's oom_score_adj_min is not
  // visible, so our current value is the safe floor) unless we hold it.
  if (wanted >= current || HoldsCapSysResource()) return wanted;
  spdlog::info(
      "container {}: oom_score_adj {} raised to {} (peapod cannot lower it without "
      "CAP_SYS_RESOURCE)",
      container_id, wanted, current);
  return current;
}

}  // namespace peapod::runtime
