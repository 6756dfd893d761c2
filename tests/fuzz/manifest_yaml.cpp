// The pod manifest parser (`peapod apply -f`): multi-document YAML into Pods, ConfigMaps and
// Secrets, validated; then what the controller does with a valid pod (defaults, spec hash).
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
  }
  return 0;
}
