#include "support/systemd_image.h"

#include <cstdio>
#include <mutex>

namespace peapod::testing {

const Result<std::string>& SystemdTestImage() {
  static std::once_flag once;
  static Result<std::string> archive = Fail(ErrorCode::kInternal, "not built");
  std::call_once(once, [] {
    std::string command = std::string(PEAPOD_SOURCE_DIR) +
                          "/scripts/images/systemd-test.sh 2>/tmp/peapod-systemd-test-image.log";
    FILE* pipe = ::popen(command.c_str(), "r");
    if (pipe == nullptr) {
      archive = FailErrno("run " + command);
      return;
    }
    std::string out;
    char buf[4096];
    while (size_t n = std::fread(buf, 1, sizeof buf, pipe)) out.append(buf, n);
    int status = ::pclose(pipe);
    while (!out.empty() && out.back() == '\n') out.pop_back();
    if (status != 0 || out.empty()) {
      archive = Fail(ErrorCode::kInternal, "build the systemd test image: " + command +
                                               " failed (status " + std::to_string(status) +
                                               "); see /tmp/peapod-systemd-test-image.log");
      return;
    }
    archive = out.substr(out.rfind('\n') == std::string::npos ? 0 : out.rfind('\n') + 1);
  });
  return archive;
}

}  // namespace peapod::testing
