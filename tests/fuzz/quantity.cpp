// Kubernetes quantities ("100m", "1.5", "128Mi", "1e3", "10Gi") from manifests and flags, as cpu
// (millicores) and as bytes. Once peapod/parse.h (the one parser of numbers from outside, from
// the `parsers` branch) is in the tree, that is what is fuzzed, uids, gids and ports included;
// before it, the manifest reader's quantity parser.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "fuzz_support.h"

#if __has_include("peapod/parse.h")
#include "peapod/parse.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text = peapod::fuzz::AsText(data, size);
  (void)peapod::ParseQuantity(text, peapod::QuantityScale::kUnits);
  (void)peapod::ParseQuantity(text, peapod::QuantityScale::kMilli);
  (void)peapod::ParseUnsigned(text);
  (void)peapod::ParseSigned(text);
  (void)peapod::ParseUid(text);
  (void)peapod::ParseGid(text);
  (void)peapod::ParsePort(text, true);
  return 0;
}

#else
#include "peapod/agent/controller/manifest.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(peapod::fuzz::AsText(data, size));
  for (bool cpu : {true, false}) {
    auto quantity = peapod::agent::controller::ParseQuantity(text, cpu);
    if (quantity && quantity->text != text) {
      std::fprintf(stderr, "quantity \"%s\" lost its text\n", text.c_str());
      std::abort();
    }
  }
  return 0;
}
#endif
