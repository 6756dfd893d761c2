// Protobuf <-> agent struct translation for pod sandboxes: the config RunPodSandbox takes, the
// filter ListPodSandbox takes, and the status and list items they answer with.
#pragma once

#include "cri/proto/api.pb.h"
#include "peapod/agent/cri_types.h"
#include "peapod/cri/convert_common.h"

namespace peapod::cri {

agent::PodSandboxConfig FromProto(const v1::PodSandboxConfig& in);
agent::PodSandboxFilter FromProto(const v1::PodSandboxFilter& in);

void ToProto(const agent::PodSandboxMetadata& in, v1::PodSandboxMetadata* out);
void ToProto(const agent::PodSandboxStatus& in, v1::PodSandboxStatus* out);
void ToProto(const agent::PodSandbox& in, v1::PodSandbox* out);

}  // namespace peapod::cri
