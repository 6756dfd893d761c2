// StateStore: one JSON record per sandbox and per container under the run root, each written
// atomically (temp file, fsync, rename, fsync dir) so a crash leaves the old or the new record,
// never a torn one. Records are written before the side effect they describe becomes visible.
//
// The records live on the run root (tmpfs, /run/peapod) because what they describe (pause and
// container processes, namespace pins, mounts) lives only until the next boot too: they survive
// an agent crash or restart, and a reboot clears them together with the objects. What survives a
// reboot on the state root (container dirs, CNI result cache) without a record is swept at
// start-up. On tmpfs the fsyncs cost nothing; on disk they cost 3-20 ms each, which made records
// the largest part of every CRI call.
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
  // Creates <root>/sandboxes and <root>/containers.
  static Result<std::unique_ptr<StateStore>> Open(const std::string& root);

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
