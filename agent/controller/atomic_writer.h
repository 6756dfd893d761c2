// Writes configMap and secret volumes the way kubelet does: the files live in a fresh
// timestamped directory `..<timestamp>`, `..data` points at it and is swapped by rename, and
// every top-level key is a symlink through `..data`, so a reader sees one atomic change.
// One writer per volume directory at a time (the caller serialises).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "peapod/error.h"

namespace peapod::agent::controller {

// `files` maps relative paths (subdirectories allowed, no "..", not absolute) to contents;
// `mode` is the permission of every file. Writing the same content again changes nothing: as
// kubelet, only the set of paths and their bytes decide whether a new version is written.
Status WriteAtomicVolume(const std::string& dir, const std::map<std::string, std::string>& files,
                         int32_t mode);

struct VolumeFile {
  std::string content;
  int32_t mode = 0644;
};

// The same with a mode per file (configMap/secret items[].mode) and, with `fs_group`, every
// file and directory of the new version group-owned by it, group-readable and directories
// setgid (kubelet's fsGroup ownership) — all before the swap, so readers never see the files
// with the wrong mode or owner.
Status WriteAtomicVolumeFiles(const std::string& dir,
                              const std::map<std::string, VolumeFile>& files,
                              std::optional<int64_t> fs_group = std::nullopt);

}  // namespace peapod::agent::controller
