// ImageConfig: the parts of an OCI/Docker image config a container starts from (Entrypoint,
// Cmd, Env, WorkingDir, User, ...) and the rootfs diff ids that identify its layers.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "peapod/error.h"

namespace peapod::image {

struct ContainerDefaults {
  std::vector<std::string> entrypoint;
  std::vector<std::string> cmd;
  std::vector<std::string> env;  // "KEY=value"
  std::string working_dir;
  std::string user;
  std::string stop_signal;
  std::map<std::string, std::string> labels;
  std::vector<std::string> exposed_ports;  // "80/tcp"
  std::vector<std::string> volumes;        // "/data"
};

struct ImageConfig {
  std::string os;
  std::string architecture;
  std::string variant;
  std::string created;  // RFC 3339, may be empty
  std::string author;
  ContainerDefaults defaults;
  std::vector<std::string> diff_ids;  // bottom layer first
};

Result<ImageConfig> ParseImageConfig(std::string_view json);

// ChainID(L0) = DiffID(L0); ChainID(Ln) = sha256(ChainID(Ln-1) + " " + DiffID(Ln)).
std::vector<std::string> ChainIds(const std::vector<std::string>& diff_ids);

}  // namespace peapod::image
