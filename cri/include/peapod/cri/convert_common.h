// Protobuf <-> agent struct translation for the CRI building blocks that sandboxes and containers
// share: namespaces, security profiles, resources, mounts, image specs.
#pragma once

#include "cri/proto/api.pb.h"
#include "peapod/agent/cri_types.h"

namespace peapod::cri {

namespace v1 = ::runtime::v1;

agent::NamespaceOption FromProto(const v1::NamespaceOption& in);
agent::SELinuxOption FromProto(const v1::SELinuxOption& in);
agent::SecurityProfile FromProto(const v1::SecurityProfile& in);
agent::LinuxContainerResources FromProto(const v1::LinuxContainerResources& in);
agent::Mount FromProto(const v1::Mount& in);
agent::ImageSpec FromProto(const v1::ImageSpec& in);

void ToProto(const agent::NamespaceOption& in, v1::NamespaceOption* out);
void ToProto(const agent::LinuxContainerResources& in, v1::LinuxContainerResources* out);
void ToProto(const agent::Mount& in, v1::Mount* out);
void ToProto(const agent::ImageSpec& in, v1::ImageSpec* out);

}  // namespace peapod::cri
