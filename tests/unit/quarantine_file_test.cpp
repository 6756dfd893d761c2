// QuarantineFile (peapod/atomic_file.h): a record the agent cannot use is moved aside, never
// deleted and never overwriting an earlier one.
#include <gtest/gtest.h>

#include <filesystem>

#include "peapod/atomic_file.h"
#include "support/temp_dir.h"

namespace peapod::testing {
namespace {

TEST(QuarantineFile, MovesTheRecordIntoQuarantineBesideIt) {
  TempDir dir("peapod-quarantine");
  WriteFile(dir / "abc.json", "{not json");
  auto moved = QuarantineFile(dir / "abc.json");
  ASSERT_TRUE(moved) << moved.error().ToString();
  EXPECT_EQ(*moved, dir / "quarantine/abc.json");
  EXPECT_FALSE(std::filesystem::exists(dir / "abc.json"));
  EXPECT_EQ(ReadFile(dir / "quarantine/abc.json"), "{not json");

  // A second bad record of the same name keeps the first.
  WriteFile(dir / "abc.json", "{\"id\": 1}");
  auto again = QuarantineFile(dir / "abc.json");
  ASSERT_TRUE(again) << again.error().ToString();
  EXPECT_EQ(*again, dir / "quarantine/abc.json.1");
  EXPECT_EQ(ReadFile(dir / "quarantine/abc.json"), "{not json");
  EXPECT_EQ(ReadFile(dir / "quarantine/abc.json.1"), "{\"id\": 1}");
}

TEST(QuarantineFile, AMissingRecordIsAnErrorAndMakesNothing) {
  TempDir dir("peapod-quarantine");
  auto moved = QuarantineFile(dir / "gone.json");
  ASSERT_FALSE(moved);
  EXPECT_NE(moved.error().message.find("gone.json"), std::string::npos);
}

}  // namespace
}  // namespace peapod::testing
