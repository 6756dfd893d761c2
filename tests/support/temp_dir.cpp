#include "support/temp_dir.h"

#include <sys/mount.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <vector>

namespace peapod::testing {

TempDir::TempDir(const std::string& prefix) {
  std::string pattern = "/tmp/" + prefix + "-XXXXXX";
  std::vector<char> buf(pattern.begin(), pattern.end());
  buf.push_back('\0');
  if (mkdtemp(buf.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = buf.data();
}

TempDir::~TempDir() { RemoveTreeWithMounts(path_); }

std::vector<std::string> MountsUnder(const std::string& path) {
  std::vector<std::string> mounts;
  std::ifstream mountinfo("/proc/self/mountinfo");
  std::string line;
  while (std::getline(mountinfo, line)) {
    std::istringstream fields(line);
    std::string id, parent, devno, root, mount_point;
    fields >> id >> parent >> devno >> root >> mount_point;
    if (mount_point == path || mount_point.starts_with(path + "/")) mounts.push_back(mount_point);
  }
  return mounts;
}

void RemoveTreeWithMounts(const std::string& path) {
  std::vector<std::string> mounts = MountsUnder(path);
  std::sort(mounts.begin(), mounts.end(),
            [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  for (const auto& m : mounts) umount2(m.c_str(), MNT_DETACH);
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
}

const std::string& BusyboxRootfs() {
  static std::once_flag once;
  static std::string rootfs;
  std::call_once(once, [] {
    // ctest runs every test in its own process: build the tree once per build dir, under a lock
    // so parallel test processes wait for one builder instead of racing it.
    std::string dir = std::string(PEAPOD_BINARY_DIR) + "/test-rootfs";
    rootfs = dir + "/busybox";
    std::string script = std::string(PEAPOD_SOURCE_DIR) + "/scripts/images/busybox-rootfs.sh";
    std::string cmd = "mkdir -p " + dir + " && flock " + dir + "/.lock sh -c '[ -f " + rootfs +
                      "/.complete ] || { rm -rf " + rootfs + " && " + script + " " + rootfs +
                      " >/dev/null && touch " + rootfs + "/.complete; }'";
    if (std::system(cmd.c_str()) != 0) throw std::runtime_error("busybox-rootfs.sh failed");
  });
  return rootfs;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteFile(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
}

int RunShell(const std::string& command) {
  int status = std::system(command.c_str());
  if (status == -1 || !WIFEXITED(status)) return -1;
  return WEXITSTATUS(status);
}

}  // namespace peapod::testing
