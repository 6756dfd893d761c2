// How the pod API turns CRI log lines into what `kubectl logs` prints.
#include <gtest/gtest.h>

#include "peapod/cri/pod_service.h"

namespace peapod::cri {
namespace {

TEST(CriLogLine, SplitsTimestampStreamTagAndContent) {
  auto line = ParseCriLogLine("2026-11-24T15:00:00.123456789Z stdout F hello world");
  ASSERT_TRUE(line);
  EXPECT_EQ(line->timestamp, "2026-11-24T15:00:00.123456789Z");
  EXPECT_EQ(line->stream, "stdout");
  EXPECT_FALSE(line->partial);
  EXPECT_EQ(line->content, "hello world");
}

TEST(CriLogLine, KeepsPartialLinesOpenAndEmptyContent) {
  auto partial = ParseCriLogLine("2026-11-24T15:00:00Z stderr P abc");
  ASSERT_TRUE(partial);
  EXPECT_TRUE(partial->partial);
  EXPECT_EQ(FormatCriLogLine(*partial, false), "abc");
  auto empty = ParseCriLogLine("2026-11-24T15:00:00Z stdout F");
  ASSERT_TRUE(empty);
  EXPECT_EQ(FormatCriLogLine(*empty, false), "\n");
}

TEST(CriLogLine, RejectsLinesThatAreNotCri) {
  EXPECT_FALSE(ParseCriLogLine("garbage"));
  EXPECT_FALSE(ParseCriLogLine("2026-11-24T15:00:00Z stdin F x"));
}

TEST(CriLogLine, TimestampsArePrefixedAsKubectlDoes) {
  auto line = ParseCriLogLine("2026-11-24T15:00:00.5Z stdout F x");
  ASSERT_TRUE(line);
  EXPECT_EQ(FormatCriLogLine(*line, true), "2026-11-24T15:00:00.5Z x\n");
}

TEST(CriLogTail, FindsTheStartOfTheLastLines) {
  std::string text = "a\nb\nc\n";
  EXPECT_EQ(text.substr(TailOffset(text, 1)), "c\n");
  EXPECT_EQ(text.substr(TailOffset(text, 2)), "b\nc\n");
  EXPECT_EQ(text.substr(TailOffset(text, 3)), text);
  EXPECT_EQ(text.substr(TailOffset(text, 10)), text);
  EXPECT_EQ(text.substr(TailOffset(text, -1)), text);
  EXPECT_EQ(text.substr(TailOffset(text, 0)), "");
}

}  // namespace
}  // namespace peapod::cri
