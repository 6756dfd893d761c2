// StateStore: one JSON record per sandbox and per container under the state root, each written
// atomically (temp file, fsync, rename, fsync dir) so a crash leaves the old or the new record,
// never a torn one. Records are written before the side effect they describe becomes visible.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "peapod/error.h"

namespace peapod::agent {

// Replaces `path` with `content` atomically and durably.
Status WriteFileAtomic(const std::string& path, std::string_view content);

enum class RecordKind { kSandbox, kContainer };

class StateStore {
 public:
  // Creates <state_root>/sandboxes and <state_root>/containers.
  static Result<std::unique_ptr<StateStore>> Open(const std::string& state_root);

  Status Put(RecordKind kind, const std::string& id, std::string_view json);
  // Fine when the record is already gone.
  Status Remove(RecordKind kind, const std::string& id);
  bool Exists(RecordKind kind, const std::string& id) const;
  // Every record of `kind` as (id, json text); leftover temp files are removed.
  Result<std::vector<std::pair<std::string, std::string>>> List(RecordKind kind) const;
  std::string PathOf(RecordKind kind, const std::string& id) const;

 private:
  explicit StateStore(std::string root) : root_(std::move(root)) {}
  std::string DirOf(RecordKind kind) const;
  std::string root_;
};

}  // namespace peapod::agent
