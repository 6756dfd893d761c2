// The shared CRI building blocks. CRI enums have the same numeric values as the agent's, so
// they convert by value; proto3 enums are open, so an unknown value passes through unchanged
// and the manager rejects it where it matters.
#include "peapod/cri/convert_common.h"

namespace peapod::cri {
namespace {

agent::NamespaceMode ModeFromProto(int mode) { return static_cast<agent::NamespaceMode>(mode); }
v1::NamespaceMode ModeToProto(agent::NamespaceMode mode) {
  return static_cast<v1::NamespaceMode>(static_cast<int>(mode));
}

std::vector<agent::IdMapping> MappingsFromProto(
    const google::protobuf::RepeatedPtrField<v1::IDMapping>& in) {
  std::vector<agent::IdMapping> out;
  out.reserve(in.size());
  for (const auto& m : in) out.push_back({m.host_id(), m.container_id(), m.length()});
  return out;
}

void MappingsToProto(const std::vector<agent::IdMapping>& in,
                     google::protobuf::RepeatedPtrField<v1::IDMapping>* out) {
  for (const auto& m : in) {
    auto* p = out->Add();
    p->set_host_id(m.host_id);
    p->set_container_id(m.container_id);
    p->set_length(m.length);
  }
}

}  // namespace

agent::NamespaceOption FromProto(const v1::NamespaceOption& in) {
  agent::NamespaceOption out;
  out.network = ModeFromProto(in.network());
  out.pid = ModeFromProto(in.pid());
  out.ipc = ModeFromProto(in.ipc());
  out.target_id = in.target_id();
  // An unset userns_options means the node's user namespace (no user namespace), as kubelet
  // sends it for every pod without hostUsers: false.
  if (in.has_userns_options()) {
    out.userns_options.mode = ModeFromProto(in.userns_options().mode());
    out.userns_options.uids = MappingsFromProto(in.userns_options().uids());
    out.userns_options.gids = MappingsFromProto(in.userns_options().gids());
  }
  return out;
}

agent::SELinuxOption FromProto(const v1::SELinuxOption& in) {
  return {in.user(), in.role(), in.type(), in.level()};
}

agent::SecurityProfile FromProto(const v1::SecurityProfile& in) {
  return {static_cast<int>(in.profile_type()), in.localhost_ref()};
}

agent::LinuxContainerResources FromProto(const v1::LinuxContainerResources& in) {
  agent::LinuxContainerResources out;
  out.cpu_period = in.cpu_period();
  out.cpu_quota = in.cpu_quota();
  out.cpu_shares = in.cpu_shares();
  out.memory_limit_in_bytes = in.memory_limit_in_bytes();
  out.oom_score_adj = in.oom_score_adj();
  out.cpuset_cpus = in.cpuset_cpus();
  out.cpuset_mems = in.cpuset_mems();
  for (const auto& h : in.hugepage_limits())
    out.hugepage_limits.push_back({h.page_size(), h.limit()});
  out.unified.insert(in.unified().begin(), in.unified().end());
  out.memory_swap_limit_in_bytes = in.memory_swap_limit_in_bytes();
  return out;
}

agent::Mount FromProto(const v1::Mount& in) {
  agent::Mount out;
  out.container_path = in.container_path();
  out.host_path = in.host_path();
  out.readonly = in.readonly();
  out.selinux_relabel = in.selinux_relabel();
  out.propagation = static_cast<agent::MountPropagation>(static_cast<int>(in.propagation()));
  out.uidMappings = MappingsFromProto(in.uidmappings());
  out.gidMappings = MappingsFromProto(in.gidmappings());
  out.recursive_read_only = in.recursive_read_only();
  if (in.has_image()) out.image = FromProto(in.image());
  out.image_sub_path = in.image_sub_path();
  return out;
}

agent::ImageSpec FromProto(const v1::ImageSpec& in) {
  agent::ImageSpec out;
  out.image = in.image();
  out.annotations.insert(in.annotations().begin(), in.annotations().end());
  out.user_specified_image = in.user_specified_image();
  out.runtime_handler = in.runtime_handler();
  out.image_ref = in.image_ref();
  return out;
}

void ToProto(const agent::NamespaceOption& in, v1::NamespaceOption* out) {
  out->set_network(ModeToProto(in.network));
  out->set_pid(ModeToProto(in.pid));
  out->set_ipc(ModeToProto(in.ipc));
  out->set_target_id(in.target_id);
  auto* userns = out->mutable_userns_options();
  userns->set_mode(ModeToProto(in.userns_options.mode));
  MappingsToProto(in.userns_options.uids, userns->mutable_uids());
  MappingsToProto(in.userns_options.gids, userns->mutable_gids());
}

void ToProto(const agent::LinuxContainerResources& in, v1::LinuxContainerResources* out) {
  out->set_cpu_period(in.cpu_period);
  out->set_cpu_quota(in.cpu_quota);
  out->set_cpu_shares(in.cpu_shares);
  out->set_memory_limit_in_bytes(in.memory_limit_in_bytes);
  out->set_oom_score_adj(in.oom_score_adj);
  out->set_cpuset_cpus(in.cpuset_cpus);
  out->set_cpuset_mems(in.cpuset_mems);
  for (const auto& h : in.hugepage_limits) {
    auto* p = out->add_hugepage_limits();
    p->set_page_size(h.page_size);
    p->set_limit(h.limit);
  }
  out->mutable_unified()->insert(in.unified.begin(), in.unified.end());
  out->set_memory_swap_limit_in_bytes(in.memory_swap_limit_in_bytes);
}

void ToProto(const agent::Mount& in, v1::Mount* out) {
  out->set_container_path(in.container_path);
  out->set_host_path(in.host_path);
  out->set_readonly(in.readonly);
  out->set_selinux_relabel(in.selinux_relabel);
  out->set_propagation(static_cast<v1::MountPropagation>(static_cast<int>(in.propagation)));
  MappingsToProto(in.uidMappings, out->mutable_uidmappings());
  MappingsToProto(in.gidMappings, out->mutable_gidmappings());
  out->set_recursive_read_only(in.recursive_read_only);
  if (in.image) ToProto(*in.image, out->mutable_image());
  out->set_image_sub_path(in.image_sub_path);
}

void ToProto(const agent::ImageSpec& in, v1::ImageSpec* out) {
  out->set_image(in.image);
  out->mutable_annotations()->insert(in.annotations.begin(), in.annotations.end());
  out->set_user_specified_image(in.user_specified_image);
  out->set_runtime_handler(in.runtime_handler);
  out->set_image_ref(in.image_ref);
}

}  // namespace peapod::cri
