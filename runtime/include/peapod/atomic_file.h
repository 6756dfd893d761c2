// Whole-file reads and crash-safe writes: every record, cache entry and pod file goes through
// these, so a crash leaves either the old content or the new, never a torn file.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>

#include "peapod/error.h"

namespace peapod {

// How much a write must survive: every write survives a crash of the process (the rename makes
// it all or nothing); kPowerLoss also fsyncs the file and its directory, so it survives the
// machine going down, at 3-20 ms per fsync on a slow disk.
enum class Durability { kProcessCrash, kPowerLoss };

// Writes `content` to a unique temporary file beside `path` and renames it over `path` (with
// fsyncs per `durability`). On failure `path` is untouched and no temporary file is left.
Status WriteFileAtomically(const std::string& path, std::string_view content, mode_t mode = 0644,
                           Durability durability = Durability::kPowerLoss);
Result<std::string> ReadWholeFile(const std::string& path);
Status FsyncDirectory(const std::string& dir);

// Moves a record the agent cannot use (unparseable, or one that fails every start) out of the
// way, into a "quarantine" directory beside it, so that the agent starts without it and a human
// can still read it. A record of that name already there is not overwritten: the new one gets a
// ".<n>" suffix. Returns the record's new path.
Result<std::string> QuarantineFile(const std::string& path);

}  // namespace peapod
