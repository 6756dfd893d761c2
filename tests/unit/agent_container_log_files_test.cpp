// Container log files as rotation leaves them: names, order, the max-files budget, compression
// and the reopen contract (a failed reopen gives the file its name back).
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <string>

#include "peapod/agent/container_log_files.h"
#include "support/temp_dir.h"

namespace peapod::agent {
namespace {

using namespace std::chrono_literals;
using peapod::testing::ReadFile;
using peapod::testing::TempDir;
using peapod::testing::WriteFile;
using Clock = std::chrono::system_clock;

// 2026-01-02T03:04:05.000006Z
Clock::time_point At(int extra_seconds = 0) {
  return Clock::time_point(std::chrono::seconds(1767323045 + extra_seconds)) + 6us;
}

TEST(ContainerLogFiles, RotatedNamesAreKubeletsStampWithMicrosecondsInUtc) {
  EXPECT_EQ(RotatedLogName("/logs/app/0.log", At()), "/logs/app/0.log.20260102-030405.000006");
}

TEST(ContainerLogFiles, RotatedFilesAreListedOldestFirstCompressedOrNot) {
  TempDir dir;
  std::string log = dir / "0.log";
  WriteFile(log, "live\n");
  WriteFile(RotatedLogName(log, At(2)), "c\n");
  WriteFile(RotatedLogName(log, At(1)) + ".gz", "b\n");
  WriteFile(RotatedLogName(log, At(0)) + ".gz", "a\n");
  WriteFile(log + ".20260102-030405.000006.gz.tmp", "unfinished");
  WriteFile(dir / "10.log.20260102-030405.000006", "another container's");
  WriteFile(log + ".garbage", "not ours");
  EXPECT_EQ(RotatedLogFiles(log), (std::vector<std::string>{RotatedLogName(log, At(0)) + ".gz",
                                                            RotatedLogName(log, At(1)) + ".gz",
                                                            RotatedLogName(log, At(2))}));
}

TEST(ContainerLogFiles, ASmallLogIsLeftAlone) {
  TempDir dir;
  std::string log = dir / "0.log";
  WriteFile(log, "small\n");
  int reopened = 0;
  auto rotated = RotateContainerLog(
      log, {.max_size = 100, .max_files = 3},
      [&] {
        ++reopened;
        return Ok();
      },
      At());
  ASSERT_TRUE(rotated.has_value());
  EXPECT_FALSE(*rotated);
  EXPECT_EQ(reopened, 0);
  EXPECT_TRUE(RotatedLogFiles(log).empty());
}

TEST(ContainerLogFiles, RotationKeepsMaxFilesCompressesAllButTheNewestAndReopens) {
  TempDir dir;
  std::string log = dir / "0.log";
  LogRotationPolicy policy{.max_size = 10, .max_files = 3};
  for (int i = 0; i < 5; ++i) {
    WriteFile(log, "generation " + std::to_string(i) + " of the log\n");
    bool reopened = false;
    auto rotated = RotateContainerLog(
        log, policy,
        [&] {
          reopened = true;
          WriteFile(log, "");  // the writer's fresh file
          return Ok();
        },
        At(i));
    ASSERT_TRUE(rotated.has_value()) << rotated.error().ToString();
    EXPECT_TRUE(*rotated);
    EXPECT_TRUE(reopened);
  }
  auto files = RotatedLogFiles(log);
  ASSERT_EQ(files.size(), 2u);  // and the live one: 3
  EXPECT_EQ(files[0], RotatedLogName(log, At(3)) + ".gz");
  EXPECT_EQ(files[1], RotatedLogName(log, At(4)));
  auto oldest = ReadLogFile(files[0]);
  ASSERT_TRUE(oldest.has_value());
  EXPECT_EQ(*oldest, "generation 3 of the log\n");
  EXPECT_NE(ReadFile(files[0]), *oldest);  // really compressed
  EXPECT_EQ(ReadLogFile(files[1]).value_or(""), "generation 4 of the log\n");
  EXPECT_TRUE(std::filesystem::exists(log));
}

TEST(ContainerLogFiles, AFailedReopenGivesTheLogItsNameBack) {
  TempDir dir;
  std::string log = dir / "0.log";
  WriteFile(log, "more than ten bytes\n");
  auto rotated = RotateContainerLog(
      log, {.max_size = 10, .max_files = 5},
      [] { return Fail(ErrorCode::kFailedPrecondition, "container is not running"); }, At());
  EXPECT_FALSE(rotated.has_value());
  EXPECT_EQ(ReadFile(log), "more than ten bytes\n");
  EXPECT_TRUE(RotatedLogFiles(log).empty());
}

TEST(ContainerLogFiles, ReadingAMissingFileIsNotFound) {
  TempDir dir;
  auto text = ReadLogFile(dir / "gone.log");
  ASSERT_FALSE(text.has_value());
  EXPECT_EQ(text.error().code, ErrorCode::kNotFound);
}

TEST(ContainerLogFiles, RemovingALogRemovesItsRotatedFilesOnly) {
  TempDir dir;
  std::string log = dir / "0.log";
  WriteFile(log, "live\n");
  WriteFile(RotatedLogName(log, At()), "old\n");
  WriteFile(dir / "1.log", "next instance\n");
  RemoveContainerLogFiles(log);
  EXPECT_FALSE(std::filesystem::exists(log));
  EXPECT_TRUE(RotatedLogFiles(log).empty());
  EXPECT_TRUE(std::filesystem::exists(dir / "1.log"));
}

}  // namespace
}  // namespace peapod::agent
