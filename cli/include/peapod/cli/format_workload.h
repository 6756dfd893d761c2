// What `peapod get` and `describe` print for Jobs, Deployments, DaemonSets and StatefulSets:
// kubectl's columns, computed from the object JSON the pod API sends (pure functions).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "peapod/cli/format.h"

namespace peapod::cli {

// "deployments", "deploy", "deployment.apps" -> "Deployment"; Job, StatefulSet, DaemonSet
// likewise; "" for any other resource.
std::string WorkloadKindOf(const std::string& resource);
// "deployments" for Deployment, as kubectl names them in messages ("deployments.apps").
std::string WorkloadResource(const std::string& kind);

// kubectl's STATUS of a job: Complete, Failed or Running.
std::string JobStatus(const nlohmann::json& job);

// `get <kind>` with the header; `all_namespaces` adds the NAMESPACE column first.
std::string FormatWorkloadTable(const std::string& kind, const std::vector<nlohmann::json>& items,
                                int64_t now_nanos, bool all_namespaces);

std::string DescribeWorkload(const nlohmann::json& object, const std::vector<std::string>& pods,
                             const std::vector<EventRow>& events, int64_t now_nanos);

// `rollout status`: the line kubectl prints, and whether the rollout is done.
struct RolloutProgress {
  std::string message;
  bool done = false;
};
RolloutProgress DeploymentRolloutStatus(const nlohmann::json& object);
RolloutProgress StatefulSetRolloutStatus(const nlohmann::json& object);

}  // namespace peapod::cli
