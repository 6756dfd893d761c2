// Container logs in the CRI format kubelet reads:
//   <RFC3339Nano timestamp> <stdout|stderr> <F|P> <text>
// F ends a line; P is a part of a line longer than the maximum, continued by the next entry.
#pragma once

#include <array>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>

#include "peapod/error.h"
#include "peapod/unique_fd.h"

namespace peapod::runtime {

enum class LogStream { kStdout, kStderr };

// Formats one entry; `timestamp_ns` is CLOCK_REALTIME.
std::string FormatCriLogEntry(int64_t timestamp_ns, LogStream stream, bool partial,
                              std::string_view text);

// Appends one container's output to its log file. Thread-safe.
class CriLogWriter {
 public:
  // containerd's default max_container_log_line_size.
  static constexpr size_t kDefaultMaxLine = 16 * 1024;

  // An empty path discards everything (a container without a log path).
  static Result<std::shared_ptr<CriLogWriter>> Open(const std::string& path,
                                                    size_t max_line = kDefaultMaxLine);

  // Feeds raw bytes read from a stream; complete lines are written as F, over-long ones as P.
  void Append(LogStream stream, std::string_view bytes);
  // The stream reached EOF: a trailing line without newline is written as F.
  void EndOfStream(LogStream stream);
  // Reopens the file at the same path (after log rotation moved it away).
  Status Reopen();
  // Marks how many streams feed this writer; WaitClosed returns once each reached EOF.
  void ExpectStreams(int count);
  bool WaitClosed(std::chrono::milliseconds timeout);
  const std::string& path() const { return path_; }

  // For attach: from now on a tap gets the bytes of both streams through a pipe each, written
  // without blocking (a reader too slow to keep up loses bytes, the drain never stalls), until
  // the stream ends or the tap is removed (which closes the pipes' write ends).
  struct Tap {
    uint64_t id = 0;
    UniqueFd stdout_read, stderr_read;
  };
  Status AddTap(Tap& tap);  // (not Result<Tap>: GCC 12 misreads its destructor)
  void RemoveTap(uint64_t id);

 private:
  CriLogWriter(std::string path, size_t max_line) : path_(std::move(path)), max_line_(max_line) {}
  void WriteEntry(LogStream stream, bool partial, std::string_view text);

  std::string path_;
  size_t max_line_;
  std::mutex mu_;
  std::condition_variable closed_cv_;
  UniqueFd fd_;
  std::string pending_[2];
  int open_streams_ = 0;
  std::map<uint64_t, std::array<UniqueFd, 2>> taps_;  // write ends by stream
  uint64_t next_tap_ = 1;
  bool ended_[2] = {false, false};
};

// One thread that drains every container's stdout/stderr FIFO into its CriLogWriter, with epoll.
class LogCollector {
 public:
  LogCollector();
  ~LogCollector();
  LogCollector(const LogCollector&) = delete;
  LogCollector& operator=(const LogCollector&) = delete;

  // Takes the read end of a pipe/FIFO and drains it until every writer has closed it.
  Status Add(UniqueFd read_end, LogStream stream, std::shared_ptr<CriLogWriter> writer);

 private:
  struct Source {
    UniqueFd fd;
    LogStream stream;
    std::shared_ptr<CriLogWriter> writer;
  };
  void Run();
  // Reads what is there; true once the source reached EOF.
  bool Drain(Source& source);

  UniqueFd epoll_;
  UniqueFd wake_;  // eventfd that stops the thread
  std::mutex mu_;
  std::unordered_map<int, std::unique_ptr<Source>> sources_;
  std::thread thread_;
};

}  // namespace peapod::runtime
