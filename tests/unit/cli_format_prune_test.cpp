#include <gtest/gtest.h>

#include "peapod/cli/format_prune.h"

namespace peapod::cli {
namespace {

TEST(FormatPruneSummary, ListsEachImageWithItsNamesAndTheTotal) {
  std::string out = FormatPruneSummary(
      {{"sha256:aaa", {"docker.io/library/nginx:1", "docker.io/library/nginx:latest"}, 1500000},
       {"sha256:bbb", {}, 512}},
      1500512);
  EXPECT_EQ(out,
            "Deleted Images:\n"
            "deleted: sha256:aaa (docker.io/library/nginx:1, docker.io/library/nginx:latest), "
            "1.5MB freed\n"
            "deleted: sha256:bbb (<none>), 512B freed\n"
            "Total reclaimed space: 1.5MB\n");
}

TEST(FormatPruneSummary, NothingRemovedSaysSo) {
  EXPECT_EQ(FormatPruneSummary({}, 0), "Total reclaimed space: 0B\n");
}

}  // namespace
}  // namespace peapod::cli
