// The pod controller's PodView as a Kubernetes v1 Pod object (JSON): the document the pod API
// sends and `peapod get pod -o json` prints, so the CLI reads pods exactly as kubectl reads
// them from an API server.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "peapod/agent/controller/pod_controller.h"

namespace peapod::cri {

// RFC 3339 in UTC with second precision, as the API server writes timestamps
// ("2026-11-24T14:54:21Z"); empty for 0.
std::string Rfc3339(int64_t unix_nanos);

nlohmann::json PodSpecToJson(const agent::controller::Pod& pod);
// `now_nanos` stands in for the deletion timestamp of a pod being deleted (kubectl shows
// "Terminating" for any pod that has one).
nlohmann::json PodViewToJson(const agent::controller::PodView& view, int64_t now_nanos);

}  // namespace peapod::cri
