// The systemd test image (scripts/images/systemd-test.sh): a minimal Debian whose command is
// /sbin/init, built once per machine and cached under /var/cache/peapod/images.
#pragma once

#include <string>

#include "peapod/error.h"

namespace peapod::testing {

// The OCI archive's path, building it the first time (debootstrap from the Debian archive apt
// uses: a minute or two). The image is docker.io/library/systemd-test:latest.
const Result<std::string>& SystemdTestImage();

}  // namespace peapod::testing
