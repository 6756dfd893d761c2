// PodService::Logs: a container's CRI log as `kubectl logs` shows it, read across the files log
// rotation made (<log>.<stamp>[.gz], oldest first, then the live one). The CRI prefix
// ("<time> <stream> <P|F> ") is stripped (the time kept with --timestamps), partial lines are
// joined, --tail counts lines from the end, --since drops older lines, and --follow waits on
// inotify for the file to grow (re-checking at least every 200 ms), moves to the fresh file
// after a rotation and to the next instance's log after a restart, until no instance will
// write again or the client goes away.
#include <fcntl.h>
#include <poll.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <memory>
#include <thread>

#include "peapod/agent/container_log_files.h"
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

  // Whether `path` still names the file this reads (not after a rotation renamed it away).
  bool IsAt(const std::string& path) const {
    struct stat mine {
    }, there{};
    if (::fstat(fd_, &mine) != 0 || ::stat(path.c_str(), &there) != 0) return false;
    return mine.st_dev == there.st_dev && mine.st_ino == there.st_ino;
  }
  bool SameFile(const struct stat& st) const {
    struct stat mine {};
    return ::fstat(fd_, &mine) == 0 && mine.st_dev == st.st_dev && mine.st_ino == st.st_ino;
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

// What the lines go through: --timestamps, and --since as the oldest timestamp to show (CRI
// log timestamps are fixed-width UTC, so text order is time order).
struct LineFilter {
  bool timestamps = false;
  std::string since;  // empty: every line
};

bool SendLines(std::string_view text, const LineFilter& filter,
               grpc::ServerWriter<pv1::LogChunk>* writer) {
  std::string out;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    if (auto line = ParseCriLogLine(text.substr(start, end - start))) {
      if (filter.since.empty() || line->timestamp >= filter.since) {
        out += FormatCriLogLine(*line, filter.timestamps);
      }
    }
    start = end + 1;
  }
  if (out.empty()) return true;
  pv1::LogChunk chunk;
  chunk.set_data(std::move(out));
  return writer->Write(chunk);
}

// The CRI log timestamp of `ago` before now.
std::string StampAgo(std::chrono::seconds ago) {
  auto at = std::chrono::system_clock::now() - ago;
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(at.time_since_epoch()).count();
  std::time_t seconds = static_cast<std::time_t>(ns / 1000000000LL);
  std::tm utc{};
  ::gmtime_r(&seconds, &utc);
  char stamp[64];
  size_t n = std::strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &utc);
  std::snprintf(stamp + n, sizeof(stamp) - n, ".%09ldZ", static_cast<long>(ns % 1000000000LL));
  return stamp;
}

const agent::controller::ContainerStatusView* FindStatus(const agent::controller::PodView& view,
                                                         const std::string& container) {
  for (const auto* list : {&view.init_container_statuses, &view.container_statuses}) {
    for (const auto& status : *list) {
      if (status.name == container) return &status;
    }
  }
  return nullptr;
}

// True while the container instance whose log we follow may still write to it.
bool StillWriting(agent::controller::PodController& pods, const std::string& ns,
                  const std::string& pod, const std::string& container,
                  const std::string& container_id) {
  auto current = pods.ContainerId(ns, pod, container);
  if (!current || *current != container_id) return false;
  auto view = pods.GetPod(ns, pod);
  if (!view) return false;
  const auto* status = FindStatus(*view, container);
  return status != nullptr && status->state.kind == "running";
}

// Whether the controller will start another instance of `container` after `exit_code`
// (restartPolicy of the pod; sidecars always restart; a pod being deleted never).
bool WillRestart(const agent::controller::PodView& view, const std::string& container,
                 int32_t exit_code) {
  if (view.deleting || view.phase == "Succeeded" || view.phase == "Failed") return false;
  const std::string& policy = view.spec.spec.restart_policy;
  for (const auto& c : view.spec.spec.init_containers) {
    if (c.name != container) continue;
    if (c.IsSidecar()) return true;
    return exit_code != 0 && policy != "Never";
  }
  if (policy == "Always") return true;
  return policy == "OnFailure" && exit_code != 0;
}

// Follow across restarts: waits for the instance after `container_id` to have a log file and
// returns its path and id; nullopt when none will come (the pod is gone, finished, or the
// container does not restart) or the client left.
std::optional<std::pair<std::string, std::string>> WaitForNextInstance(
    agent::controller::PodController& pods, grpc::ServerContext* ctx, const std::string& ns,
    const std::string& pod, const std::string& container, const std::string& container_id) {
  while (!ctx->IsCancelled()) {
    auto view = pods.GetPod(ns, pod);
    if (!view) return std::nullopt;
    auto current = pods.ContainerId(ns, pod, container);
    if (current && !current->empty() && *current != container_id) {
      auto path = pods.LogPath(ns, pod, container, false);
      if (path && ::access(path->c_str(), F_OK) == 0) return std::pair{*path, *current};
    } else {
      const auto* status = FindStatus(*view, container);
      if (status == nullptr) return std::nullopt;
      if (status->state.kind == "terminated" &&
          !WillRestart(*view, container, status->state.exit_code)) {
        return std::nullopt;
      }
      if (view->deleting) return std::nullopt;
    }
    std::this_thread::sleep_for(kFollowPoll);
  }
  return std::nullopt;
}

// The rotated files of `path` to read before the live one, oldest first: the newest ones
// holding at least `tail` lines (all with tail < 0), less the file `reader` reads (the live
// one, which a rotation may just have renamed into their number).
std::vector<std::string> RotatedToRead(const std::string& path, const LogFileReader& reader,
                                       int64_t tail, int64_t lines_in_live) {
  std::vector<std::string> out;
  int64_t lines = lines_in_live;
  auto rotated = agent::RotatedLogFiles(path);
  for (auto it = rotated.rbegin(); it != rotated.rend(); ++it) {
    if (tail >= 0 && lines >= tail) break;
    struct stat st {};
    if (::stat(it->c_str(), &st) == 0 && reader.SameFile(st)) continue;
    out.insert(out.begin(), *it);
    if (tail >= 0) {
      auto text = agent::ReadLogFile(*it);
      if (text) lines += static_cast<int64_t>(std::count(text->begin(), text->end(), '\n'));
    }
  }
  return out;
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
  LineFilter filter{req->timestamps(), ""};
  if (req->has_since_seconds() && req->since_seconds() > 0) {
    filter.since = StampAgo(std::chrono::seconds(req->since_seconds()));
  }
  const int64_t tail = req->has_tail_lines() ? req->tail_lines() : -1;

  // The live file is opened first: rotated files are read up to it, and a rotation meanwhile
  // renames it among them, where it is recognised by its inode and read once, through the fd.
  int fd = ::open(path->c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) {
      return grpc::Status(grpc::StatusCode::NOT_FOUND, "container " + container + " of pod " + ns +
                                                           "/" + req->pod() + " has no log yet (" +
                                                           *path + ")");
    }
    return ToGrpcStatus(FailErrno("open log " + *path).error());
  }
  auto reader = std::make_unique<LogFileReader>(fd);
  std::string live;
  if (!reader->ReadLines(live)) return ToGrpcStatus(FailErrno("read log " + *path).error());
  std::string text;
  for (const auto& rotated :
       RotatedToRead(*path, *reader, tail,
                     static_cast<int64_t>(std::count(live.begin(), live.end(), '\n')))) {
    auto content = agent::ReadLogFile(rotated);
    // Compressed by a rotation since it was listed.
    if (!content && content.error().code == ErrorCode::kNotFound) {
      content = agent::ReadLogFile(rotated + ".gz");
    }
    if (!content) continue;  // deleted as the oldest since: nothing to show of it
    size_t last_newline = content->rfind('\n');
    if (last_newline != std::string::npos) text.append(*content, 0, last_newline + 1);
  }
  text += live;
  std::string_view shown(text);
  shown.remove_prefix(TailOffset(shown, tail));
  if (!SendLines(shown, filter, writer)) return grpc::Status::OK;  // client left
  if (!req->follow() || container_id.empty()) return grpc::Status::OK;
  auto watch = std::make_unique<InotifyWatch>(*path);

  while (!ctx->IsCancelled()) {
    text.clear();
    if (!reader->ReadLines(text)) return ToGrpcStatus(FailErrno("read log " + *path).error());
    if (!text.empty()) {
      if (!SendLines(text, filter, writer)) return grpc::Status::OK;
      continue;
    }
    // Rotated: the writer has reopened, so the old file is complete once read to its end.
    if (::access(path->c_str(), F_OK) == 0 && !reader->IsAt(*path)) {
      text.clear();
      if (reader->ReadLines(text) && !SendLines(text, filter, writer)) return grpc::Status::OK;
      int next = ::open(path->c_str(), O_RDONLY | O_CLOEXEC);
      if (next >= 0) {
        reader = std::make_unique<LogFileReader>(next);
        watch = std::make_unique<InotifyWatch>(*path);
      }
      continue;
    }
    if (!StillWriting(pods_, ns, req->pod(), container, container_id)) {
      // The instance ended: whatever it wrote last is in the file by now.
      text.clear();
      if (reader->ReadLines(text) && !SendLines(text, filter, writer)) return grpc::Status::OK;
      // As `kubectl logs -f` across restarts: go on with the next instance's log.
      auto next = WaitForNextInstance(pods_, ctx, ns, req->pod(), container, container_id);
      if (!next) return grpc::Status::OK;
      int next_fd = ::open(next->first.c_str(), O_RDONLY | O_CLOEXEC);
      if (next_fd < 0) return grpc::Status::OK;
      *path = next->first;
      container_id = next->second;
      reader = std::make_unique<LogFileReader>(next_fd);
      watch = std::make_unique<InotifyWatch>(*path);
      continue;
    }
    WaitForGrowth(*watch);
  }
  return grpc::Status::OK;
}

}  // namespace peapod::cri
