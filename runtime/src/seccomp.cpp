// Seccomp: profiles (peapod's RuntimeDefault, OCI/Docker JSON) compiled with libseccomp into a
// classic-BPF program held in memory, so the container child installs it with one raw syscall.
#include <seccomp.h>
#include <spdlog/spdlog.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "peapod/parse.h"
#include "peapod/runtime/security.h"
#include "peapod/unique_fd.h"

namespace peapod::runtime {
namespace {

struct SeccompArg {
  unsigned index = 0;
  uint64_t value = 0;
  uint64_t value_two = 0;
  scmp_compare op = SCMP_CMP_EQ;
};

struct SeccompRule {
  std::vector<std::string> names;
  uint32_t action = SCMP_ACT_ALLOW;
  std::vector<SeccompArg> args;
};

struct SeccompProfile {
  uint32_t default_action = SCMP_ACT_ALLOW;
  std::vector<uint32_t> arches;  // besides the native one
  std::vector<SeccompRule> rules;
};

std::unexpected<Error> Invalid(const std::string& message) {
  return Fail(ErrorCode::kInvalidArgument, "seccomp profile: " + message);
}

uint64_t CapBit(std::string_view name) {
  auto cap = CapabilityFromName(name);
  return cap ? uint64_t{1} << *cap : 0;
}

// ---- RuntimeDefault
// ------------------------------------------------------------------------------

// Syscalls Docker's default profile refuses, and the capability that lifts the refusal there
// ("" = always refused). Refused with EPERM.
struct Denied {
  const char* syscall;
  const char* unless_cap;
};
constexpr Denied kDenied[] = {
    {"init_module", "SYS_MODULE"},
    {"finit_module", "SYS_MODULE"},
    {"delete_module", "SYS_MODULE"},
    {"kexec_load", "SYS_BOOT"},
    {"kexec_file_load", "SYS_BOOT"},
    {"reboot", "SYS_BOOT"},
    {"mount", "SYS_ADMIN"},
    {"umount", "SYS_ADMIN"},
    {"umount2", "SYS_ADMIN"},
    {"move_mount", "SYS_ADMIN"},
    {"fsopen", "SYS_ADMIN"},
    {"fsconfig", "SYS_ADMIN"},
    {"fsmount", "SYS_ADMIN"},
    {"fspick", "SYS_ADMIN"},
    {"open_tree", "SYS_ADMIN"},
    {"mount_setattr", "SYS_ADMIN"},
    {"pivot_root", "SYS_ADMIN"},
    {"swapon", "SYS_ADMIN"},
    {"swapoff", "SYS_ADMIN"},
    {"setns", "SYS_ADMIN"},
    {"unshare", "SYS_ADMIN"},
    {"quotactl", "SYS_ADMIN"},
    {"quotactl_fd", "SYS_ADMIN"},
    {"lookup_dcookie", "SYS_ADMIN"},
    {"fanotify_init", "SYS_ADMIN"},
    {"name_to_handle_at", "SYS_ADMIN"},
    {"bpf", "SYS_ADMIN"},
    {"perf_event_open", "SYS_ADMIN"},
    {"keyctl", ""},
    {"add_key", ""},
    {"request_key", ""},
    {"settimeofday", "SYS_TIME"},
    {"stime", "SYS_TIME"},
    {"clock_settime", "SYS_TIME"},
    {"clock_settime64", "SYS_TIME"},
    {"acct", "SYS_PACCT"},
    {"iopl", "SYS_RAWIO"},
    {"ioperm", "SYS_RAWIO"},
    {"userfaultfd", "SYS_PTRACE"},
    {"open_by_handle_at", "DAC_READ_SEARCH"},
    {"kcmp", "SYS_PTRACE"},
    {"process_vm_readv", "SYS_PTRACE"},
    {"process_vm_writev", "SYS_PTRACE"},
    {"syslog", "SYSLOG"},
    {"uselib", ""},
    {"vhangup", "SYS_TTY_CONFIG"},
    {"nfsservctl", ""},
    {"mbind", "SYS_NICE"},
    {"set_mempolicy", "SYS_NICE"},
    {"move_pages", "SYS_NICE"},
    {"get_kernel_syms", ""},
    {"query_module", ""},
    {"create_module", ""},
    {"_sysctl", ""},
    {"sysfs", ""},
    {"ustat", ""},
    {"vm86", ""},
    {"vm86old", ""},
};

constexpr uint64_t kCloneNamespaceFlags[] = {0x00020000, 0x02000000, 0x04000000, 0x08000000,
                                             0x10000000, 0x20000000, 0x40000000};

SeccompProfile RuntimeDefaultProfile(uint64_t caps) {
  SeccompProfile p;
  p.default_action = SCMP_ACT_ALLOW;
  // A deny-list must also cover the compat ABIs, or a 32-bit syscall walks around it; other
  // architectures are killed by libseccomp's bad-arch action.
#if defined(__x86_64__)
  p.arches = {SCMP_ARCH_X86, SCMP_ARCH_X32};
#elif defined(__aarch64__)
  p.arches = {SCMP_ARCH_ARM};
#endif
  const uint32_t eperm = SCMP_ACT_ERRNO(EPERM);
  SeccompRule denied{{}, eperm, {}};
  for (const Denied& d : kDenied) {
    uint64_t lift = *d.unless_cap ? CapBit(d.unless_cap) : 0;
    if (lift != 0 && (caps & lift) != 0) continue;
    if (std::string_view(d.syscall) == "bpf" && (caps & CapBit("BPF"))) continue;
    if (std::string_view(d.syscall) == "perf_event_open" && (caps & CapBit("PERFMON"))) continue;
    denied.names.emplace_back(d.syscall);
  }
  p.rules.push_back(std::move(denied));
  if ((caps & CapBit("SYS_ADMIN")) == 0) {
    // New namespaces (a user namespace above all) are Docker's biggest refusal. clone3 passes its
    // flags in memory seccomp cannot read: ENOSYS makes libc fall back to clone, which is checked.
    for (uint64_t flag : kCloneNamespaceFlags) {
      p.rules.push_back({{"clone"}, eperm, {SeccompArg{0, flag, flag, SCMP_CMP_MASKED_EQ}}});
    }
    p.rules.push_back({{"clone3"}, SCMP_ACT_ERRNO(ENOSYS), {}});
  }
  return p;
}

// ---- JSON
// ----------------------------------------------------------------------------------------

using nlohmann::json;

Result<uint32_t> ParseAction(const std::string& name, std::optional<unsigned> errno_ret) {
  if (name == "SCMP_ACT_ALLOW") return SCMP_ACT_ALLOW;
  if (name == "SCMP_ACT_ERRNO") return SCMP_ACT_ERRNO(errno_ret.value_or(EPERM));
  if (name == "SCMP_ACT_KILL" || name == "SCMP_ACT_KILL_THREAD") return SCMP_ACT_KILL;
  if (name == "SCMP_ACT_KILL_PROCESS") return SCMP_ACT_KILL_PROCESS;
  if (name == "SCMP_ACT_TRAP") return SCMP_ACT_TRAP;
  if (name == "SCMP_ACT_LOG") return SCMP_ACT_LOG;
  if (name == "SCMP_ACT_TRACE") return SCMP_ACT_TRACE(errno_ret.value_or(EPERM));
  if (name == "SCMP_ACT_NOTIFY")
    return Invalid("action SCMP_ACT_NOTIFY needs a listener, which peapod does not provide");
  return Invalid("unknown action \"" + name + "\"");
}

Result<scmp_compare> ParseOp(const std::string& name) {
  static const std::pair<const char*, scmp_compare> kOps[] = {
      {"SCMP_CMP_NE", SCMP_CMP_NE},
      {"SCMP_CMP_LT", SCMP_CMP_LT},
      {"SCMP_CMP_LE", SCMP_CMP_LE},
      {"SCMP_CMP_EQ", SCMP_CMP_EQ},
      {"SCMP_CMP_GE", SCMP_CMP_GE},
      {"SCMP_CMP_GT", SCMP_CMP_GT},
      {"SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ}};
  for (const auto& [text, op] : kOps) {
    if (name == text) return op;
  }
  return Invalid("unknown argument operator \"" + name + "\"");
}

Result<uint32_t> ParseArch(const std::string& name) {
  std::string lower;
  std::string_view rest = name;
  if (rest.starts_with("SCMP_ARCH_")) rest.remove_prefix(10);
  for (char c : rest)
    lower.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  uint32_t arch = seccomp_arch_resolve_name(lower.c_str());
  if (arch == 0) return Invalid("unknown architecture \"" + name + "\"");
  return arch;
}

// Docker's names for the native architecture ("includes": {"arches": [...]}).
std::string_view DockerArch() {
#if defined(__x86_64__)
  return "amd64";
#elif defined(__aarch64__)
  return "arm64";
#else
  return "";
#endif
}

bool KernelAtLeast(const std::string& wanted) {
  struct utsname u;
  if (::uname(&u) != 0) return false;
  // "6.1.0-13-amd64" and the profile's "4.8": major and minor, each a bounded number, so
  // a profile's "99999999999999999999.1" is just a kernel we are not.
  auto version = [](std::string_view text) {
    std::pair<uint64_t, uint64_t> out{0, 0};
    size_t dot = text.find('.');
    out.first = ParseUnsigned(text.substr(0, dot), UINT32_MAX).value_or(UINT32_MAX);
    if (dot == std::string_view::npos) return out;
    std::string_view minor = text.substr(dot + 1);
    minor = minor.substr(0, minor.find_first_not_of("0123456789"));
    out.second = ParseUnsigned(minor, UINT32_MAX).value_or(0);
    return out;
  };
  return version(u.release) >= version(wanted);
}

// Docker's conditional rules: includes must all hold, excludes must all fail.
Result<bool> RuleApplies(const json& rule, uint64_t caps) {
  auto strings = [](const json& obj, const char* key) {
    std::vector<std::string> out;
    if (obj.contains(key)) out = obj.at(key).get<std::vector<std::string>>();
    return out;
  };
  if (rule.contains("includes")) {
    const json& inc = rule.at("includes");
    for (const std::string& cap : strings(inc, "caps")) {
      if ((caps & CapBit(cap)) == 0) return false;
    }
    auto arches = strings(inc, "arches");
    if (!arches.empty() && std::find(arches.begin(), arches.end(), DockerArch()) == arches.end())
      return false;
    if (inc.contains("minKernel") && !KernelAtLeast(inc.at("minKernel").get<std::string>()))
      return false;
  }
  if (rule.contains("excludes")) {
    const json& exc = rule.at("excludes");
    for (const std::string& cap : strings(exc, "caps")) {
      if ((caps & CapBit(cap)) != 0) return false;
    }
    auto arches = strings(exc, "arches");
    if (std::find(arches.begin(), arches.end(), DockerArch()) != arches.end()) return false;
    if (exc.contains("minKernel") && KernelAtLeast(exc.at("minKernel").get<std::string>()))
      return false;
  }
  return true;
}

// get<unsigned>() converts a float or a negative number unchecked (a float out of range is
// undefined behaviour): the numbers of a profile must be integers within `max`.
Result<uint64_t> Unsigned(const json& value, const std::string& what, uint64_t max) {
  if (!value.is_number_unsigned() || value.get<uint64_t>() > max) {
    return Invalid(what + " must be an integer from 0 to " + std::to_string(max));
  }
  return value.get<uint64_t>();
}

Result<SeccompRule> ParseRule(const json& rule, size_t i) {
  std::string where = "syscalls[" + std::to_string(i) + "]";
  if (!rule.is_object()) return Invalid(where + " is not an object");
  SeccompRule out;
  if (rule.contains("names")) out.names = rule.at("names").get<std::vector<std::string>>();
  if (rule.contains("name")) out.names.push_back(rule.at("name").get<std::string>());
  if (out.names.empty()) return Invalid(where + " names no syscall");
  if (!rule.contains("action")) return Invalid(where + " has no action");
  std::optional<unsigned> errno_ret;
  if (rule.contains("errnoRet")) {
    auto value = Unsigned(rule.at("errnoRet"), where + ".errnoRet", UINT32_MAX);
    if (!value) return std::unexpected(value.error());
    errno_ret = static_cast<unsigned>(*value);
  }
  auto action = ParseAction(rule.at("action").get<std::string>(), errno_ret);
  if (!action) return std::unexpected(std::move(action.error()).Context(where));
  out.action = *action;
  if (rule.contains("args") && !rule.at("args").is_null()) {
    for (const json& a : rule.at("args")) {
      SeccompArg arg;
      auto index = Unsigned(a.at("index"), where + ": argument index", UINT32_MAX);
      if (!index) return std::unexpected(index.error());
      arg.index = static_cast<unsigned>(*index);
      if (arg.index > 5)
        return Invalid(where + ": argument index " + std::to_string(arg.index) + " is above 5");
      for (auto [key, field] : {std::pair{"value", &arg.value}, {"valueTwo", &arg.value_two}}) {
        if (!a.contains(key)) continue;
        auto value = Unsigned(a.at(key), where + ": argument " + key, UINT64_MAX);
        if (!value) return std::unexpected(value.error());
        *field = *value;
      }
      auto op = ParseOp(a.at("op").get<std::string>());
      if (!op) return std::unexpected(std::move(op.error()).Context(where));
      arg.op = *op;
      out.args.push_back(arg);
    }
  }
  return out;
}

Result<SeccompProfile> ParseProfileJson(std::string_view text, uint64_t caps) {
  json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return Invalid("not valid JSON");
  if (!doc.is_object()) return Invalid("not a JSON object");
  try {
    SeccompProfile p;
    if (!doc.contains("defaultAction")) return Invalid("no defaultAction");
    std::optional<unsigned> default_errno;
    if (doc.contains("defaultErrnoRet")) {
      auto value = Unsigned(doc.at("defaultErrnoRet"), "defaultErrnoRet", UINT32_MAX);
      if (!value) return std::unexpected(value.error());
      default_errno = static_cast<unsigned>(*value);
    }
    auto def = ParseAction(doc.at("defaultAction").get<std::string>(), default_errno);
    if (!def) return std::unexpected(std::move(def.error()).Context("defaultAction"));
    p.default_action = *def;
    std::vector<std::string> arch_names;
    if (doc.contains("architectures") && !doc.at("architectures").is_null()) {
      arch_names = doc.at("architectures").get<std::vector<std::string>>();
    } else if (doc.contains("archMap") && !doc.at("archMap").is_null()) {
      uint32_t native = seccomp_arch_native();
      for (const json& entry : doc.at("archMap")) {
        auto main = ParseArch(entry.at("architecture").get<std::string>());
        if (!main) return std::unexpected(main.error());
        if (*main != native) continue;
        if (entry.contains("subArchitectures")) {
          arch_names = entry.at("subArchitectures").get<std::vector<std::string>>();
        }
      }
    }
    for (const std::string& name : arch_names) {
      auto arch = ParseArch(name);
      if (!arch) return std::unexpected(arch.error());
      p.arches.push_back(*arch);
    }
    if (doc.contains("syscalls") && !doc.at("syscalls").is_null()) {
      if (!doc.at("syscalls").is_array()) return Invalid("syscalls is not an array");
      size_t i = 0;
      for (const json& rule : doc.at("syscalls")) {
        auto applies = RuleApplies(rule, caps);
        if (!applies) return std::unexpected(applies.error());
        auto parsed = ParseRule(rule, i++);
        if (!parsed) return std::unexpected(parsed.error());
        if (*applies) p.rules.push_back(std::move(*parsed));
      }
    }
    return p;
  } catch (const json::exception& e) {
    return Invalid(std::string("wrong type or missing field: ") + e.what());
  }
}

// ---- Compilation
// ---------------------------------------------------------------------------------

struct FilterContext {
  scmp_filter_ctx ctx;
  explicit FilterContext(uint32_t def) : ctx(seccomp_init(def)) {}
  ~FilterContext() {
    if (ctx != nullptr) seccomp_release(ctx);
  }
};

Status AddRule(scmp_filter_ctx ctx, const SeccompRule& rule, uint32_t default_action) {
  if (rule.action == default_action) return Ok();  // libseccomp refuses no-op rules
  // OCI: conditions on different arguments are ANDed; several on one argument mean "any of them".
  bool repeated_index = false;
  for (size_t i = 0; i < rule.args.size(); ++i) {
    for (size_t j = i + 1; j < rule.args.size(); ++j)
      repeated_index |= rule.args[i].index == rule.args[j].index;
  }
  std::vector<std::vector<scmp_arg_cmp>> groups;
  auto cmp = [](const SeccompArg& a) { return scmp_arg_cmp{a.index, a.op, a.value, a.value_two}; };
  if (repeated_index) {
    for (const SeccompArg& a : rule.args) groups.push_back({cmp(a)});
  } else {
    groups.emplace_back();
    for (const SeccompArg& a : rule.args) groups.back().push_back(cmp(a));
  }
  for (const std::string& name : rule.names) {
    int nr = seccomp_syscall_resolve_name(name.c_str());
    if (nr == __NR_SCMP_ERROR) {
      spdlog::debug("seccomp: syscall {} unknown on this architecture, rule skipped", name);
      continue;
    }
    for (const auto& group : groups) {
      int rc = seccomp_rule_add_array(ctx, rule.action, nr, static_cast<unsigned>(group.size()),
                                      group.data());
      if (rc != 0) {
        return Invalid("rule for syscall " + name +
                       " rejected by libseccomp: " + std::strerror(-rc));
      }
    }
  }
  return Ok();
}

Result<SeccompProgram> Compile(const SeccompProfile& profile) {
  FilterContext filter(profile.default_action);
  if (filter.ctx == nullptr) return Invalid("libseccomp refused the default action");
  for (uint32_t arch : profile.arches) {
    int rc = seccomp_arch_add(filter.ctx, arch);
    if (rc != 0 && rc != -EEXIST)
      return Invalid(std::string("add architecture: ") + std::strerror(-rc));
  }
  for (const SeccompRule& rule : profile.rules) {
    if (auto st = AddRule(filter.ctx, rule, profile.default_action); !st)
      return std::unexpected(st.error());
  }
  UniqueFd fd(::memfd_create("peapod-seccomp", MFD_CLOEXEC));
  if (!fd) return FailErrno("create memfd for the seccomp program");
  if (int rc = seccomp_export_bpf(filter.ctx, fd.Get()); rc != 0) {
    return Fail(ErrorCode::kInternal, std::string("export seccomp BPF: ") + std::strerror(-rc));
  }
  off_t size = ::lseek(fd.Get(), 0, SEEK_END);
  if (size <= 0 || size % static_cast<off_t>(sizeof(sock_filter)) != 0) {
    return Fail(ErrorCode::kInternal,
                "exported seccomp program has a bad size " + std::to_string(size));
  }
  SeccompProgram program;
  program.filter.resize(static_cast<size_t>(size) / sizeof(sock_filter));
  if (::pread(fd.Get(), program.filter.data(), static_cast<size_t>(size), 0) != size) {
    return FailErrno("read back the seccomp program");
  }
  if (program.filter.size() > BPF_MAXINSNS) {
    return Invalid("compiled program has " + std::to_string(program.filter.size()) +
                   " instructions, above the kernel's limit of " + std::to_string(BPF_MAXINSNS));
  }
  return program;
}

}  // namespace

Result<SeccompProfileRef> ParseLegacySeccompProfile(std::string_view value) {
  if (value.empty() || value == "unconfined")
    return SeccompProfileRef{SeccompProfileType::kUnconfined, {}};
  if (value == "runtime/default" || value == "docker/default") {
    return SeccompProfileRef{SeccompProfileType::kRuntimeDefault, {}};
  }
  constexpr std::string_view kLocal = "localhost/";
  if (value.starts_with(kLocal)) {
    std::string path(value.substr(kLocal.size()));
    if (path.empty() || path.front() != '/') {
      return Fail(ErrorCode::kInvalidArgument, "seccomp profile \"" + std::string(value) +
                                                   "\": localhost profiles need an absolute path");
    }
    return SeccompProfileRef{SeccompProfileType::kLocalhost, std::move(path)};
  }
  return Fail(ErrorCode::kInvalidArgument,
              "unknown seccomp profile \"" + std::string(value) +
                  "\" (want runtime/default, unconfined or localhost/<path>)");
}

Result<SeccompProgram> CompileRuntimeDefaultSeccomp(uint64_t caps) {
  return Compile(RuntimeDefaultProfile(caps));
}

Result<SeccompProgram> CompileSeccompJson(std::string_view json_text, uint64_t caps) {
  auto profile = ParseProfileJson(json_text, caps);
  if (!profile) return std::unexpected(profile.error());
  return Compile(*profile);
}

Result<std::optional<SeccompProgram>> CompileSeccompProfile(const SeccompProfileRef& ref,
                                                            uint64_t caps) {
  switch (ref.type) {
    case SeccompProfileType::kUnconfined:
      return std::optional<SeccompProgram>();
    case SeccompProfileType::kRuntimeDefault: {
      auto program = CompileRuntimeDefaultSeccomp(caps);
      if (!program) return std::unexpected(program.error());
      return std::optional<SeccompProgram>(std::move(*program));
    }
    case SeccompProfileType::kLocalhost: {
      std::ifstream in(ref.localhost_path);
      if (!in) return FailErrno("read seccomp profile " + ref.localhost_path);
      std::stringstream text;
      text << in.rdbuf();
      auto program = CompileSeccompJson(text.str(), caps);
      if (!program) return std::unexpected(std::move(program.error()).Context(ref.localhost_path));
      return std::optional<SeccompProgram>(std::move(*program));
    }
  }
  return Fail(ErrorCode::kInvalidArgument, "unknown seccomp profile type");
}

}  // namespace peapod::runtime
