// The fixtures' search for sanitizer reports in a child's stderr (support/sanitizer_report.h).
#include "support/sanitizer_report.h"

#include <gtest/gtest.h>

namespace peapod::testing {
namespace {

TEST(SanitizerReport, FindsTheFirstLineOfEachSanitizersReport) {
  EXPECT_EQ(
      FindSanitizerReport("[info] started\n==12==ERROR: AddressSanitizer: heap-use-after-free "
                          "on address 0x1\n#0 0x2 in f\n"),
      "==12==ERROR: AddressSanitizer: heap-use-after-free on address 0x1");
  EXPECT_EQ(FindSanitizerReport("==7==ERROR: LeakSanitizer: detected memory leaks"),
            "==7==ERROR: LeakSanitizer: detected memory leaks");
  EXPECT_EQ(
      FindSanitizerReport("a.cpp:3:5: runtime error: signed integer overflow\n"
                          "SUMMARY: UndefinedBehaviorSanitizer: undefined-behavior a.cpp:3:5\n"),
      "SUMMARY: UndefinedBehaviorSanitizer: undefined-behavior a.cpp:3:5");
  EXPECT_EQ(FindSanitizerReport("x\nWARNING: ThreadSanitizer: data race (pid=5)\n"),
            "WARNING: ThreadSanitizer: data race (pid=5)");
}

TEST(SanitizerReport, IgnoresAnOrdinaryLog) {
  EXPECT_EQ(FindSanitizerReport(""), "");
  EXPECT_EQ(
      FindSanitizerReport("[error] CNI plugin said: panic: runtime error: index out of range\n"
                          "[info] peapodd stopped\n"),
      "");
}

}  // namespace
}  // namespace peapod::testing
