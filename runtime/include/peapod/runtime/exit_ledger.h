// ExitLedger: the append-only file in which peapod-pause records every child it reaps, so that
// exit statuses survive an agent restart. The agent only reads it.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "peapod/error.h"

namespace peapod::runtime {

// One reaped child, exactly as peapod-pause writes it (see pause/exit_record.h): 32 bytes,
// written with a single write() on an O_APPEND fd so records never interleave.
struct ExitRecord {
  int32_t pid;          // as seen in the pod's PID namespace
  int32_t wait_status;  // raw status from wait4()
  int64_t realtime_ns;  // CLOCK_REALTIME at reap time
  int64_t boottime_ns;  // CLOCK_BOOTTIME at reap time
  uint32_t magic;
  uint32_t reserved;
};
static_assert(sizeof(ExitRecord) == 32);
inline constexpr uint32_t kExitRecordMagic = 0x4c585050;  // "PPXL"

class ExitLedger {
 public:
  explicit ExitLedger(std::string path) : path_(std::move(path)) {}

  // Creates the ledger (empty) and returns an O_WRONLY|O_APPEND fd for pause to inherit.
  static Result<int> CreateForWriter(const std::string& path);

  // Every complete, valid record in the file, in the order they were written.
  Result<std::vector<ExitRecord>> ReadAll() const;

  // The first exit of `pod_pid` reaped at or after `not_before_boottime_ns` (the process's start
  // time), which tells a pid apart from an earlier process that had the same pid.
  Result<std::optional<ExitRecord>> Find(pid_t pod_pid, int64_t not_before_boottime_ns) const;

  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace peapod::runtime
