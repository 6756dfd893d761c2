// Protobuf <-> agent struct translation for containers: the config CreateContainer takes, the
// filter ListContainers takes, and the status and list items they answer with.
#pragma once

#include "cri/proto/api.pb.h"
#include "peapod/agent/cri_types.h"
#include "peapod/cri/convert_common.h"

namespace peapod::cri {

agent::ContainerConfig FromProto(const v1::ContainerConfig& in);
agent::ContainerFilter FromProto(const v1::ContainerFilter& in);

void ToProto(const agent::ContainerStatus& in, v1::ContainerStatus* out);
void ToProto(const agent::Container& in, v1::Container* out);

}  // namespace peapod::cri
