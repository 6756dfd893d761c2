// Protobuf <-> agent struct translation for containers: the config CreateContainer takes, the
// filter ListContainers takes, and the status and list items they answer with.
#pragma once

#include <optional>
#include <string>

#include "cri/proto/api.pb.h"
#include "peapod/agent/cri_types.h"
#include "peapod/cri/convert_common.h"

namespace peapod::cri {

agent::ContainerConfig FromProto(const v1::ContainerConfig& in);
agent::ContainerFilter FromProto(const v1::ContainerFilter& in);

void ToProto(const agent::ContainerStatus& in, v1::ContainerStatus* out);

// CRI's Signal enum (KEP-4960) <-> signal names as runtime::ParseSignal reads them. The enum's
// values share <signal.h>'s macro names, so they are only ever spelled as strings here.
// RUNTIME_DEFAULT -> "" (the image's signal); a value this build does not know -> nullopt.
std::optional<std::string> SignalFromProto(int value);
// A kernel signal number -> the enum; RUNTIME_DEFAULT for 0 or a number the enum has no name for.
v1::Signal SignalToProto(int number);
void ToProto(const agent::Container& in, v1::Container* out);

}  // namespace peapod::cri
