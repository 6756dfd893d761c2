// PodService image verbs CRI lacks: a pull that reports per-layer progress, and loading an
// archive the client streams (CRI has no load at all).
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <mutex>

#include "peapod/agent/agent.h"
#include "peapod/cri/grpc_status.h"
#include "peapod/cri/pod_service.h"
#include "peapod/image/image_service.h"

namespace peapod::cri {
namespace {

namespace pv1 = ::peapod::v1;
// Progress for one blob at most this often; its start and end are always sent.
constexpr auto kProgressInterval = std::chrono::milliseconds(100);

// A temporary file under the state root, removed on destruction.
class SpoolFile {
 public:
  static Result<SpoolFile> Create(const std::string& dir) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) return FailErrno("create " + dir, ec.value());
    std::string path = dir + "/load-XXXXXX";
    int fd = ::mkostemp(path.data(), O_CLOEXEC);
    if (fd < 0) return FailErrno("create a temporary file in " + dir);
    return SpoolFile(fd, std::move(path));
  }
  SpoolFile(SpoolFile&& other) noexcept : fd_(other.fd_), path_(std::move(other.path_)) {
    other.fd_ = -1;
    other.path_.clear();
  }
  SpoolFile& operator=(SpoolFile&&) = delete;
  ~SpoolFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!path_.empty()) ::unlink(path_.c_str());
  }

  Status Write(const std::string& data) {
    size_t done = 0;
    while (done < data.size()) {
      ssize_t n = ::write(fd_, data.data() + done, data.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return FailErrno("write " + path_);
      done += static_cast<size_t>(n);
    }
    return Ok();
  }
  const std::string& path() const { return path_; }

 private:
  SpoolFile(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  int fd_;
  std::string path_;
};

}  // namespace

grpc::Status PodService::PullImage(Ctx*, const pv1::PullImageRequest* req,
                                   grpc::ServerWriter<pv1::PullImageProgress>* writer) {
  if (req->image().empty()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "pull: no image given");
  }
  std::mutex mu;  // the callback runs on several download threads; Write is not thread-safe
  std::map<std::string, std::chrono::steady_clock::time_point> last_sent;
  auto progress = [&](const image::PullProgress& p) {
    auto now = std::chrono::steady_clock::now();
    std::lock_guard lock(mu);
    auto [it, first] = last_sent.try_emplace(p.digest, now);
    if (!first && !p.done && now - it->second < kProgressInterval) return;
    it->second = now;
    pv1::PullImageProgress msg;
    msg.set_digest(p.digest);
    msg.set_bytes_done(p.bytes_done);
    msg.set_bytes_total(p.bytes_total);
    msg.set_done(p.done);
    writer->Write(msg);  // a client that left just stops seeing progress
  };
  auto id = agent_.images().Pull(req->image(), {}, progress);
  if (!id) {
    spdlog::warn("pull {}: {}", req->image(), id.error().ToString());
    return ToGrpcStatus(id.error());
  }
  spdlog::info("pulled image {} as {}", req->image(), *id);
  pv1::PullImageProgress last;
  last.set_done(true);
  last.set_image_id(*id);
  std::lock_guard lock(mu);
  writer->Write(last);
  return grpc::Status::OK;
}

grpc::Status PodService::LoadImage(Ctx*, grpc::ServerReader<pv1::LoadImageChunk>* reader,
                                   pv1::LoadImageResponse* resp) {
  auto spool = SpoolFile::Create(agent_.config().state_root + "/tmp");
  if (!spool) return ToGrpcStatus(spool.error());
  pv1::LoadImageChunk chunk;
  uint64_t bytes = 0;
  while (reader->Read(&chunk)) {
    if (auto s = spool->Write(chunk.data()); !s) return ToGrpcStatus(s.error());
    bytes += chunk.data().size();
  }
  if (bytes == 0) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "load: the archive is empty");
  }
  auto ids = agent_.images().Load(spool->path());
  if (!ids) return ToGrpcStatus(std::move(ids.error()).Context("load image archive"));
  for (const auto& id : *ids) {
    resp->add_image_ids(id);
    auto record = agent_.images().ImageStatus(id);
    if (!record) continue;
    for (const auto& tag : record->repo_tags) resp->add_repo_tags(tag);
    spdlog::info("loaded image {} ({} bytes of archive)", id, bytes);
  }
  return grpc::Status::OK;
}

}  // namespace peapod::cri
