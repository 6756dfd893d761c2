// Pod sysctls: only the ones the kernel namespaces may be set, and only when the pod owns that
// namespace (Kubernetes' rule); written from inside the pod's namespaces.
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

#include "peapod/runtime/security.h"

namespace peapod::runtime {
namespace {

// "net.ipv4.ip_forward" -> "net/ipv4/ip_forward"; a name with '/' is already a path (its dots
// are literal, e.g. net/ipv4/conf/eth0.100/rp_filter).
std::string ToPath(std::string_view name) {
  std::string path(name);
  if (path.find('/') == std::string::npos) {
    for (char& c : path) {
      if (c == '.') c = '/';
    }
  }
  return path;
}

bool ValidPath(std::string_view path) {
  if (path.empty() || path.front() == '/' || path.back() == '/') return false;
  if (path.find("//") != std::string_view::npos) return false;
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    std::string_view part = path.substr(start, end - start);
    if (part == "." || part == "..") return false;
    start = end + 1;
  }
  for (char c : path) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.' || c == '/';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

Status ValidateSysctl(std::string_view name, SysctlNamespaces ns) {
  std::string path = ToPath(name);
  std::string quoted = "sysctl \"" + std::string(name) + "\"";
  if (!ValidPath(path))
    return Fail(ErrorCode::kInvalidArgument, quoted + " is not a valid sysctl name");
  bool ipc = path == "kernel/sem" || path.starts_with("kernel/shm") ||
             path.starts_with("kernel/msg") || path.starts_with("fs/mqueue/");
  bool net = path.starts_with("net/");
  if (ipc) {
    if (!ns.own_ipc)
      return Fail(ErrorCode::kInvalidArgument, quoted + " is not allowed with host IPC");
    return Ok();
  }
  if (net) {
    if (!ns.own_network)
      return Fail(ErrorCode::kInvalidArgument, quoted + " is not allowed with host network");
    return Ok();
  }
  return Fail(ErrorCode::kInvalidArgument,
              quoted + " is not namespaced: setting it would change the whole node");
}

Result<std::vector<PreparedSysctl>> PrepareSysctls(
    const std::map<std::string, std::string>& sysctls, SysctlNamespaces ns) {
  std::vector<PreparedSysctl> out;
  for (const auto& [name, value] : sysctls) {
    if (auto st = ValidateSysctl(name, ns); !st) return std::unexpected(st.error());
    if (value.find('\n') != std::string::npos || value.find('\0') != std::string::npos) {
      return Fail(ErrorCode::kInvalidArgument, "sysctl \"" + name + "\": value must be one line");
    }
    out.push_back({"/proc/sys/" + ToPath(name), value});
  }
  return out;
}

int WriteSysctls(const PreparedSysctl* items, size_t count, size_t* failed_index) noexcept {
  for (size_t i = 0; i < count; ++i) {
    int fd = static_cast<int>(
        ::syscall(SYS_openat, AT_FDCWD, items[i].path.c_str(), O_WRONLY | O_CLOEXEC | O_NOFOLLOW));
    long n = -1;
    int err = errno;
    if (fd >= 0) {
      n = ::syscall(SYS_write, fd, items[i].value.data(), items[i].value.size());
      err = errno;
      ::syscall(SYS_close, fd);
    }
    if (n != static_cast<long>(items[i].value.size())) {
      if (failed_index != nullptr) *failed_index = i;
      return n < 0 ? err : EIO;
    }
  }
  return 0;
}

}  // namespace peapod::runtime
