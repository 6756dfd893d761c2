// Image references as users, manifests, CRI requests and archives (repo tags, OCI ref.name
// annotations) give them; a parsed reference must print back to one that parses to itself.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "fuzz_support.h"
#include "peapod/image/reference.h"

using namespace peapod::image;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text = peapod::fuzz::AsText(data, size);
  (void)IsValidDigest(text);
  (void)ParseReferenceNoDefaultTag(text);
  auto ref = ParseReference(text);
  if (!ref) return 0;
  (void)ref->Familiar();
  (void)ref->RepoTag();
  (void)ref->RepoDigest();
  std::string printed = ref->String();
  auto again = ParseReference(printed);
  if (!again || !(*again == *ref)) {
    std::fprintf(stderr, "reference %s does not round-trip\n", printed.c_str());
    std::abort();
  }
  return 0;
}
