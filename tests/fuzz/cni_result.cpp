// What a CNI plugin prints: an ADD result (any spec version), an error object, a VERSION answer;
// and the agent's cached results read back from disk.
#include <string>

#include "fuzz_support.h"
#include "peapod/cni/result.h"
#include "peapod/cni/result_cache.h"
#include "peapod/cni/version.h"

using namespace peapod::cni;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text = peapod::fuzz::AsText(data, size);
  (void)ParseAddResult(text);
  (void)ParsePluginError(text);
  (void)ParseVersionInfo(text);
  (void)ParseSpecVersion(text);
  auto cached = CacheEntryFromJson(std::string(text));
  if (cached) (void)CacheEntryToJson(*cached).dump();
  return 0;
}
