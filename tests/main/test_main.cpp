// main() of every test binary: GoogleTest's, after re-executing from a read-only view of the test
// binary, as peapodd does. The runtime refuses to start a process in a container from a process
// whose executable a container could reach (sealed_executable.h), and the tests start containers
// in-process.
#include <gtest/gtest.h>

#include <cstdio>

#include "peapod/runtime/sealed_executable.h"

int main(int argc, char** argv) {
  if (auto s = peapod::runtime::RunFromSealedSelf(argv); !s) {
    std::fprintf(stderr, "%s: %s\n", argv[0], s.error().ToString().c_str());
    return 1;
  }
  testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
