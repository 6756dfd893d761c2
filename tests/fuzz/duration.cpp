// Durations ("250ms", "10s", "1h30m", a bare number of seconds): peapodd's controller flags and
// whatever else takes a duration from outside, through peapod/parse.h's ParseDuration.
#include "fuzz_support.h"
#include "peapod/parse.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto parsed = peapod::ParseDuration(peapod::fuzz::AsText(data, size));
  if (parsed && parsed->count() < 0) std::abort();  // documented as non-negative
  return 0;
}
