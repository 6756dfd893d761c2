// peapodd's config file (/etc/peapod/config.yaml) through the YAML document model: every input
// is applied or refused with file:line, and what is applied prints back as a file that reads.
#include <cstdlib>
#include <string_view>

#include "fuzz_support.h"

#include "peapod/agent/daemon_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text = peapod::fuzz::AsText(data, size);
  peapod::agent::DaemonConfig config;
  if (!peapod::agent::ApplyDaemonConfigText(text, "config.yaml", config)) return 0;
  std::string printed = peapod::agent::FormatDaemonConfig(config);
  peapod::agent::DaemonConfig again;
  if (!peapod::agent::ApplyDaemonConfigText(printed, "printed", again) ||
      peapod::agent::FormatDaemonConfig(again) != printed) {
    std::abort();  // --print-config must print a config file that gives the same configuration
  }
  return 0;
}
