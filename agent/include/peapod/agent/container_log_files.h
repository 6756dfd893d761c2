// Container log files as kubelet rotates them: the live CRI log at <log> and the rotated ones
// beside it, <log>.<YYYYMMDD-HHMMSS.ffffff> (UTC), gzip-compressed to <...>.gz except the
// newest. Kubelet names rotated files by the second; the microseconds keep two rotations within
// one second apart, and the fixed width makes name order time order.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "peapod/error.h"

namespace peapod::agent {

struct LogRotationPolicy {
  uint64_t max_size = uint64_t{10} << 20;  // containerLogMaxSize: rotate above this
  int64_t max_files = 5;                   // containerLogMaxFiles: the live file included, >= 2
};

// The name `log_path` is rotated to at `now`.
std::string RotatedLogName(const std::string& log_path, std::chrono::system_clock::time_point now);

// The rotated files of `log_path`, oldest first (full paths; compressed or not; the live file
// and unfinished ".tmp" files excluded).
std::vector<std::string> RotatedLogFiles(const std::string& log_path);

// Everything in one log file, decompressed when it ends in ".gz". kNotFound when it is gone.
Result<std::string> ReadLogFile(const std::string& path);

// When the live file is larger than policy.max_size: deletes the oldest rotated files so that at
// most policy.max_files remain with the new one and the live one, compresses the rotated ones,
// renames the live file to RotatedLogName and calls `reopen` so that the writer starts a fresh
// file at `log_path`. Lines written before the reopen land in the renamed file, so nothing is
// lost or written twice. Returns whether it rotated; when `reopen` fails, the rename is undone.
Result<bool> RotateContainerLog(const std::string& log_path, const LogRotationPolicy& policy,
                                const std::function<Status()>& reopen,
                                std::chrono::system_clock::time_point now);

// Removes the live file and every rotated one.
void RemoveContainerLogFiles(const std::string& log_path);

}  // namespace peapod::agent
