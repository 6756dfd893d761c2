#include "peapod/agent/state_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "peapod/unique_fd.h"

namespace peapod::agent {
namespace {

constexpr std::string_view kSuffix = ".json";
constexpr std::string_view kTempSuffix = ".tmp";

Status FsyncDir(const std::string& dir) {
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) return FailErrno("open directory " + dir);
  if (::fsync(fd.Get()) != 0) return FailErrno("fsync directory " + dir);
  return Ok();
}

Result<std::string> ReadWholeFile(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return FailErrno("open " + path);
  std::string content;
  char buf[16384];
  for (;;) {
    ssize_t n = ::read(fd.Get(), buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return FailErrno("read " + path);
    if (n == 0) break;
    content.append(buf, static_cast<size_t>(n));
  }
  return content;
}

}  // namespace

Status WriteFileAtomic(const std::string& path, std::string_view content) {
  std::string dir = std::filesystem::path(path).parent_path();
  std::string temp = path + std::string(kTempSuffix);
  UniqueFd fd(::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (!fd) return FailErrno("create " + temp);
  size_t written = 0;
  while (written < content.size()) {
    ssize_t n = ::write(fd.Get(), content.data() + written, content.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      auto err = FailErrno("write " + temp);
      ::unlink(temp.c_str());
      return err;
    }
    written += static_cast<size_t>(n);
  }
  if (::fsync(fd.Get()) != 0) {
    auto err = FailErrno("fsync " + temp);
    ::unlink(temp.c_str());
    return err;
  }
  fd.Reset();
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    auto err = FailErrno("rename " + temp + " to " + path);
    ::unlink(temp.c_str());
    return err;
  }
  return FsyncDir(dir);
}

Result<std::unique_ptr<StateStore>> StateStore::Open(const std::string& state_root) {
  std::unique_ptr<StateStore> store(new StateStore(state_root));
  for (RecordKind kind : {RecordKind::kSandbox, RecordKind::kContainer}) {
    std::error_code ec;
    std::filesystem::create_directories(store->DirOf(kind), ec);
    if (ec) return FailErrno("create state dir " + store->DirOf(kind), ec.value());
  }
  return store;
}

std::string StateStore::DirOf(RecordKind kind) const {
  return root_ + (kind == RecordKind::kSandbox ? "/sandboxes" : "/containers");
}

std::string StateStore::PathOf(RecordKind kind, const std::string& id) const {
  return DirOf(kind) + "/" + id + std::string(kSuffix);
}

Status StateStore::Put(RecordKind kind, const std::string& id, std::string_view json) {
  return WriteFileAtomic(PathOf(kind, id), json);
}

Status StateStore::Remove(RecordKind kind, const std::string& id) {
  std::string path = PathOf(kind, id);
  if (::unlink(path.c_str()) != 0) {
    if (errno == ENOENT) return Ok();
    return FailErrno("remove record " + path);
  }
  return FsyncDir(DirOf(kind));
}

bool StateStore::Exists(RecordKind kind, const std::string& id) const {
  struct stat st {};
  return ::stat(PathOf(kind, id).c_str(), &st) == 0;
}

Result<std::vector<std::pair<std::string, std::string>>> StateStore::List(RecordKind kind) const {
  std::vector<std::pair<std::string, std::string>> records;
  std::string dir = DirOf(kind);
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    std::string name = entry.path().filename();
    if (name.ends_with(kTempSuffix)) {
      // A write that crashed before its rename: the old record (if any) is still whole.
      ::unlink(entry.path().c_str());
      continue;
    }
    if (!name.ends_with(kSuffix) || entry.is_directory()) continue;
    auto content = ReadWholeFile(entry.path());
    if (!content) return std::unexpected(std::move(content.error()));
    records.emplace_back(name.substr(0, name.size() - kSuffix.size()), std::move(*content));
  }
  if (ec) return FailErrno("list records in " + dir, ec.value());
  return records;
}

}  // namespace peapod::agent
