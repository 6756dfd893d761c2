#include "support/sanitizer_report.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>

namespace peapod::testing {
namespace {

// The first line each sanitizer prints for a finding. UBSan's is "<file>:<line>:<col>: runtime
// error: ...", so its summary line is the unambiguous one.
constexpr std::array<std::string_view, 6> kReportMarkers = {"ERROR: AddressSanitizer",
                                                            "ERROR: LeakSanitizer",
                                                            "WARNING: ThreadSanitizer",
                                                            "ERROR: ThreadSanitizer",
                                                            "SUMMARY: UndefinedBehaviorSanitizer",
                                                            "SUMMARY: AddressSanitizer"};

// How much of a report a failure message quotes.
constexpr size_t kQuoteLimit = 6000;

}  // namespace

std::string FindSanitizerReport(std::string_view output) {
  size_t first = std::string_view::npos;
  for (std::string_view marker : kReportMarkers) first = std::min(first, output.find(marker));
  if (first == std::string_view::npos) return "";
  size_t begin = output.rfind('\n', first);
  begin = begin == std::string_view::npos ? 0 : begin + 1;
  size_t end = output.find('\n', first);
  return std::string(output.substr(begin, end == std::string_view::npos ? end : end - begin));
}

void ExpectNoSanitizerReport(std::string_view what, std::string_view output) {
  std::string line = FindSanitizerReport(output);
  if (line.empty()) return;
  size_t at = output.find(line);
  ADD_FAILURE() << what << " reported a sanitizer finding: " << line << "\n"
                << output.substr(at, kQuoteLimit);
}

}  // namespace peapod::testing
