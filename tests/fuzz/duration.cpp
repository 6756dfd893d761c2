// Durations ("250ms", "10s", "1h30m", a bare number of seconds): peapodd's controller flags and
// whatever else takes a duration from outside. The parser is peapod/parse.h's ParseDuration (from
// the `parsers` branch); until it is in the tree peapodd's own flag parser is not linkable, and
// this target only replays its corpus through nothing.
#include "fuzz_support.h"

#if __has_include("peapod/parse.h")
#include "peapod/parse.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto parsed = peapod::ParseDuration(peapod::fuzz::AsText(data, size));
  if (parsed && parsed->count() < 0) std::abort();  // documented as non-negative
  return 0;
}

#else

extern "C" int LLVMFuzzerTestOneInput(const uint8_t*, size_t) { return 0; }
#endif
