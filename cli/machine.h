// `peapod machine`: footloose's verbs (create, show, ssh, start, stop, delete) over a footloose
// config, each machine a supervised pod named "<cluster>-<hostname>".
#pragma once

#include <grpcpp/support/status.h>

#include <CLI/CLI.hpp>
#include <functional>
#include <string>
#include <vector>

#include "cri/proto/pod_api.grpc.pb.h"

namespace peapod::cli {

struct MachineFlags {
  std::string config = "footloose.yaml";
  std::string output;                 // show: "" (table) or json
  std::vector<std::string> machines;  // start/stop/delete/show: names to act on (default: all)
  std::string target;                 // ssh: [user@]hostname
  std::vector<std::string> command;   // ssh: the remote command, after --
};

// Adds `machine` and its verbs to `app`; returns the `machine` subcommand.
CLI::App* AddMachineCommands(CLI::App& app, MachineFlags& flags);

// Runs the verb chosen under `machine`. `failed` prints a failed call as the CLI does and returns
// its exit code.
int RunMachineCommand(CLI::App& machine, const MachineFlags& flags,
                      ::peapod::v1::PodService::Stub& pods, const std::string& namespace_,
                      const std::function<int(const grpc::Status&)>& failed);

}  // namespace peapod::cli
