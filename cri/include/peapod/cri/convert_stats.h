// Agent struct -> protobuf translation for the stats, metrics and events RPCs (ContainerStats,
// PodSandboxStats, ListPodSandboxMetrics, GetContainerEvents) and the filters they take.
#pragma once

#include "cri/proto/api.pb.h"
#include "peapod/agent/events.h"
#include "peapod/agent/stats.h"

namespace peapod::cri {

namespace v1 = ::runtime::v1;

agent::ContainerStatsFilter FromProto(const v1::ContainerStatsFilter& in);
agent::PodSandboxStatsFilter FromProto(const v1::PodSandboxStatsFilter& in);
void ToProto(const agent::ContainerStats& in, v1::ContainerStats* out);
void ToProto(const agent::PodSandboxStats& in, v1::PodSandboxStats* out);
void ToProto(const agent::MetricDescriptor& in, v1::MetricDescriptor* out);
void ToProto(const agent::PodSandboxMetrics& in, v1::PodSandboxMetrics* out);
void ToProto(const agent::ContainerEvent& in, v1::ContainerEventResponse* out);

}  // namespace peapod::cri
