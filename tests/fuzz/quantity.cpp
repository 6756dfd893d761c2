// Kubernetes quantities ("100m", "1.5", "128Mi", "1e3", "10Gi") from manifests and flags, as cpu
// (millicores) and as bytes, through peapod/parse.h (the one parser of numbers from outside), with
// its uid, gid and port parsers.
#include <string_view>

#include "fuzz_support.h"

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
