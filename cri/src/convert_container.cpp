// Container messages. The agent's image_ref is the node-local image id, which CRI 1.30 also
// reports as image_id.
#include "peapod/cri/convert_container.h"

#include <string_view>

#include "peapod/runtime/signal_name.h"

namespace peapod::cri {
namespace {

agent::LinuxContainerSecurityContext FromProto(const v1::LinuxContainerSecurityContext& in) {
  agent::LinuxContainerSecurityContext out;
  if (in.has_capabilities()) {
    const auto& caps = in.capabilities();
    out.capabilities = agent::Capability{
        {caps.add_capabilities().begin(), caps.add_capabilities().end()},
        {caps.drop_capabilities().begin(), caps.drop_capabilities().end()},
        {caps.add_ambient_capabilities().begin(), caps.add_ambient_capabilities().end()}};
  }
  out.privileged = in.privileged();
  out.namespace_options = cri::FromProto(in.namespace_options());
  out.selinux_options = cri::FromProto(in.selinux_options());
  if (in.has_run_as_user()) out.run_as_user = in.run_as_user().value();
  if (in.has_run_as_group()) out.run_as_group = in.run_as_group().value();
  out.run_as_username = in.run_as_username();
  out.readonly_rootfs = in.readonly_rootfs();
  out.supplemental_groups.assign(in.supplemental_groups().begin(), in.supplemental_groups().end());
  out.supplemental_groups_policy = static_cast<agent::SupplementalGroupsPolicy>(
      static_cast<int>(in.supplemental_groups_policy()));
  // Deprecated in CRI but still sent by older kubelets; the agent prefers the new fields.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  out.apparmor_profile = in.apparmor_profile();
  out.seccomp_profile_path = in.seccomp_profile_path();
#pragma GCC diagnostic pop
  out.no_new_privs = in.no_new_privs();
  out.masked_paths.assign(in.masked_paths().begin(), in.masked_paths().end());
  out.readonly_paths.assign(in.readonly_paths().begin(), in.readonly_paths().end());
  if (in.has_seccomp()) out.seccomp = cri::FromProto(in.seccomp());
  if (in.has_apparmor()) out.apparmor = cri::FromProto(in.apparmor());
  return out;
}

void ToProto(const agent::ContainerMetadata& in, v1::ContainerMetadata* out) {
  out->set_name(in.name);
  out->set_attempt(in.attempt);
}

v1::ContainerState StateToProto(agent::ContainerState state) {
  return static_cast<v1::ContainerState>(static_cast<int>(state));
}

// "SIGRTMINPLUS3" <-> "SIGRTMIN+3", "SIGRTMAXMINUS2" <-> "SIGRTMAX-2".
std::string Replace(std::string text, std::string_view from, std::string_view to) {
  if (auto at = text.find(from); at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

}  // namespace

std::optional<std::string> SignalFromProto(int value) {
  if (value == 0) return std::string();
  if (!v1::Signal_IsValid(value)) return std::nullopt;
  std::string name = v1::Signal_Name(static_cast<v1::Signal>(value));
  return Replace(Replace(std::move(name), "PLUS", "+"), "MINUS", "-");
}

v1::Signal SignalToProto(int number) {
  auto out = static_cast<v1::Signal>(0);
  if (number <= 0) return out;
  std::string name = runtime::SignalName(number);
  name = Replace(Replace(std::move(name), "+", "PLUS"), "-", "MINUS");
  if (!v1::Signal_Parse(name, &out)) out = static_cast<v1::Signal>(0);
  return out;
}

agent::ContainerConfig FromProto(const v1::ContainerConfig& in) {
  agent::ContainerConfig out;
  out.metadata.name = in.metadata().name();
  out.metadata.attempt = in.metadata().attempt();
  out.image = cri::FromProto(in.image());
  out.command.assign(in.command().begin(), in.command().end());
  out.args.assign(in.args().begin(), in.args().end());
  out.working_dir = in.working_dir();
  for (const auto& kv : in.envs()) out.envs.push_back({kv.key(), kv.value()});
  for (const auto& m : in.mounts()) out.mounts.push_back(cri::FromProto(m));
  for (const auto& d : in.devices()) {
    out.devices.push_back({d.container_path(), d.host_path(), d.permissions()});
  }
  out.labels.insert(in.labels().begin(), in.labels().end());
  out.annotations.insert(in.annotations().begin(), in.annotations().end());
  out.log_path = in.log_path();
  out.stdin = in.stdin();
  out.stdin_once = in.stdin_once();
  out.tty = in.tty();
  if (in.linux().has_resources()) out.linux.resources = cri::FromProto(in.linux().resources());
  out.linux.security_context = FromProto(in.linux().security_context());
  if (auto signal = SignalFromProto(in.stop_signal())) {
    out.stop_signal = std::move(*signal);
  } else {
    // Not a name: CreateContainer refuses it with the rest of the config's errors.
    out.stop_signal = "Signal(" + std::to_string(static_cast<int>(in.stop_signal())) + ")";
  }
  return out;
}

agent::ContainerFilter FromProto(const v1::ContainerFilter& in) {
  agent::ContainerFilter out;
  out.id = in.id();
  if (in.has_state()) {
    out.state = static_cast<agent::ContainerState>(static_cast<int>(in.state().state()));
  }
  out.pod_sandbox_id = in.pod_sandbox_id();
  out.label_selector.insert(in.label_selector().begin(), in.label_selector().end());
  return out;
}

void ToProto(const agent::ContainerStatus& in, v1::ContainerStatus* out) {
  out->set_id(in.id);
  ToProto(in.metadata, out->mutable_metadata());
  out->set_state(StateToProto(in.state));
  out->set_created_at(in.created_at);
  out->set_started_at(in.started_at);
  out->set_finished_at(in.finished_at);
  out->set_exit_code(in.exit_code);
  ToProto(in.image, out->mutable_image());
  out->set_image_ref(in.image_ref);
  out->set_image_id(in.image_ref);
  out->set_reason(in.reason);
  out->set_message(in.message);
  out->mutable_labels()->insert(in.labels.begin(), in.labels.end());
  out->mutable_annotations()->insert(in.annotations.begin(), in.annotations.end());
  for (const auto& m : in.mounts) ToProto(m, out->add_mounts());
  out->set_log_path(in.log_path);
  if (in.resources) ToProto(*in.resources, out->mutable_resources()->mutable_linux());
  if (in.user) {
    auto* user = out->mutable_user()->mutable_linux();
    user->set_uid(in.user->uid);
    user->set_gid(in.user->gid);
    for (int64_t g : in.user->supplemental_groups) user->add_supplemental_groups(g);
  }
  out->set_stop_signal(SignalToProto(in.stop_signal));
}

void ToProto(const agent::Container& in, v1::Container* out) {
  out->set_id(in.id);
  out->set_pod_sandbox_id(in.pod_sandbox_id);
  ToProto(in.metadata, out->mutable_metadata());
  ToProto(in.image, out->mutable_image());
  out->set_image_ref(in.image_ref);
  out->set_image_id(in.image_ref);
  out->set_state(StateToProto(in.state));
  out->set_created_at(in.created_at);
  out->mutable_labels()->insert(in.labels.begin(), in.labels.end());
  out->mutable_annotations()->insert(in.annotations.begin(), in.annotations.end());
}

}  // namespace peapod::cri
