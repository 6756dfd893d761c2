// Container security: capabilities, seccomp, masked/read-only paths, sysctls, users and groups,
// rlimits, and the async-signal-safe applier a container child runs between pivot_root and execve.
#pragma once

#include <linux/filter.h>
#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "peapod/error.h"

namespace peapod::runtime {

// ---- Capabilities -------------------------------------------------------------------------------

inline constexpr int kLastKnownCapability = 40;  // CAP_CHECKPOINT_RESTORE (Linux 5.9)

// "CAP_CHOWN", "chown", "Cap_Chown" -> 0. nullopt for unknown names (and for "ALL").
std::optional<int> CapabilityFromName(std::string_view name);
// 0 -> "CAP_CHOWN"; "" when unknown.
std::string_view CapabilityName(int cap);
// "CAP_CHOWN,CAP_KILL" (for logs and messages).
std::string FormatCapabilities(uint64_t mask);
// /proc/sys/kernel/cap_last_cap of the running kernel (read once), kLastKnownCapability if absent.
int KernelLastCapability();
// Every capability 0..last_cap.
uint64_t AllCapabilities(int last_cap = KernelLastCapability());
// What containerd gives a container that asks for nothing: CHOWN, DAC_OVERRIDE, FSETID, FOWNER,
// MKNOD, NET_RAW, SETGID, SETUID, SETFCAP, SETPCAP, NET_BIND_SERVICE, SYS_CHROOT, KILL,
// AUDIT_WRITE.
uint64_t DefaultCapabilities();

// The container's capabilities as containerd computes them: privileged -> all the kernel knows;
// else the default set; add "ALL" -> all, then drop "ALL" -> none, then the named adds, then the
// named drops. Names are case-insensitive, with or without "CAP_". Unknown -> kInvalidArgument.
Result<uint64_t> ComputeCapabilities(const std::vector<std::string>& add,
                                     const std::vector<std::string>& drop, bool privileged,
                                     int last_cap = KernelLastCapability());

struct CapabilitySet {
  uint64_t bounding = 0;
  uint64_t effective = 0;
  uint64_t permitted = 0;
  uint64_t inheritable = 0;
  uint64_t ambient = 0;
};

// The five sets runc applies for `caps`, as containerd >= 1.6.18 asks: bounding = effective =
// permitted = caps, inheritable and ambient empty (CVE-2022-24769). For a non-root uid the kernel
// then clears effective and permitted at execve (no ambient, no file caps), so a non-root process
// in a Kubernetes pod runs with CapEff 0 and CapBnd = caps, exactly as under containerd + runc.
CapabilitySet ContainerCapabilitySet(uint64_t caps);

// A process cannot grant capabilities it lacks (here: no CAP_SYS_RESOURCE). Removes what this
// process does not hold from every set and logs what was removed.
CapabilitySet ClampToCurrentProcess(const CapabilitySet& set, std::string_view container_id);

// ---- Seccomp ------------------------------------------------------------------------------------

// A compiled classic-BPF filter, ready for seccomp(SECCOMP_SET_MODE_FILTER) without libseccomp.
struct SeccompProgram {
  std::vector<sock_filter> filter;
};

enum class SeccompProfileType { kUnconfined, kRuntimeDefault, kLocalhost };

struct SeccompProfileRef {
  SeccompProfileType type = SeccompProfileType::kUnconfined;
  std::string localhost_path;  // absolute path of the JSON profile on the host (kLocalhost)
};

// CRI's legacy string field: "runtime/default", "docker/default", "localhost/<abs path>",
// "unconfined", and "" (unconfined, as containerd treats the legacy field).
Result<SeccompProfileRef> ParseLegacySeccompProfile(std::string_view value);

// The profile to compile: nullopt for unconfined. RuntimeDefault is peapod's own deny-list
// (what Docker's default profile refuses), relaxed per capability as Docker's is (e.g. mount with
// CAP_SYS_ADMIN). `caps` is the container's effective capability mask.
Result<std::optional<SeccompProgram>> CompileSeccompProfile(const SeccompProfileRef& ref,
                                                            uint64_t caps);
Result<SeccompProgram> CompileRuntimeDefaultSeccomp(uint64_t caps);
// An OCI/Docker JSON profile (defaultAction, defaultErrnoRet, architectures, archMap,
// syscalls[{names|name, action, args, errnoRet, includes, excludes}]). Bad input ->
// kInvalidArgument naming the problem.
Result<SeccompProgram> CompileSeccompJson(std::string_view json, uint64_t caps);

// ---- Masked and read-only paths -----------------------------------------------------------------

// OCI/containerd defaults for a non-privileged container.
const std::vector<std::string>& DefaultMaskedPaths();
const std::vector<std::string>& DefaultReadonlyPaths();

// Async-signal-safe (raw syscalls only), for the child after the container's /proc and /sys are
// mounted, with paths as seen from the child (after pivot_root: "/proc/kcore"). Masks files with a
// bind of /dev/null and directories with an empty read-only tmpfs; missing paths are skipped.
// Returns 0 or errno, *failed_index set to the path that failed.
int MaskPaths(const char* const* paths, size_t count, size_t* failed_index) noexcept;
// Bind-mounts each path onto itself and remounts it read-only (keeping nosuid/nodev/noexec).
int MakePathsReadonly(const char* const* paths, size_t count, size_t* failed_index) noexcept;

// ---- Sysctls ------------------------------------------------------------------------------------

struct SysctlNamespaces {
  bool own_network = true;  // false for hostNetwork pods
  bool own_ipc = true;      // false for hostIPC pods
};

// Only namespaced sysctls may be set for a pod: kernel.shm*, kernel.msg*, kernel.sem,
// fs.mqueue.* (IPC namespace), net.* (network namespace). "a.b.c" and "a/b/c" are both accepted.
Status ValidateSysctl(std::string_view name, SysctlNamespaces namespaces);

struct PreparedSysctl {
  std::string path;  // "/proc/sys/net/ipv4/ip_forward"
  std::string value;
};
Result<std::vector<PreparedSysctl>> PrepareSysctls(
    const std::map<std::string, std::string>& sysctls, SysctlNamespaces namespaces);
// Async-signal-safe: writes each value inside the namespaces the caller is in. 0 or errno.
int WriteSysctls(const PreparedSysctl* items, size_t count, size_t* failed_index) noexcept;

// ---- Users --------------------------------------------------------------------------------------

struct UserRequest {
  std::string image_user;               // image config USER: "name", "uid", "uid:gid", "name:group"
  std::optional<int64_t> run_as_user;   // securityContext.runAsUser (replaces the image's USER)
  std::optional<int64_t> run_as_group;  // securityContext.runAsGroup (wins over any group)
  std::string run_as_username;          // CRI run_as_username (wins over run_as_user)
  std::vector<int64_t> supplemental_groups;
  std::optional<int64_t> fs_group;
  bool run_as_non_root = false;
  // SupplementalGroupsPolicy Strict: the image's /etc/group memberships are not added.
  bool strict_supplemental_groups = false;
};

struct ResolvedUser {
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t>
      additional_gids;  // /etc/group memberships (unless strict) + supplemental + fsGroup
  std::string name;                    // "" when the uid has no /etc/passwd entry
  std::string home = "/";              // for HOME
};

// Resolves against `rootfs`/etc/passwd and /etc/group, opened with RESOLVE_IN_ROOT so no symlink
// leads outside the rootfs. Missing files mean no entries. Unknown names -> kFailedPrecondition;
// runAsNonRoot violations -> kFailedPrecondition with kubelet's wording.
Result<ResolvedUser> ResolveUser(const std::string& rootfs, const UserRequest& request);

// ---- Rlimits and OOM score ----------------------------------------------------------------------

struct RlimitSetting {
  int resource = 0;  // RLIMIT_*
  uint64_t soft = 0;
  uint64_t hard = 0;
};

// containerd 1.x under its systemd unit (LimitNOFILE=infinity) hands CRI containers its own
// RLIMIT_NOFILE, 1048576:1048576; peapod sets that explicitly, clamped to what it may grant.
std::vector<RlimitSetting> DefaultContainerRlimits(std::string_view container_id);
// Without CAP_SYS_RESOURCE a hard limit cannot be raised: clamps to this process's hard limit,
// logs.
RlimitSetting ClampRlimit(RlimitSetting wanted, std::string_view container_id);
// Without CAP_SYS_RESOURCE oom_score_adj cannot go below this process's: clamps, logs.
int ClampOomScoreAdj(int wanted, std::string_view container_id);

// ---- The plan the container child applies
// ---------------------------------------------------------

enum SecurityStep : int {
  kSecurityStepNone = 0,
  kSecurityStepRlimits,
  kSecurityStepOomScoreAdj,
  kSecurityStepUserNamespace,
  kSecurityStepSeccompEarly,  // seccomp before the uid switch when no_new_privs is off (as runc)
  kSecurityStepSetgroups,
  kSecurityStepSetresgid,
  kSecurityStepKeepCaps,
  kSecurityStepBoundingSet,
  kSecurityStepSetresuid,
  kSecurityStepCapset,
  kSecurityStepAmbient,
  kSecurityStepNoNewPrivs,
  kSecurityStepSeccomp,
};
std::string_view SecurityStepName(int step);

// Everything prepared in the parent; the child only reads it (no allocation after fork).
struct SecurityPlan {
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> additional_gids;
  CapabilitySet capabilities;
  int last_cap = kLastKnownCapability;  // fill with KernelLastCapability()
  bool no_new_privs = false;
  std::optional<SeccompProgram> seccomp;
  std::vector<RlimitSetting> rlimits;
  std::optional<int> oom_score_adj;  // clamped; written to /proc/self/oom_score_adj
  // The pod's user namespace (an open fd; -1: none), joined right after the rlimits and
  // oom_score_adj, which need the node's privileges, and before anything that names an id or a
  // capability: those are then the pod's own.
  int user_namespace_fd = -1;
  // AppArmor and SELinux are not supported; profiles asking for them are ignored by the caller.
};

// Async-signal-safe. Order as runc: rlimits, oom_score_adj, [setns user namespace],
// [seccomp if !no_new_privs],
// setgroups, setresgid, PR_SET_KEEPCAPS, bounding-set drop, setresuid, capset, ambient raise,
// PR_SET_NO_NEW_PRIVS, [seccomp if no_new_privs]. Without no_new_privs, installing a filter needs
// CAP_SYS_ADMIN, which is still held before the uid switch; so the filter must allow the
// syscalls that follow (setgroups, setresuid, capset, prctl, execve), as with runc.
// Returns 0 or errno; *failed_step gets a SecurityStep.
int ApplySecurityPlan(const SecurityPlan& plan, int* failed_step) noexcept;

}  // namespace peapod::runtime
