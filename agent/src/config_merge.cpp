#include "peapod/agent/config_merge.h"

#include <signal.h>

#include <filesystem>

#include "peapod/runtime/signal_name.h"

namespace peapod::agent {
namespace {

std::string_view EnvKey(std::string_view kv) { return kv.substr(0, kv.find('=')); }

// Sets KEY=VALUE, replacing an existing entry with the same key in place (as containerd's
// oci.WithEnv does), so the image's order is kept.
void SetEnv(std::vector<std::string>& env, std::string kv) {
  auto key = EnvKey(kv);
  for (auto& existing : env) {
    if (EnvKey(existing) == key) {
      existing = std::move(kv);
      return;
    }
  }
  env.push_back(std::move(kv));
}

}  // namespace

Result<MergedProcess> MergeProcess(const ContainerConfig& config,
                                   const image::ContainerDefaults& image) {
  // containerd's setOCIProcessArgs (from moby's daemon/commit.go): a command replaces the
  // Entrypoint and the image's Cmd is then ignored; args alone replace only the Cmd.
  std::vector<std::string> command = config.command;
  std::vector<std::string> args = config.args;
  if (command.empty()) {
    if (args.empty()) args = image.cmd;
    bool empty_entrypoint = image.entrypoint.size() == 1 && image.entrypoint[0].empty();
    if (!empty_entrypoint) command = image.entrypoint;
  }
  if (command.empty() && args.empty()) {
    return Fail(ErrorCode::kInvalidArgument,
                "no command specified: neither the container config nor the image has one");
  }
  MergedProcess merged;
  merged.args = std::move(command);
  merged.args.insert(merged.args.end(), args.begin(), args.end());

  merged.env = image.env;
  for (const auto& kv : config.envs) SetEnv(merged.env, kv.key + "=" + kv.value);

  merged.working_dir = !config.working_dir.empty() ? config.working_dir
                       : !image.working_dir.empty() ? image.working_dir
                                                     : "/";
  return merged;
}

Result<int> ParseStopSignal(const std::string& name) {
  if (name.empty()) return SIGTERM;
  if (auto number = runtime::ParseSignal(name)) return *number;
  return Fail(ErrorCode::kInvalidArgument,
              "unknown stop signal \"" + name +
                  "\" (a name kill -l lists, such as SIGTERM or SIGRTMIN+3, or a number 1-" +
                  std::to_string(SIGRTMAX) + ")");
}

Result<bool> RunsSystemd(const std::vector<std::string>& args,
                         const std::map<std::string, std::string>& container_annotations,
                         const std::map<std::string, std::string>& pod_annotations) {
  for (const auto* annotations : {&container_annotations, &pod_annotations}) {
    auto it = annotations->find(std::string(kSystemdAnnotation));
    if (it == annotations->end()) continue;
    if (it->second == "true") return true;
    if (it->second == "false") return false;
    return Fail(ErrorCode::kInvalidArgument, "annotation " + std::string(kSystemdAnnotation) +
                                                 ": \"" + it->second +
                                                 "\" is neither \"true\" nor \"false\"");
  }
  if (args.empty()) return false;
  const std::string& command = args[0];
  return command == "/sbin/init" || command == "/usr/sbin/init" ||
         std::filesystem::path(command).filename() == "systemd";
}

void ApplySystemdMode(const std::vector<Mount>& config_mounts, runtime::ContainerSpec& spec) {
  auto mounted = [&](std::string_view path) {
    for (const auto& m : config_mounts) {
      std::string normal = std::filesystem::path(m.container_path).lexically_normal().string();
      while (normal.size() > 1 && normal.back() == '/') normal.pop_back();  // "/tmp/"
      if (normal == path) return true;
    }
    return false;
  };
  // systemd expects these empty and in memory at boot; the image's contents stay hidden.
  const std::pair<const char*, const char*> tmpfs[] = {
      {"/run", "mode=755,size=65536k"},
      {"/run/lock", "mode=1777,size=5120k"},
      {"/tmp", "mode=1777"},
      {"/var/log/journal", "mode=2755"},
  };
  for (const auto& [path, options] : tmpfs) {
    if (mounted(path)) continue;
    runtime::MountSpec m;
    m.destination = path;
    m.type = "tmpfs";
    m.data = options;
    spec.mounts.push_back(std::move(m));
  }
  bool has_container_env = false;
  for (const auto& kv : spec.env) has_container_env |= kv.starts_with("container=");
  // systemd reads it to know it runs in a container (and skips what only a machine does).
  if (!has_container_env) spec.env.push_back("container=peapod");
  spec.cgroup_writable = true;
}

}  // namespace peapod::agent
