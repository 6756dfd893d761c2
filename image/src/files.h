// File helpers private to the image library: directories and tree removal (atomic writes and
// whole-file reads are peapod/atomic_file.h).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "peapod/error.h"

namespace peapod::image::files {

// mkdir -p.
Status MakeDirs(const std::string& path);
// Removes a tree without following symlinks; a missing path is fine.
Status RemoveTree(const std::string& path);
// The disk space a file or tree takes (allocated blocks; symlinks not followed; 0 if missing).
uint64_t DiskUsage(const std::string& path);
// A unique name suffix for temp files and dirs.
std::string UniqueSuffix();

}  // namespace peapod::image::files
