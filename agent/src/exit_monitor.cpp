#include "peapod/agent/exit_monitor.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>

#include <cstdint>
#include <cstring>

#include "peapod/catch_boundary.h"

namespace peapod::agent {
namespace {
constexpr uint64_t kWakeToken = 0;
// How soon an exit whose object was busy is offered again.
constexpr int kRetryMs = 20;
}  // namespace

Result<std::unique_ptr<ExitMonitor>> ExitMonitor::Start(Callback callback) {
  std::unique_ptr<ExitMonitor> m(new ExitMonitor(std::move(callback)));
  m->epoll_.Reset(::epoll_create1(EPOLL_CLOEXEC));
  if (!m->epoll_) return FailErrno("exit monitor: epoll_create1");
  m->wake_.Reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!m->wake_) return FailErrno("exit monitor: eventfd");
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = kWakeToken;
  if (::epoll_ctl(m->epoll_.Get(), EPOLL_CTL_ADD, m->wake_.Get(), &ev) != 0) {
    return FailErrno("exit monitor: watch eventfd");
  }
  m->thread_ =
      std::thread([raw = m.get()] { (void)CatchAll("exit monitor", [raw] { raw->Run(); }); });
  return m;
}

ExitMonitor::~ExitMonitor() {
  uint64_t one = 1;
  if (wake_) (void)!::write(wake_.Get(), &one, sizeof(one));
  if (thread_.joinable()) thread_.join();
}

Status ExitMonitor::Watch(const std::string& key, int pidfd) {
  UniqueFd dup(::fcntl(pidfd, F_DUPFD_CLOEXEC, 0));
  if (!dup) return FailErrno("exit monitor: dup pidfd of " + key);
  std::lock_guard lock(mu_);
  for (auto it = watched_.begin(); it != watched_.end(); ++it) {
    if (it->second.first == key) {
      ::epoll_ctl(epoll_.Get(), EPOLL_CTL_DEL, it->second.second.Get(), nullptr);
      watched_.erase(it);
      break;
    }
  }
  uint64_t token = next_token_++;
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = token;
  if (::epoll_ctl(epoll_.Get(), EPOLL_CTL_ADD, dup.Get(), &ev) != 0) {
    return FailErrno("exit monitor: watch pidfd of " + key);
  }
  watched_.emplace(token, std::make_pair(key, std::move(dup)));
  return Ok();
}

void ExitMonitor::Unwatch(const std::string& key) {
  std::lock_guard lock(mu_);
  for (auto it = watched_.begin(); it != watched_.end(); ++it) {
    if (it->second.first == key) {
      if (it->second.second) ::epoll_ctl(epoll_.Get(), EPOLL_CTL_DEL, it->second.second.Get(), nullptr);
      watched_.erase(it);
      return;
    }
  }
}

void ExitMonitor::Run() {
  std::vector<uint64_t> pending;  // exited, not yet handled
  for (;;) {
    epoll_event events[32];
    int n = ::epoll_wait(epoll_.Get(), events, 32, pending.empty() ? -1 : kRetryMs);
    if (n < 0 && errno != EINTR) {
      spdlog::error("exit monitor: epoll_wait: {}", std::strerror(errno));
      return;
    }
    for (int i = 0; i < n; ++i) {
      uint64_t token = events[i].data.u64;
      if (token == kWakeToken) return;
      std::lock_guard lock(mu_);
      auto it = watched_.find(token);
      if (it == watched_.end()) continue;
      // Level-triggered: stop polling it, the exit is now pending until handled.
      ::epoll_ctl(epoll_.Get(), EPOLL_CTL_DEL, it->second.second.Get(), nullptr);
      it->second.second.Reset();
      pending.push_back(token);
    }
    std::vector<uint64_t> still_pending;
    for (uint64_t token : pending) {
      std::string key;
      {
        std::lock_guard lock(mu_);
        auto it = watched_.find(token);
        if (it == watched_.end()) continue;  // unwatched meanwhile
        key = it->second.first;
      }
      // One exit whose handling throws is dropped (and logged); the others are still handled.
      bool handled = true;
      (void)CatchAll("exit monitor: handle exit of " + key, [&] { handled = callback_(key); });
      if (!handled) {
        still_pending.push_back(token);
        continue;
      }
      std::lock_guard lock(mu_);
      watched_.erase(token);
    }
    pending = std::move(still_pending);
  }
}

}  // namespace peapod::agent
