// A registry's WWW-Authenticate header (`Bearer realm="...",service="...",scope="..."`).
#include <string>

#include "fuzz_support.h"
#include "peapod/image/registry_client.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string header(peapod::fuzz::AsText(data, size));
  (void)peapod::image::ParseAuthChallenge(header);
  (void)peapod::image::IsLoopbackHost(header);
  return 0;
}
