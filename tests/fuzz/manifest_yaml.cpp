// The pod manifest parser (`peapod apply -f`): multi-document YAML into Pods, ConfigMaps and
// Secrets, validated; then what the controller does with a valid pod (defaults, spec hash) and
// with a valid workload (its JSON record, read back).
#include <string>

#include "fuzz_support.h"
#include "peapod/agent/controller/manifest.h"

using namespace peapod::agent::controller;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(peapod::fuzz::AsText(data, size));
  for (ParseOptions options :
       {ParseOptions{}, ParseOptions{.strict = true}, ParseOptions{.ignore_unsupported = true}}) {
    auto parsed = ParseManifests(text, "fuzz.yaml", options);
    if (!parsed) continue;
    for (auto& pod : parsed->pods) {
      (void)SpecHash(pod);
      (void)SpecHashWithoutMetadata(pod);
    }
    // A workload is persisted as its JSON and read back at start-up: that must parse again.
    for (auto& workload : parsed->workloads) {
      std::string json =
          workload.object.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
      auto again = ParseManifests(json, "record", ParseOptions{.ignore_unsupported = true});
      if (!again || again->workloads.size() != 1) __builtin_trap();
    }
  }
  return 0;
}
