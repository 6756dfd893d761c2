#include "peapod/runtime/exit_ledger.h"

#include <fcntl.h>
#include <unistd.h>

#include "peapod/unique_fd.h"

namespace peapod::runtime {

Result<int> ExitLedger::CreateForWriter(const std::string& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return FailErrno("create exit ledger " + path);
  return fd;
}

Result<std::vector<ExitRecord>> ExitLedger::ReadAll() const {
  UniqueFd fd(::open(path_.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return FailErrno("open exit ledger " + path_);
  std::vector<ExitRecord> records;
  ExitRecord buf[128];
  std::string partial;
  for (;;) {
    ssize_t n = ::read(fd.Get(), buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return FailErrno("read exit ledger " + path_);
    if (n == 0) break;
    // A torn tail (a record still being written) is ignored; whole records only.
    size_t whole = static_cast<size_t>(n) / sizeof(ExitRecord);
    for (size_t i = 0; i < whole; ++i) {
      if (buf[i].magic == kExitRecordMagic) records.push_back(buf[i]);
    }
    if (static_cast<size_t>(n) % sizeof(ExitRecord) != 0) break;
  }
  return records;
}

Result<std::optional<ExitRecord>> ExitLedger::Find(pid_t pod_pid,
                                                    int64_t not_before_boottime_ns) const {
  auto records = ReadAll();
  if (!records) return std::unexpected(std::move(records.error()));
  for (const auto& r : *records) {
    if (r.pid == pod_pid && r.boottime_ns >= not_before_boottime_ns) return r;
  }
  return std::optional<ExitRecord>{};
}

}  // namespace peapod::runtime
