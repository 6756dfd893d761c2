// Seccomp profiles: a Localhost JSON profile (OCI/Docker format) compiled to BPF, with the
// container's capabilities taken from the first byte (none, all, or CAP_SYS_ADMIN alone, which
// relaxes the default rules as Docker's do), and CRI's legacy profile strings.
#include "fuzz_support.h"
#include "peapod/runtime/security.h"

using namespace peapod::runtime;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text = peapod::fuzz::AsText(data, size);
  if (text.empty()) return 0;
  static constexpr uint64_t kCaps[] = {0, ~uint64_t{0}, uint64_t{1} << 21 /* CAP_SYS_ADMIN */};
  uint64_t caps = kCaps[static_cast<uint8_t>(text[0]) % std::size(kCaps)];
  text.remove_prefix(1);
  (void)CompileSeccompJson(text, caps);
  (void)ParseLegacySeccompProfile(text);
  return 0;
}
