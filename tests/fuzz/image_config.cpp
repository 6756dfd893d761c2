// An image's config JSON (from a registry or an archive) and what the agent derives from it: the
// layer chain ids, and the runAsNonRoot check against the image's USER.
#include "peapod/image/image_config.h"

#include "../../agent/controller/pod_config.h"
#include "fuzz_support.h"
#include "peapod/agent/controller/manifest.h"

using namespace peapod;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto config = image::ParseImageConfig(fuzz::AsText(data, size));
  if (!config) return 0;
  (void)image::ChainIds(config->diff_ids);
  agent::controller::Pod pod;
  pod.spec.security_context.emplace();
  pod.spec.security_context->run_as_non_root = true;
  agent::controller::Container container;
  container.name.push_back('c');  // not = "c": GCC 12 -Wrestrict false positive (PR105329)
  (void)agent::controller::ConvertSecurityContext(pod, container, config->defaults.user);
  return 0;
}
