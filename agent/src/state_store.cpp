#include "peapod/agent/state_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "peapod/atomic_file.h"
#include "peapod/unique_fd.h"

namespace peapod::agent {
namespace {

constexpr std::string_view kSuffix = ".json";
constexpr std::string_view kTempMarker = ".tmp-";  // WriteFileAtomically's temp names

}  // namespace

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
  return WriteFileAtomically(PathOf(kind, id), json, 0600);
}

Status StateStore::Remove(RecordKind kind, const std::string& id) {
  std::string path = PathOf(kind, id);
  if (::unlink(path.c_str()) != 0) {
    if (errno == ENOENT) return Ok();
    return FailErrno("remove record " + path);
  }
  return FsyncDirectory(DirOf(kind));
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
    if (name.find(kTempMarker) != std::string::npos) {
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
