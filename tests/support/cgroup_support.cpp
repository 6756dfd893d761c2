#include "support/cgroup_support.h"

#include <fcntl.h>
#include <unistd.h>

#include <iterator>
#include <set>
#include <sstream>

#include "peapod/runtime/cgroup.h"
#include "support/temp_dir.h"

namespace peapod::testing {

RootSubtreeControlRestorer::RootSubtreeControlRestorer() {
  auto driver = runtime::CgroupDriver::Detect();
  if (driver && driver->Unified() != nullptr) {
    file_ = driver->Unified()->mount_point + "/cgroup.subtree_control";
    before_ = ReadFile(file_);
  }
}

RootSubtreeControlRestorer::~RootSubtreeControlRestorer() {
  if (file_.empty()) return;
  std::istringstream before(before_), now(ReadFile(file_));
  std::set<std::string> had{std::istream_iterator<std::string>(before), {}};
  for (auto it = std::istream_iterator<std::string>(now); it != std::istream_iterator<std::string>();
       ++it) {
    if (had.contains(*it)) continue;
    int fd = ::open(file_.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) continue;
    std::string off = "-" + *it;
    (void)!::write(fd, off.data(), off.size());
    ::close(fd);
  }
}

}  // namespace peapod::testing
