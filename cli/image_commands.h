// `peapod image ...`: image verbs beyond images/pull/load/rmi. `image prune` removes unused
// images by hand (untagged ones; with --all every image no container uses, as
// `crictl rmi --prune`) and says what went and how much space it freed.
#pragma once

#include <grpcpp/support/status.h>

#include <CLI/CLI.hpp>
#include <functional>

#include "cri/proto/pod_api.grpc.pb.h"

namespace peapod::cli {

struct ImageFlags {
  bool all = false;  // prune: every unused image, not only untagged ones
};

CLI::App* AddImageCommands(CLI::App& app, ImageFlags& flags);

int RunImageCommand(CLI::App& image, const ImageFlags& flags, ::peapod::v1::PodService::Stub& pods,
                    const std::function<int(const grpc::Status&)>& failed);

}  // namespace peapod::cli
