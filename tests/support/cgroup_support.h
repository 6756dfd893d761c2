// Cgroup test helpers: leave the host's cgroup roots as the test found them.
#pragma once

#include <string>

namespace peapod::testing {

// Enabling controllers at the root of the unified hierarchy is what a runtime does, but a test
// should leave the host as it found it: restores the root's cgroup.subtree_control on
// destruction (best effort: another test process may still use a controller).
class RootSubtreeControlRestorer {
 public:
  RootSubtreeControlRestorer();
  ~RootSubtreeControlRestorer();
  RootSubtreeControlRestorer(const RootSubtreeControlRestorer&) = delete;
  RootSubtreeControlRestorer& operator=(const RootSubtreeControlRestorer&) = delete;

 private:
  std::string file_;
  std::string before_;
};

}  // namespace peapod::testing
