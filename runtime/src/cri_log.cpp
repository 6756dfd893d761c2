#include "peapod/runtime/cri_log.h"

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>

#include "peapod/catch_boundary.h"

namespace peapod::runtime {

std::string FormatCriLogEntry(int64_t timestamp_ns, LogStream stream, bool partial,
                              std::string_view text) {
  time_t seconds = static_cast<time_t>(timestamp_ns / 1000000000LL);
  long nanos = static_cast<long>(timestamp_ns % 1000000000LL);
  tm utc{};
  gmtime_r(&seconds, &utc);
  char stamp[64];
  size_t n = std::strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &utc);
  std::snprintf(stamp + n, sizeof(stamp) - n, ".%09ldZ", nanos);
  std::string entry;
  entry.reserve(text.size() + 48);
  entry += stamp;
  entry += stream == LogStream::kStdout ? " stdout " : " stderr ";
  entry += partial ? "P " : "F ";
  entry += text;
  entry += '\n';
  return entry;
}

Result<std::shared_ptr<CriLogWriter>> CriLogWriter::Open(const std::string& path,
                                                         size_t max_line) {
  std::shared_ptr<CriLogWriter> writer(new CriLogWriter(path, max_line));
  if (auto s = writer->Reopen(); !s) return std::unexpected(std::move(s.error()));
  return writer;
}

Status CriLogWriter::Reopen() {
  if (path_.empty()) return Ok();
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path_).parent_path(), ec);
  int fd = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
  if (fd < 0) return FailErrno("open container log " + path_);
  std::lock_guard lock(mu_);
  fd_.Reset(fd);
  return Ok();
}

void CriLogWriter::WriteEntry(LogStream stream, bool partial, std::string_view text) {
  if (!fd_) return;
  std::string entry = FormatCriLogEntry(
      static_cast<int64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count()),
      stream, partial, text);
  // A failed log write must never stall the drain: the entry is dropped, the container goes on.
  size_t off = 0;
  while (off < entry.size()) {
    ssize_t n = ::write(fd_.Get(), entry.data() + off, entry.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    off += static_cast<size_t>(n);
  }
}

void CriLogWriter::Append(LogStream stream, std::string_view bytes) {
  std::lock_guard lock(mu_);
  for (auto& [id, ends] : taps_) {
    int fd = ends[static_cast<int>(stream)].Get();
    if (fd >= 0) (void)!::write(fd, bytes.data(), bytes.size());  // short or EAGAIN: dropped
  }
  std::string& pending = pending_[static_cast<int>(stream)];
  pending.append(bytes);
  size_t start = 0;
  for (;;) {
    size_t newline = pending.find('\n', start);
    size_t line_end = newline == std::string::npos ? pending.size() : newline;
    if (line_end - start > max_line_) {
      WriteEntry(stream, true, std::string_view(pending).substr(start, max_line_));
      start += max_line_;
      continue;
    }
    if (newline == std::string::npos) break;
    WriteEntry(stream, false, std::string_view(pending).substr(start, newline - start));
    start = newline + 1;
  }
  pending.erase(0, start);
}

void CriLogWriter::EndOfStream(LogStream stream) {
  std::lock_guard lock(mu_);
  std::string& pending = pending_[static_cast<int>(stream)];
  if (!pending.empty()) WriteEntry(stream, false, pending);
  pending.clear();
  if (open_streams_ > 0) --open_streams_;
  ended_[static_cast<int>(stream)] = true;
  for (auto& [id, ends] : taps_) ends[static_cast<int>(stream)].Reset();
  closed_cv_.notify_all();
}

Status CriLogWriter::AddTap(Tap& tap) {
  std::array<UniqueFd, 2> write_ends;
  UniqueFd* read_ends[2] = {&tap.stdout_read, &tap.stderr_read};
  for (int s = 0; s < 2; ++s) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return FailErrno("attach to log " + path_ + ": pipe");
    read_ends[s]->Reset(fds[0]);
    write_ends[s].Reset(fds[1]);
    if (::fcntl(fds[1], F_SETFL, O_NONBLOCK) != 0) {
      return FailErrno("attach to log " + path_ + ": non-blocking pipe");
    }
  }
  std::lock_guard lock(mu_);
  for (int s = 0; s < 2; ++s) {
    if (ended_[s]) write_ends[s].Reset();  // that stream is over already
  }
  tap.id = next_tap_++;
  taps_[tap.id] = std::move(write_ends);
  return Ok();
}

void CriLogWriter::RemoveTap(uint64_t id) {
  std::lock_guard lock(mu_);
  taps_.erase(id);
}

void CriLogWriter::ExpectStreams(int count) {
  std::lock_guard lock(mu_);
  open_streams_ = count;
}

bool CriLogWriter::WaitClosed(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  return closed_cv_.wait_for(lock, timeout, [&] { return open_streams_ == 0; });
}

LogCollector::LogCollector()
    : epoll_(::epoll_create1(EPOLL_CLOEXEC)), wake_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = wake_.Get();
  ::epoll_ctl(epoll_.Get(), EPOLL_CTL_ADD, wake_.Get(), &ev);
  thread_ = std::thread([this] { (void)CatchAll("log collector", [this] { Run(); }); });
}

LogCollector::~LogCollector() {
  uint64_t one = 1;
  (void)::write(wake_.Get(), &one, sizeof(one));
  thread_.join();
}

Status LogCollector::Add(UniqueFd read_end, LogStream stream,
                         std::shared_ptr<CriLogWriter> writer) {
  int fd = read_end.Get();
  int flags = ::fcntl(fd, F_GETFL);
  ::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
  auto source = std::make_unique<Source>(Source{std::move(read_end), stream, std::move(writer)});
  {
    std::lock_guard lock(mu_);
    sources_[fd] = std::move(source);
  }
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLHUP;
  ev.data.fd = fd;
  if (::epoll_ctl(epoll_.Get(), EPOLL_CTL_ADD, fd, &ev) != 0) {
    std::lock_guard lock(mu_);
    sources_.erase(fd);
    return FailErrno("watch container log stream");
  }
  return Ok();
}

bool LogCollector::Drain(Source& source) {
  char buf[64 * 1024];
  for (;;) {
    ssize_t n = ::read(source.fd.Get(), buf, sizeof(buf));
    if (n > 0) {
      source.writer->Append(source.stream, std::string_view(buf, static_cast<size_t>(n)));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return false;
    return true;  // EOF: no writer is left
  }
}

void LogCollector::Run() {
  epoll_event events[64];
  for (;;) {
    int n = ::epoll_wait(epoll_.Get(), events, 64, -1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return;
    for (int i = 0; i < n; ++i) {
      int fd = events[i].data.fd;
      if (fd == wake_.Get()) return;
      Source* source = nullptr;
      {
        std::lock_guard lock(mu_);
        auto it = sources_.find(fd);
        if (it != sources_.end()) source = it->second.get();
      }
      if (!source || !Drain(*source)) continue;
      ::epoll_ctl(epoll_.Get(), EPOLL_CTL_DEL, fd, nullptr);
      source->writer->EndOfStream(source->stream);
      std::lock_guard lock(mu_);
      sources_.erase(fd);
    }
  }
}

}  // namespace peapod::runtime
