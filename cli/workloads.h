// The CLI's verbs on workloads (Jobs, Deployments, DaemonSets, StatefulSets): get, describe,
// delete (cascading), scale, rollout status and rollout undo, over the pod API.
#pragma once

#include <grpcpp/support/status.h>

#include <CLI/CLI.hpp>
#include <functional>
#include <string>
#include <vector>

#include "cri/proto/pod_api.grpc.pb.h"

namespace peapod::cli {

struct WorkloadClient {
  ::peapod::v1::PodService::Stub& pods;
  std::string namespace_;
  bool all_namespaces = false;
  // Prints a failed call as the CLI does and returns its exit code.
  std::function<int(const grpc::Status&)> failed;
};

struct WorkloadFlags {
  int32_t replicas = -1;          // scale --replicas
  std::string timeout = "0s";     // rollout status --timeout (0: wait forever)
  int64_t to_revision = 0;        // rollout undo --to-revision
  std::vector<std::string> args;  // TYPE NAME... or TYPE/NAME...
  std::string rollout_verb;       // status, undo
};

// Whether `args` (TYPE [NAME...] or TYPE/NAME...) name workloads rather than pods.
bool IsWorkloadArgs(const std::vector<std::string>& args);

int GetWorkloads(WorkloadClient& client, const std::vector<std::string>& args,
                 const std::string& output);
int DescribeWorkloads(WorkloadClient& client, const std::vector<std::string>& args);
int DeleteWorkloads(WorkloadClient& client, const std::vector<std::string>& args, bool wait,
                    bool ignore_not_found);

// Adds `scale` and `rollout` to `app`.
void AddWorkloadCommands(CLI::App& app, WorkloadFlags& flags);
int RunScale(WorkloadClient& client, const WorkloadFlags& flags);
int RunRollout(WorkloadClient& client, const WorkloadFlags& flags);

}  // namespace peapod::cli
