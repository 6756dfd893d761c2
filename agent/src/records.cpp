// JSON records of sandboxes and containers: everything Recover needs to adopt them again.
#include <fcntl.h>
#include <sys/random.h>

#include <cstdio>
#include <nlohmann/json.hpp>
#include <optional>

#include "entries.h"

NLOHMANN_JSON_NAMESPACE_BEGIN
template <typename T>
struct adl_serializer<std::optional<T>> {
  static void to_json(json& j, const std::optional<T>& v) {
    if (v) {
      j = *v;
    } else {
      j = nullptr;
    }
  }
  static void from_json(const json& j, std::optional<T>& v) {
    if (j.is_null()) {
      v.reset();
    } else {
      v = j.get<T>();
    }
  }
};
NLOHMANN_JSON_NAMESPACE_END

namespace peapod::runtime {

NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(ProcessIdentity, pid, start_ticks)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(ContainerProcess, host, ledger_pid,
                                                started_boottime_ns, started_at_ns,
                                                oom_kills_at_start)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(IdMap, container_id, host_id, length)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(SandboxSpec, id, run_dir, pause_binary, hostname,
                                                new_network, new_ipc, new_uts, new_pid, sysctls,
                                                uid_mappings, gid_mappings)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(MountSpec, destination, type, source, data,
                                                read_only, recursive_read_only, propagation)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(OverlayRootfs, chdir_to, options)
// The fields the agent sets; fields the runtime adds later keep their defaults on adoption.
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(ContainerSpec, id, rootfs, overlay, readonly_rootfs,
                                                mounts, net_ns, ipc_ns, uts_ns, pid_ns, pid_mode,
                                                args, env, cwd, uid, gid, additional_gids, run_dir,
                                                ledger_path, log_path, tty, stdin, cgroup_writable,
                                                user_ns, uid_mappings, gid_mappings)

}  // namespace peapod::runtime

namespace peapod::agent {

NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(IdMapping, host_id, container_id, length)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(UserNamespace, mode, uids, gids)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(NamespaceOption, network, pid, ipc, target_id,
                                                userns_options)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(SELinuxOption, user, role, type, level)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(SecurityProfile, profile_type, localhost_ref)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(Capability, add_capabilities, drop_capabilities,
                                                add_ambient_capabilities)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(HugepageLimit, page_size, limit)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(LinuxContainerResources, cpu_period, cpu_quota,
                                                cpu_shares, memory_limit_in_bytes, oom_score_adj,
                                                cpuset_cpus, cpuset_mems, hugepage_limits,
                                                unified, memory_swap_limit_in_bytes)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(PodSandboxMetadata, name, uid, namespace_, attempt)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(DNSConfig, servers, searches, options)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(PortMapping, protocol, container_port, host_port,
                                                host_ip)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(LinuxSandboxSecurityContext, namespace_options,
                                                selinux_options, run_as_user, run_as_group,
                                                readonly_rootfs, supplemental_groups,
                                                supplemental_groups_policy, privileged,
                                                seccomp_profile_path, seccomp, apparmor)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(LinuxPodSandboxConfig, cgroup_parent,
                                                security_context, sysctls, overhead, resources)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(PodSandboxConfig, metadata, hostname,
                                                log_directory, dns_config, port_mappings, labels,
                                                annotations, linux)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(ContainerMetadata, name, attempt)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(ImageSpec, image, annotations, user_specified_image,
                                                runtime_handler, image_ref)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(KeyValue, key, value)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(Mount, container_path, host_path, readonly,
                                                selinux_relabel, propagation, uidMappings,
                                                gidMappings, recursive_read_only, image,
                                                image_sub_path)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(Device, container_path, host_path, permissions)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(LinuxContainerSecurityContext, capabilities,
                                                privileged, namespace_options, selinux_options,
                                                run_as_user, run_as_group, run_as_username,
                                                readonly_rootfs, supplemental_groups,
                                                supplemental_groups_policy, apparmor_profile,
                                                seccomp_profile_path, no_new_privs, masked_paths,
                                                readonly_paths, seccomp, apparmor)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(LinuxContainerConfig, resources, security_context)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(ContainerConfig, metadata, image, command, args,
                                                working_dir, envs, mounts, devices, labels,
                                                annotations, log_path, stdin, stdin_once, tty,
                                                linux, stop_signal)

std::string GenerateId() {
  unsigned char bytes[32];
  size_t got = 0;
  while (got < sizeof(bytes)) {
    ssize_t n = ::getrandom(bytes + got, sizeof(bytes) - got, 0);
    if (n > 0) got += static_cast<size_t>(n);
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id;
  id.reserve(64);
  for (unsigned char b : bytes) {
    id.push_back(kHex[b >> 4]);
    id.push_back(kHex[b & 0xf]);
  }
  return id;
}

nlohmann::json SandboxRecordLocked(const SandboxEntry& e) {
  return {
      {"version", 1},
      {"id", e.id},
      {"config", e.config},
      {"runtime_handler", e.runtime_handler},
      {"created_at", e.created_at},
      {"host_network", e.host_network},
      {"pod_dir", e.pod_dir},
      {"spec", e.spec},
      {"pause", e.pause},
      {"network_attached", e.network_attached},
      {"phase", e.phase.load()},
      {"ip", e.ip},
      {"additional_ips", e.additional_ips},
  };
}

Status LoadSandboxRecord(const nlohmann::json& j, SandboxEntry& e) {
  try {
    j.at("id").get_to(e.id);
    j.at("config").get_to(e.config);
    e.runtime_handler = j.value("runtime_handler", "");
    e.created_at = j.value("created_at", int64_t{0});
    e.host_network = j.value("host_network", false);
    j.at("pod_dir").get_to(e.pod_dir);
    j.at("spec").get_to(e.spec);
    j.at("pause").get_to(e.pause);
    e.network_attached = j.value("network_attached", false);
    e.phase = j.at("phase").get<SandboxPhase>();
    e.ip = j.value("ip", "");
    e.additional_ips = j.value("additional_ips", std::vector<std::string>{});
  } catch (const nlohmann::json::exception& ex) {
    return Fail(ErrorCode::kInternal, std::string("malformed sandbox record: ") + ex.what());
  }
  return Ok();
}

nlohmann::json ContainerRecordLocked(const ContainerEntry& e) {
  return {
      {"version", 1},
      {"id", e.id},
      {"sandbox_id", e.sandbox_id},
      {"config", e.config},
      {"image_id", e.image_id},
      {"stop_signal", e.stop_signal},
      {"log_path", e.log_path},
      {"spec", e.spec},
      {"rootfs_dir", e.rootfs_dir},
      {"process", e.process},
      {"state", e.state},
      {"created_at", e.created_at},
      {"started_at", e.started_at},
      {"finished_at", e.finished_at},
      {"exit_code", e.exit_code},
      {"reason", e.reason},
      {"message", e.message},
  };
}

Status LoadContainerRecord(const nlohmann::json& j, ContainerEntry& e) {
  try {
    j.at("id").get_to(e.id);
    j.at("sandbox_id").get_to(e.sandbox_id);
    j.at("config").get_to(e.config);
    j.at("image_id").get_to(e.image_id);
    e.stop_signal = j.value("stop_signal", 15);
    e.log_path = j.value("log_path", "");
    j.at("spec").get_to(e.spec);
    e.rootfs_dir = j.value("rootfs_dir", "");
    j.at("process").get_to(e.process);
    j.at("state").get_to(e.state);
    e.created_at = j.value("created_at", int64_t{0});
    e.started_at = j.value("started_at", int64_t{0});
    e.finished_at = j.value("finished_at", int64_t{0});
    e.exit_code = j.value("exit_code", 0);
    e.reason = j.value("reason", "");
    e.message = j.value("message", "");
  } catch (const nlohmann::json::exception& ex) {
    return Fail(ErrorCode::kInternal, std::string("malformed container record: ") + ex.what());
  }
  return Ok();
}

bool MatchesLabels(const std::map<std::string, std::string>& labels,
                   const std::map<std::string, std::string>& selector) {
  for (const auto& [key, value] : selector) {
    auto it = labels.find(key);
    if (it == labels.end() || it->second != value) return false;
  }
  return true;
}

}  // namespace peapod::agent
