// Pod sandbox messages. Unset optional messages (Int64Value, SecurityProfile, resources) stay
// unset in the agent structs, so "not specified" never turns into an explicit 0.
#include "peapod/cri/convert_sandbox.h"

namespace peapod::cri {
namespace {

agent::PodSandboxMetadata FromProto(const v1::PodSandboxMetadata& in) {
  agent::PodSandboxMetadata out;
  out.name = in.name();
  out.uid = in.uid();
  out.namespace_ = in.namespace_();
  out.attempt = in.attempt();
  return out;
}

agent::LinuxSandboxSecurityContext FromProto(const v1::LinuxSandboxSecurityContext& in) {
  agent::LinuxSandboxSecurityContext out;
  out.namespace_options = cri::FromProto(in.namespace_options());
  out.selinux_options = cri::FromProto(in.selinux_options());
  if (in.has_run_as_user()) out.run_as_user = in.run_as_user().value();
  if (in.has_run_as_group()) out.run_as_group = in.run_as_group().value();
  out.readonly_rootfs = in.readonly_rootfs();
  out.supplemental_groups.assign(in.supplemental_groups().begin(), in.supplemental_groups().end());
  out.supplemental_groups_policy = static_cast<agent::SupplementalGroupsPolicy>(
      static_cast<int>(in.supplemental_groups_policy()));
  out.privileged = in.privileged();
  // Deprecated in CRI but still sent by older kubelets; the agent prefers the new fields.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  out.seccomp_profile_path = in.seccomp_profile_path();
#pragma GCC diagnostic pop
  if (in.has_seccomp()) out.seccomp = cri::FromProto(in.seccomp());
  if (in.has_apparmor()) out.apparmor = cri::FromProto(in.apparmor());
  return out;
}

agent::LinuxPodSandboxConfig FromProto(const v1::LinuxPodSandboxConfig& in) {
  agent::LinuxPodSandboxConfig out;
  out.cgroup_parent = in.cgroup_parent();
  out.security_context = FromProto(in.security_context());
  out.sysctls.insert(in.sysctls().begin(), in.sysctls().end());
  if (in.has_overhead()) out.overhead = cri::FromProto(in.overhead());
  if (in.has_resources()) out.resources = cri::FromProto(in.resources());
  return out;
}

}  // namespace

agent::PodSandboxConfig FromProto(const v1::PodSandboxConfig& in) {
  agent::PodSandboxConfig out;
  out.metadata = FromProto(in.metadata());
  out.hostname = in.hostname();
  out.log_directory = in.log_directory();
  if (in.has_dns_config()) {
    const auto& dns = in.dns_config();
    out.dns_config = agent::DNSConfig{{dns.servers().begin(), dns.servers().end()},
                                      {dns.searches().begin(), dns.searches().end()},
                                      {dns.options().begin(), dns.options().end()}};
  }
  for (const auto& pm : in.port_mappings()) {
    agent::PortMapping m;
    m.protocol = static_cast<agent::Protocol>(static_cast<int>(pm.protocol()));
    m.container_port = pm.container_port();
    m.host_port = pm.host_port();
    m.host_ip = pm.host_ip();
    out.port_mappings.push_back(std::move(m));
  }
  out.labels.insert(in.labels().begin(), in.labels().end());
  out.annotations.insert(in.annotations().begin(), in.annotations().end());
  out.linux = FromProto(in.linux());
  return out;
}

agent::PodSandboxFilter FromProto(const v1::PodSandboxFilter& in) {
  agent::PodSandboxFilter out;
  out.id = in.id();
  if (in.has_state()) {
    out.state = static_cast<agent::PodSandboxState>(static_cast<int>(in.state().state()));
  }
  out.label_selector.insert(in.label_selector().begin(), in.label_selector().end());
  return out;
}

void ToProto(const agent::PodSandboxMetadata& in, v1::PodSandboxMetadata* out) {
  out->set_name(in.name);
  out->set_uid(in.uid);
  out->set_namespace_(in.namespace_);
  out->set_attempt(in.attempt);
}

void ToProto(const agent::PodSandboxStatus& in, v1::PodSandboxStatus* out) {
  out->set_id(in.id);
  ToProto(in.metadata, out->mutable_metadata());
  out->set_state(static_cast<v1::PodSandboxState>(static_cast<int>(in.state)));
  out->set_created_at(in.created_at);
  auto* network = out->mutable_network();
  network->set_ip(in.network.ip);
  for (const auto& ip : in.network.additional_ips) network->add_additional_ips()->set_ip(ip.ip);
  ToProto(in.linux.namespaces, out->mutable_linux()->mutable_namespaces()->mutable_options());
  out->mutable_labels()->insert(in.labels.begin(), in.labels.end());
  out->mutable_annotations()->insert(in.annotations.begin(), in.annotations.end());
  out->set_runtime_handler(in.runtime_handler);
}

void ToProto(const agent::PodSandbox& in, v1::PodSandbox* out) {
  out->set_id(in.id);
  ToProto(in.metadata, out->mutable_metadata());
  out->set_state(static_cast<v1::PodSandboxState>(static_cast<int>(in.state)));
  out->set_created_at(in.created_at);
  out->mutable_labels()->insert(in.labels.begin(), in.labels.end());
  out->mutable_annotations()->insert(in.annotations.begin(), in.annotations.end());
  out->set_runtime_handler(in.runtime_handler);
}

}  // namespace peapod::cri
