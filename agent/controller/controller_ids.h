// What the controller stamps on the objects it makes, as the API server would: times, uids and
// generated name suffixes. One place, so pods and workloads get them the same way.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace peapod::agent::controller {

// Nanoseconds since the Unix epoch, by the wall clock.
int64_t NowNs();
// A random RFC 4122 version 4 UUID, as the API server assigns metadata.uid.
std::string NewUid();
// `length` (at most 16) characters of Kubernetes' generated-name alphabet (no vowels, no
// look-alike digits), as in `<deployment>-<hash>-<suffix>`.
std::string RandomSuffix(size_t length);

}  // namespace peapod::agent::controller
