// Sanitizer reports from the processes a test starts (peapodd, the CLI): a sanitized child that
// finds a leak, a use-after-free or undefined behaviour prints its report to its own stderr and
// exits, which the test would otherwise not notice (it may even expect a failing exit status).
#pragma once

#include <string>
#include <string_view>

namespace peapod::testing {

// The line of the first ASan, LSan, UBSan or TSan report in `output`, "" when there is none.
std::string FindSanitizerReport(std::string_view output);

// Adds a test failure naming `what` and quoting the report when `output` holds one.
void ExpectNoSanitizerReport(std::string_view what, std::string_view output);

}  // namespace peapod::testing
