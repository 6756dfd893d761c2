// ExitMonitor: one thread that learns of process exits through pidfds (epoll), so container
// status is recorded as soon as a process dies and List/Status calls never wait on the kernel.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "peapod/error.h"
#include "peapod/unique_fd.h"

namespace peapod::agent {

class ExitMonitor {
 public:
  // Runs on the monitor thread with the key of a process that exited. Returning false means the
  // exit cannot be handled now (its object is busy with another operation); it is offered again
  // a few milliseconds later.
  using Callback = std::function<bool(const std::string& key)>;

  static Result<std::unique_ptr<ExitMonitor>> Start(Callback callback);
  ~ExitMonitor();  // stops the thread; watched processes are left alone
  ExitMonitor(const ExitMonitor&) = delete;
  ExitMonitor& operator=(const ExitMonitor&) = delete;

  // Watches a duplicate of `pidfd` under `key` (replacing an earlier watch of the same key).
  Status Watch(const std::string& key, int pidfd);
  void Unwatch(const std::string& key);

 private:
  explicit ExitMonitor(Callback callback) : callback_(std::move(callback)) {}
  void Run();

  Callback callback_;
  UniqueFd epoll_;
  UniqueFd wake_;  // eventfd: stop
  std::mutex mu_;  // guards watched_ and the epoll set
  std::map<uint64_t, std::pair<std::string, UniqueFd>> watched_;  // token -> (key, pidfd)
  uint64_t next_token_ = 1;
  std::thread thread_;
};

}  // namespace peapod::agent
