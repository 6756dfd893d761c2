// File helpers private to the image library: atomic writes, whole-file reads, tree removal.
#pragma once

#include <string>
#include <string_view>

#include "peapod/error.h"

namespace peapod::image::files {

// Writes temp file in the same dir, fsyncs it, renames over `path`, fsyncs the directory.
Status WriteAtomic(const std::string& path, std::string_view content, mode_t mode = 0644);
Result<std::string> Read(const std::string& path);
// mkdir -p.
Status MakeDirs(const std::string& path);
// Removes a tree without following symlinks; a missing path is fine.
Status RemoveTree(const std::string& path);
Status FsyncDir(const std::string& dir);
// A unique name suffix for temp files and dirs.
std::string UniqueSuffix();

}  // namespace peapod::image::files
