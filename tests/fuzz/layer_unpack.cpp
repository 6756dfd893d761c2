// A layer blob (tar, tar+gzip or tar+zstd) unpacked into a scratch root under small limits, the
// way the image service unpacks every pulled or loaded layer; the root is removed afterwards.
// Device nodes are refused here (the fuzzer runs as root on a shared machine); whiteouts and
// every other entry type are exercised.
#include "fuzz_support.h"
#include "peapod/image/archive_loader.h"
#include "peapod/image/layer_unpacker.h"

using namespace peapod::image;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  peapod::fuzz::ScratchDir dir;
  std::string blob = dir.Write("layer", peapod::fuzz::AsText(data, size));
  (void)DetectLayerMediaType(blob);
  UnpackBudget budget(16 << 20, 4096);
  UnpackOptions options;
  options.allow_device_nodes = false;
  options.budget = &budget;
  (void)UnpackLayer(blob, dir.path() + "/root", options);
  return 0;
}
