// Writes configMap and secret volumes the way kubelet does: the files live in a fresh
// timestamped directory `..<timestamp>`, `..data` points at it and is swapped by rename, and
// every top-level key is a symlink through `..data`, so a reader sees one atomic change.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "peapod/error.h"

namespace peapod::agent::controller {

// `files` maps relative paths (subdirectories allowed, no "..", not absolute) to contents;
// `mode` is the permission of every file. Writing the same content again changes nothing.
Status WriteAtomicVolume(const std::string& dir, const std::map<std::string, std::string>& files,
                         int32_t mode);

}  // namespace peapod::agent::controller
