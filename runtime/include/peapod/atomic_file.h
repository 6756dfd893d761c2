// Whole-file reads and crash-safe writes: every record, cache entry and pod file goes through
// these, so a crash leaves either the old content or the new, never a torn file.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>

#include "peapod/error.h"

namespace peapod {

// Writes `content` to a unique temporary file beside `path`, fsyncs it, renames it over `path`
// and fsyncs the directory. On failure `path` is untouched and no temporary file is left.
Status WriteFileAtomically(const std::string& path, std::string_view content, mode_t mode = 0644);
Result<std::string> ReadWholeFile(const std::string& path);
Status FsyncDirectory(const std::string& dir);

}  // namespace peapod
