// Test helpers: a temporary directory removed with everything below it (mounts detached first),
// and the busybox root filesystem that runtime tests run containers from.
#pragma once

#include <string>
#include <vector>

namespace peapod::testing {

class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "peapod-test");
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir();
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Mount points at or below `path` in this process's mount namespace.
std::vector<std::string> MountsUnder(const std::string& path);
// Detaches every mount at or below `path` (deepest first), then removes the tree.
void RemoveTreeWithMounts(const std::string& path);

// A busybox-static root filesystem built once per build directory by
// scripts/images/busybox-rootfs.sh. Tests must treat it as read-only.
const std::string& BusyboxRootfs();

// Reads a whole file; empty string when it cannot be read.
std::string ReadFile(const std::string& path);
void WriteFile(const std::string& path, const std::string& content);

// Runs a shell command on the host, returns its exit status (-1 when it could not run).
int RunShell(const std::string& command);

}  // namespace peapod::testing
