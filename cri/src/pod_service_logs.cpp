// PodService::Logs: a container's CRI log file as `kubectl logs` shows it. The CRI prefix
// ("<time> <stream> <P|F> ") is stripped (the time kept with --timestamps), partial lines are
// joined, --tail counts lines from the end, and --follow waits on inotify for the file to grow
// (re-checking at least every 200 ms) until the container instance ends or the client goes away.
#include <fcntl.h>
#include <poll.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "peapod/agent/controller/pod_controller.h"
#include "peapod/cri/grpc_status.h"
#include "peapod/cri/pod_service.h"

namespace peapod::cri {
namespace {

namespace pv1 = ::peapod::v1;
constexpr auto kFollowPoll = std::chrono::milliseconds(200);
constexpr size_t kReadChunk = 64 * 1024;

// Reads what was appended to a file since the last call; keeps an incomplete last line for
// the next call, so only whole CRI lines are handed out.
class LogFileReader {
 public:
  explicit LogFileReader(int fd) : fd_(fd) {}
  ~LogFileReader() { ::close(fd_); }
  LogFileReader(const LogFileReader&) = delete;
  LogFileReader& operator=(const LogFileReader&) = delete;

  // Appends the complete new lines to `lines`; false on a read error.
  bool ReadLines(std::string& lines) {
    char buf[kReadChunk];
    for (;;) {
      ssize_t n = ::read(fd_, buf, sizeof(buf));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return false;
      if (n == 0) break;
      pending_.append(buf, static_cast<size_t>(n));
    }
    size_t last_newline = pending_.rfind('\n');
    if (last_newline == std::string::npos) return true;
    lines.append(pending_, 0, last_newline + 1);
    pending_.erase(0, last_newline + 1);
    return true;
  }

 private:
  int fd_;
  std::string pending_;
};

// An inotify watch for writes to one file; without inotify, WaitForGrowth just sleeps.
class InotifyWatch {
 public:
  explicit InotifyWatch(const std::string& path) : fd_(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) {
    if (fd_ >= 0 && ::inotify_add_watch(fd_, path.c_str(), IN_MODIFY | IN_CLOSE_WRITE) < 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }
  ~InotifyWatch() {
    if (fd_ >= 0) ::close(fd_);
  }
  InotifyWatch(const InotifyWatch&) = delete;
  InotifyWatch& operator=(const InotifyWatch&) = delete;
  int fd() const { return fd_; }

 private:
  int fd_;
};

// Returns when the file was written to, or after kFollowPoll (to notice cancellation and the
// container's end).
void WaitForGrowth(const InotifyWatch& watch) {
  if (watch.fd() < 0) {
    std::this_thread::sleep_for(kFollowPoll);
    return;
  }
  pollfd pfd{watch.fd(), POLLIN, 0};
  if (::poll(&pfd, 1, static_cast<int>(kFollowPoll.count())) > 0) {
    char events[4096];
    while (::read(watch.fd(), events, sizeof(events)) > 0) {
    }
  }
}

bool SendLines(std::string_view text, bool timestamps, grpc::ServerWriter<pv1::LogChunk>* writer) {
  std::string out;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    if (auto line = ParseCriLogLine(text.substr(start, end - start))) {
      out += FormatCriLogLine(*line, timestamps);
    }
    start = end + 1;
  }
  if (out.empty()) return true;
  pv1::LogChunk chunk;
  chunk.set_data(std::move(out));
  return writer->Write(chunk);
}

// True while the container instance whose log we follow may still write to it.
bool StillWriting(agent::controller::PodController& pods, const std::string& ns,
                  const std::string& pod, const std::string& container,
                  const std::string& container_id) {
  auto current = pods.ContainerId(ns, pod, container);
  if (!current || *current != container_id) return false;
  auto view = pods.GetPod(ns, pod);
  if (!view) return false;
  for (const auto* list : {&view->init_container_statuses, &view->container_statuses}) {
    for (const auto& status : *list) {
      if (status.name == container) return status.state.kind == "running";
    }
  }
  return false;
}

}  // namespace

std::optional<CriLogLine> ParseCriLogLine(std::string_view line) {
  size_t first = line.find(' ');
  if (first == std::string_view::npos) return std::nullopt;
  size_t second = line.find(' ', first + 1);
  if (second == std::string_view::npos) return std::nullopt;
  CriLogLine out;
  out.timestamp = line.substr(0, first);
  out.stream = line.substr(first + 1, second - first - 1);
  if (out.stream != "stdout" && out.stream != "stderr") return std::nullopt;
  // The tag field is ':'-separated flags; "P" marks a partial line (CRI log format).
  size_t third = line.find(' ', second + 1);
  std::string_view tag = line.substr(
      second + 1, third == std::string_view::npos ? std::string_view::npos : third - second - 1);
  out.partial = tag.substr(0, tag.find(':')) == "P";
  if (third != std::string_view::npos) out.content = line.substr(third + 1);
  return out;
}

std::string FormatCriLogLine(const CriLogLine& line, bool timestamps) {
  std::string out;
  if (timestamps) {
    out += line.timestamp;
    out += ' ';
  }
  out += line.content;
  if (!line.partial) out += '\n';
  return out;
}

size_t TailOffset(std::string_view text, int64_t lines) {
  if (lines < 0) return 0;
  if (lines == 0) return text.size();
  size_t pos = text.size();
  // A trailing newline ends the last line; it does not start another one.
  if (pos > 0 && text[pos - 1] == '\n') --pos;
  int64_t seen = 0;
  while (pos > 0) {
    size_t newline = text.rfind('\n', pos - 1);
    if (newline == std::string_view::npos) return 0;
    if (++seen == lines) return newline + 1;
    pos = newline;
  }
  return 0;
}

grpc::Status PodService::Logs(Ctx* ctx, const pv1::LogsRequest* req,
                              grpc::ServerWriter<pv1::LogChunk>* writer) {
  if (req->pod().empty()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "a pod name is required");
  }
  const std::string ns = req->namespace_().empty() ? "default" : req->namespace_();
  std::string container = req->container();
  if (auto s = ResolveContainer(ns, req->pod(), container); !s.ok()) return s;
  auto path = pods_.LogPath(ns, req->pod(), container, req->previous());
  if (!path) return ToGrpcStatus(path.error());
  std::string container_id;
  if (req->follow() && !req->previous()) {
    auto id = pods_.ContainerId(ns, req->pod(), container);
    if (id) container_id = *id;
  }

  int fd = ::open(path->c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) {
      return grpc::Status(grpc::StatusCode::NOT_FOUND, "container " + container + " of pod " + ns +
                                                           "/" + req->pod() + " has no log yet (" +
                                                           *path + ")");
    }
    return ToGrpcStatus(FailErrno("open log " + *path).error());
  }
  LogFileReader reader(fd);
  std::string text;
  if (!reader.ReadLines(text)) return ToGrpcStatus(FailErrno("read log " + *path).error());
  std::string_view tail(text);
  tail.remove_prefix(TailOffset(tail, req->has_tail_lines() ? req->tail_lines() : -1));
  if (!SendLines(tail, req->timestamps(), writer)) return grpc::Status::OK;  // client left
  if (!req->follow() || container_id.empty()) return grpc::Status::OK;
  InotifyWatch watch(*path);

  while (!ctx->IsCancelled()) {
    text.clear();
    if (!reader.ReadLines(text)) return ToGrpcStatus(FailErrno("read log " + *path).error());
    if (!text.empty()) {
      if (!SendLines(text, req->timestamps(), writer)) return grpc::Status::OK;
      continue;
    }
    if (!StillWriting(pods_, ns, req->pod(), container, container_id)) {
      // The instance ended: whatever it wrote last is in the file by now.
      text.clear();
      if (reader.ReadLines(text)) SendLines(text, req->timestamps(), writer);
      return grpc::Status::OK;
    }
    WaitForGrowth(watch);
  }
  return grpc::Status::OK;
}

}  // namespace peapod::cri
