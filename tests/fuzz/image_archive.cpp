// `peapod load`: docker-save archives and OCI image-layout archives (plain or compressed), read
// into a content store in a scratch directory that is removed after each input.
#include "fuzz_support.h"
#include "peapod/image/archive_loader.h"
#include "peapod/image/content_store.h"
#include "peapod/image/reference.h"

using namespace peapod::image;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  peapod::fuzz::ScratchDir dir;
  std::string archive = dir.Write("archive.tar", peapod::fuzz::AsText(data, size));
  auto store = ContentStore::Open(dir.path() + "/store");
  if (!store) std::abort();  // the scratch directory is ours: this is the harness failing
  (void)LoadImageArchive(**store, archive, Platform{"linux", "amd64", ""}, "docker.io/fuzz/base");
  return 0;
}
