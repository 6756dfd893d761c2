// Stats, metrics and events: agent structs -> runtime.v1 messages. An unset optional stays an
// unset UInt64Value, so kubelet can tell "not measured" from zero.
#include "peapod/cri/convert_stats.h"

#include "peapod/cri/convert_container.h"
#include "peapod/cri/convert_sandbox.h"

namespace peapod::cri {
namespace {

template <typename Message>
void SetValue(const std::optional<uint64_t>& value, Message* out,
              v1::UInt64Value* (Message::*mutable_field)()) {
  if (value) (out->*mutable_field)()->set_value(*value);
}

void ToProto(const runtime::PsiData& in, v1::PsiData* out) {
  out->set_total(in.total_us * 1000);  // CRI counts nanoseconds, the kernel microseconds
  out->set_avg10(in.avg10);
  out->set_avg60(in.avg60);
  out->set_avg300(in.avg300);
}

// CRI's "some" and "full" are always both there; a kernel without a full line for this
// resource leaves Full unset rather than a made-up zero.
void ToProto(const runtime::PsiStats& in, v1::PsiStats* out) {
  ToProto(in.some, out->mutable_some());
  if (in.full) ToProto(*in.full, out->mutable_full());
}

void ToProto(const agent::IoUsage& in, v1::IoUsage* out) {
  out->set_timestamp(in.timestamp);
  ToProto(in.psi, out->mutable_psi());
}

void ToProto(const agent::CpuUsage& in, v1::CpuUsage* out) {
  out->set_timestamp(in.timestamp);
  SetValue(in.usage_core_nano_seconds, out, &v1::CpuUsage::mutable_usage_core_nano_seconds);
  SetValue(in.usage_nano_cores, out, &v1::CpuUsage::mutable_usage_nano_cores);
  if (in.psi) ToProto(*in.psi, out->mutable_psi());
}

void ToProto(const agent::MemoryUsage& in, v1::MemoryUsage* out) {
  out->set_timestamp(in.timestamp);
  SetValue(in.working_set_bytes, out, &v1::MemoryUsage::mutable_working_set_bytes);
  SetValue(in.available_bytes, out, &v1::MemoryUsage::mutable_available_bytes);
  SetValue(in.usage_bytes, out, &v1::MemoryUsage::mutable_usage_bytes);
  SetValue(in.rss_bytes, out, &v1::MemoryUsage::mutable_rss_bytes);
  SetValue(in.page_faults, out, &v1::MemoryUsage::mutable_page_faults);
  SetValue(in.major_page_faults, out, &v1::MemoryUsage::mutable_major_page_faults);
  if (in.psi) ToProto(*in.psi, out->mutable_psi());
}

void ToProto(const agent::NetworkInterfaceUsage& in, v1::NetworkInterfaceUsage* out) {
  out->set_name(in.name);
  out->mutable_rx_bytes()->set_value(in.rx_bytes);
  out->mutable_rx_errors()->set_value(in.rx_errors);
  out->mutable_tx_bytes()->set_value(in.tx_bytes);
  out->mutable_tx_errors()->set_value(in.tx_errors);
}

}  // namespace

agent::ContainerStatsFilter FromProto(const v1::ContainerStatsFilter& in) {
  agent::ContainerStatsFilter out;
  out.id = in.id();
  out.pod_sandbox_id = in.pod_sandbox_id();
  out.label_selector.insert(in.label_selector().begin(), in.label_selector().end());
  return out;
}

agent::PodSandboxStatsFilter FromProto(const v1::PodSandboxStatsFilter& in) {
  agent::PodSandboxStatsFilter out;
  out.id = in.id();
  out.label_selector.insert(in.label_selector().begin(), in.label_selector().end());
  return out;
}

void ToProto(const agent::ContainerStats& in, v1::ContainerStats* out) {
  auto* attributes = out->mutable_attributes();
  attributes->set_id(in.attributes.id);
  attributes->mutable_metadata()->set_name(in.attributes.metadata.name);
  attributes->mutable_metadata()->set_attempt(in.attributes.metadata.attempt);
  attributes->mutable_labels()->insert(in.attributes.labels.begin(), in.attributes.labels.end());
  attributes->mutable_annotations()->insert(in.attributes.annotations.begin(),
                                            in.attributes.annotations.end());
  if (in.cpu) ToProto(*in.cpu, out->mutable_cpu());
  if (in.memory) ToProto(*in.memory, out->mutable_memory());
  if (in.writable_layer) {
    auto* layer = out->mutable_writable_layer();
    layer->set_timestamp(in.writable_layer->timestamp);
    layer->mutable_fs_id()->set_mountpoint(in.writable_layer->mountpoint);
    SetValue(in.writable_layer->used_bytes, layer, &v1::FilesystemUsage::mutable_used_bytes);
    SetValue(in.writable_layer->inodes_used, layer, &v1::FilesystemUsage::mutable_inodes_used);
  }
  if (in.io) ToProto(*in.io, out->mutable_io());
}

void ToProto(const agent::PodSandboxStats& in, v1::PodSandboxStats* out) {
  auto* attributes = out->mutable_attributes();
  attributes->set_id(in.attributes.id);
  ToProto(in.attributes.metadata, attributes->mutable_metadata());
  attributes->mutable_labels()->insert(in.attributes.labels.begin(), in.attributes.labels.end());
  attributes->mutable_annotations()->insert(in.attributes.annotations.begin(),
                                            in.attributes.annotations.end());
  auto* stats = out->mutable_linux();
  if (in.cpu) ToProto(*in.cpu, stats->mutable_cpu());
  if (in.memory) ToProto(*in.memory, stats->mutable_memory());
  if (in.network) {
    auto* network = stats->mutable_network();
    network->set_timestamp(in.network->timestamp);
    if (in.network->default_interface) {
      ToProto(*in.network->default_interface, network->mutable_default_interface());
    }
    for (const auto& i : in.network->interfaces) ToProto(i, network->add_interfaces());
  }
  if (in.process) {
    auto* process = stats->mutable_process();
    process->set_timestamp(in.process->timestamp);
    SetValue(in.process->process_count, process, &v1::ProcessUsage::mutable_process_count);
  }
  for (const auto& c : in.containers) ToProto(c, stats->add_containers());
  if (in.io) ToProto(*in.io, stats->mutable_io());
}

void ToProto(const agent::MetricDescriptor& in, v1::MetricDescriptor* out) {
  out->set_name(in.name);
  out->set_help(in.help);
  for (const auto& key : in.label_keys) out->add_label_keys(key);
}

namespace {

void ToProto(const agent::Metric& in, v1::Metric* out) {
  out->set_name(in.name);
  out->set_timestamp(in.timestamp);
  out->set_metric_type(in.type == agent::MetricType::kCounter ? v1::COUNTER : v1::GAUGE);
  for (const auto& value : in.label_values) out->add_label_values(value);
  out->mutable_value()->set_value(in.value);
}

}  // namespace

void ToProto(const agent::PodSandboxMetrics& in, v1::PodSandboxMetrics* out) {
  out->set_pod_sandbox_id(in.pod_sandbox_id);
  for (const auto& m : in.metrics) ToProto(m, out->add_metrics());
  for (const auto& c : in.container_metrics) {
    auto* container = out->add_container_metrics();
    container->set_container_id(c.container_id);
    for (const auto& m : c.metrics) ToProto(m, container->add_metrics());
  }
}

void ToProto(const agent::ContainerEvent& in, v1::ContainerEventResponse* out) {
  out->set_container_id(in.container_id);
  out->set_container_event_type(static_cast<v1::ContainerEventType>(in.type));
  out->set_created_at(in.created_at);
  if (in.pod_sandbox_status) ToProto(*in.pod_sandbox_status, out->mutable_pod_sandbox_status());
  for (const auto& status : in.containers_statuses) {
    ToProto(status, out->add_containers_statuses());
  }
}

}  // namespace peapod::cri
