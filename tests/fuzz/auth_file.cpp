// peapodd's registry auth file (a docker config.json): JSON from the administrator, but kept to
// the standard of every parser of outside input: errors, never a crash or an exception.
#include <string_view>

#include "fuzz_support.h"

#include "peapod/image/registry_client.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text = peapod::fuzz::AsText(data, size);
  (void)peapod::image::ParseAuthFile(text, "auth.json");
  (void)peapod::image::NormalizeRegistryHost(text);
  return 0;
}
