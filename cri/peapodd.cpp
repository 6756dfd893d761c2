// peapodd: the node agent. Opens the Agent over its state and run roots (re-adopting the pods
// recorded there), starts the pod controller (which supervises the pods applied with
// `peapod apply`), serves CRI v1 and peapod's pod API on one unix socket, and on SIGTERM/SIGINT
// stops serving while leaving every pod running, so a restarted peapodd picks them up again.
#include <limits.h>
#include <signal.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "peapod/agent/agent.h"
#include "peapod/agent/controller/manifest.h"
#include "peapod/agent/controller/pod_controller.h"
#include "peapod/cri/cri_server.h"
#include "peapod/image/registry_client.h"
#include "peapod/parse.h"
#include "peapod/runtime/sealed_executable.h"

namespace {

struct Flags {
  std::string listen = "/run/peapod/peapod.sock";
  std::string state_root = "/var/lib/peapod";
  std::string run_root = "/run/peapod";
  std::string cni_conf_dir = "/etc/cni/net.d";
  std::string cni_plugin_dirs = "/opt/cni/bin:/usr/lib/cni";
  std::string pause_binary;
  std::vector<std::string> registry_mirrors;
  std::vector<std::string> runtime_handlers;
  std::string log_level = "info";
  std::string cgroup_parent = "peapod";
  std::string stream_address = "127.0.0.1:0";
  int stream_token_ttl_seconds = 60;
  std::string pid_file;
  // The pod controller (durations as "500ms", "10s", "5m").
  std::string backoff_initial = "10s";
  std::string backoff_max = "5m";
  std::string backoff_reset = "10m";
  std::string relist_period = "1s";
  std::string pod_log_root = "/var/log/pods";
  // Image unpack limits, as Kubernetes quantities ("10Gi", "1M"); "0" turns a limit off.
  std::string max_image_size = "10Gi";
  std::string max_image_entries = "1M";
  std::string image_fs_reserve = "512Mi";
  std::string seccomp_profile_root;  // empty: <state-root>/seccomp
};

peapod::Result<peapod::agent::controller::ControllerConfig> MakeControllerConfig(
    const Flags& flags) {
  peapod::agent::controller::ControllerConfig config;
  const std::pair<const char*, std::pair<const std::string*, std::chrono::milliseconds*>>
      durations[] = {
          {"--backoff-initial", {&flags.backoff_initial, &config.backoff_initial}},
          {"--backoff-max", {&flags.backoff_max, &config.backoff_max}},
          {"--backoff-reset", {&flags.backoff_reset, &config.backoff_reset}},
          {"--relist-period", {&flags.relist_period, &config.relist_period}},
      };
  for (const auto& [flag, target] : durations) {
    auto parsed = peapod::ParseDuration(*target.first);
    if (!parsed || parsed->count() == 0) {
      return peapod::Fail(peapod::ErrorCode::kInvalidArgument,
                          std::string(flag) + " \"" + *target.first +
                              "\": expected a positive duration such as 500ms, 10s or 5m");
    }
    *target.second = *parsed;
  }
  if (config.backoff_max < config.backoff_initial) {
    return peapod::Fail(peapod::ErrorCode::kInvalidArgument,
                        "--backoff-max must not be shorter than --backoff-initial");
  }
  config.pod_log_root = flags.pod_log_root;
  config.seccomp_root = flags.seccomp_profile_root;
  return config;
}

// Writes our pid for scripts (quickstart.sh) that stop the agent later; removed on exit.
peapod::Status WritePidFile(const std::string& path) {
  std::error_code ec;
  auto dir = std::filesystem::path(path).parent_path();
  if (!dir.empty()) std::filesystem::create_directories(dir, ec);
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << ::getpid() << "\n";
    if (!out.flush()) return peapod::FailErrno("write pid file " + tmp);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) return peapod::FailErrno("rename " + tmp);
  return peapod::Ok();
}

// peapod-pause next to this executable (an installed tree), else the one this build made.
std::string DefaultPauseBinary() {
  // Not /proc/self/exe: that is the read-only view we run from, outside any directory.
  std::filesystem::path self = peapod::runtime::OriginalExecutablePath();
  if (!self.empty()) {
    auto beside = self.parent_path() / "peapod-pause";
    if (::access(beside.c_str(), X_OK) == 0) return beside;
  }
  return PEAPOD_BUILD_PAUSE_BINARY;
}

std::vector<std::string> SplitColonList(const std::string& list) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= list.size()) {
    size_t end = list.find(':', start);
    if (end == std::string::npos) end = list.size();
    if (end > start) out.push_back(list.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

// A non-negative Kubernetes quantity ("10Gi", "1M", "0").
peapod::Result<uint64_t> ParseAmount(const char* flag, const std::string& text) {
  auto quantity = peapod::ParseQuantity(text);
  if (!quantity || *quantity < 0) {
    return peapod::Fail(peapod::ErrorCode::kInvalidArgument,
                        std::string(flag) + " \"" + text +
                            "\": expected a non-negative quantity such as 10Gi, 512Mi or 1M");
  }
  return static_cast<uint64_t>(*quantity);
}

peapod::Status SetImageLimits(const Flags& flags, peapod::image::ImageServiceOptions& image) {
  using peapod::image::UnpackBudget;
  auto size = ParseAmount("--max-image-size", flags.max_image_size);
  if (!size) return std::unexpected(size.error());
  auto entries = ParseAmount("--max-image-entries", flags.max_image_entries);
  if (!entries) return std::unexpected(entries.error());
  auto reserve = ParseAmount("--image-fs-reserve", flags.image_fs_reserve);
  if (!reserve) return std::unexpected(reserve.error());
  image.max_image_bytes = *size == 0 ? UnpackBudget::kUnlimited : *size;
  image.max_image_entries = *entries == 0 ? UnpackBudget::kUnlimited : *entries;
  image.min_free_bytes = *reserve;
  return peapod::Ok();
}

peapod::Result<peapod::agent::AgentConfig> MakeAgentConfig(const Flags& flags) {
  peapod::agent::AgentConfig config;
  config.state_root = flags.state_root;
  config.run_root = flags.run_root;
  config.pause_binary = flags.pause_binary.empty() ? DefaultPauseBinary() : flags.pause_binary;
  config.cni.conf_dir = flags.cni_conf_dir;
  config.cni.plugin_dirs = SplitColonList(flags.cni_plugin_dirs);
  config.cgroup_parent = flags.cgroup_parent;
  config.runtime_handlers = flags.runtime_handlers;
  for (const auto& mirror : flags.registry_mirrors) {
    if (auto s = peapod::image::AddRegistryMirror(mirror, config.image.registries); !s) {
      return std::unexpected(s.error());
    }
  }
  if (auto s = SetImageLimits(flags, config.image); !s) return std::unexpected(s.error());
  return config;
}

// Blocks the shutdown signals in every thread (threads inherit the mask), so that the main
// thread alone receives them through sigwait.
sigset_t BlockShutdownSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  return set;
}

}  // namespace

int main(int argc, char** argv) {
  // First, before any thread: whatever the agent forks into a container can name this process's
  // executable (#!/proc/self/exe), so it must be a view that cannot be written through.
  if (auto s = peapod::runtime::RunFromSealedSelf(argv); !s) {
    std::fprintf(stderr, "peapodd: %s\n", s.error().ToString().c_str());
    return 1;
  }
  Flags flags;
  CLI::App app{"peapodd: the peapod node agent, serving the CRI v1 API on a unix socket"};
  app.set_version_flag("--version", std::string("peapodd ") + PEAPOD_VERSION);
  app.add_option("--listen", flags.listen, "unix socket path to serve CRI on")
      ->capture_default_str();
  app.add_option("--state-root", flags.state_root, "persistent state: records, images, CNI cache")
      ->capture_default_str();
  app.add_option("--run-root", flags.run_root, "runtime state: per-pod run dirs")
      ->capture_default_str();
  app.add_option("--cni-conf-dir", flags.cni_conf_dir, "CNI network configuration directory")
      ->capture_default_str();
  app.add_option("--cni-plugin-dirs", flags.cni_plugin_dirs, "colon-separated CNI plugin dirs")
      ->capture_default_str();
  app.add_option("--pause-binary", flags.pause_binary,
                 "peapod-pause executable (default: next to peapodd, else the build's)");
  app.add_option("--registry-mirror", flags.registry_mirrors,
                 "HOST=URL[,fallback]: pull HOST's images from URL, e.g. "
                 "gcr.io=http://127.0.0.1:5000; the mirrors are HOST's only endpoints unless "
                 "`fallback` asks for HOST itself after them (repeatable, tried in order)")
      ->take_all();
  app.add_option("--max-image-size", flags.max_image_size,
                 "most file content one image may unpack, all layers together (0: no limit)")
      ->capture_default_str();
  app.add_option("--max-image-entries", flags.max_image_entries,
                 "most entries (files, dirs, links, whiteouts) one image may unpack (0: no limit)")
      ->capture_default_str();
  app.add_option("--image-fs-reserve", flags.image_fs_reserve,
                 "free space an image unpack must leave on the state root's filesystem")
      ->capture_default_str();
  app.add_option("--seccomp-profile-root", flags.seccomp_profile_root,
                 "where applied pods' Localhost seccomp profiles are read from "
                 "(default: <state-root>/seccomp)");
  app.add_option("--runtime-handler", flags.runtime_handlers,
                 "RuntimeClass handler name accepted besides the default (repeatable)");
  app.add_option("--cgroup-parent", flags.cgroup_parent,
                 "cgroup of every pod without a CRI cgroup_parent (cgroupfs driver)")
      ->capture_default_str();
  app.add_option("--stream-address", flags.stream_address,
                 "host:port of the streaming server for exec, attach and port-forward "
                 "(port 0: a free one)")
      ->capture_default_str();
  app.add_option("--stream-token-ttl", flags.stream_token_ttl_seconds,
                 "seconds a streaming URL from Exec, Attach or PortForward stays usable")
      ->check(CLI::Range(1, 3600))
      ->capture_default_str();
  app.add_option("--log-level", flags.log_level, "trace, debug, info, warn, error, critical, off")
      ->capture_default_str();
  app.add_option("--pid-file", flags.pid_file, "write the daemon's pid here (removed on exit)");
  app.add_option("--backoff-initial", flags.backoff_initial,
                 "CrashLoopBackOff: first restart delay (kubelet: 10s)")
      ->capture_default_str();
  app.add_option("--backoff-max", flags.backoff_max, "CrashLoopBackOff: delay cap (kubelet: 5m)")
      ->capture_default_str();
  app.add_option("--backoff-reset", flags.backoff_reset,
                 "CrashLoopBackOff: a container that ran this long starts over (kubelet: 10m)")
      ->capture_default_str();
  app.add_option("--relist-period", flags.relist_period,
                 "how often the pod controller relists container states (kubelet's PLEG: 1s)")
      ->capture_default_str();
  app.add_option("--pod-log-root", flags.pod_log_root,
                 "container logs of applied pods: <root>/<ns>_<pod>_<uid>/<container>/<n>.log")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  spdlog::set_default_logger(spdlog::stderr_color_mt("peapodd"));
  auto level = spdlog::level::from_str(flags.log_level);
  if (level == spdlog::level::off && flags.log_level != "off") {
    spdlog::error("--log-level \"{}\" is not one of trace, debug, info, warn, error, critical, off",
                  flags.log_level);
    return 2;
  }
  spdlog::set_level(level);

  auto config = MakeAgentConfig(flags);
  if (!config) {
    spdlog::error("{}", config.error().ToString());
    return 2;
  }
  auto controller_config = MakeControllerConfig(flags);
  if (!controller_config) {
    spdlog::error("{}", controller_config.error().ToString());
    return 2;
  }

  // A peer that closes its connection must not kill the agent mid-write.
  ::signal(SIGPIPE, SIG_IGN);
  sigset_t shutdown_signals = BlockShutdownSignals();
  // hostPID containers have no pause to reap them: their orphans come to the agent.
  if (::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0) {
    spdlog::error("prctl(PR_SET_CHILD_SUBREAPER): {}", std::strerror(errno));
    return 1;
  }

  spdlog::info("peapodd {} starting: state root {}, run root {}, pause {}", PEAPOD_VERSION,
               config->state_root, config->run_root, config->pause_binary);
  spdlog::info("running from a read-only view of {}", peapod::runtime::OriginalExecutablePath());
  auto agent = peapod::agent::Agent::Open(*config);
  if (!agent) {
    spdlog::error("open agent: {}", agent.error().ToString());
    return 1;
  }
  auto pods =
      std::make_unique<peapod::agent::controller::PodController>(**agent, *controller_config);
  if (auto s = pods->Start(); !s) {
    spdlog::error("start pod controller: {}", s.error().ToString());
    return 1;
  }
  peapod::cri::CriServerOptions options;
  options.socket_path = flags.listen;
  options.runtime_handlers = flags.runtime_handlers;
  options.stream_address = flags.stream_address;
  options.stream_token_ttl = std::chrono::seconds(flags.stream_token_ttl_seconds);
  options.pods = pods.get();
  auto server = peapod::cri::CriServer::Start(**agent, options);
  if (!server) {
    spdlog::error("{}", server.error().ToString());
    return 1;
  }
  if (!flags.pid_file.empty()) {
    if (auto s = WritePidFile(flags.pid_file); !s) {
      spdlog::error("{}", s.error().ToString());
      return 1;
    }
  }

  int signo = 0;
  while (sigwait(&shutdown_signals, &signo) != 0) {
  }
  spdlog::info("received {}, shutting down; pods keep running", ::strsignal(signo));
  (*server)->Shutdown();
  server->reset();
  pods.reset();  // stops the workers; pods keep running
  agent->reset();
  if (!flags.pid_file.empty()) ::unlink(flags.pid_file.c_str());
  spdlog::info("peapodd stopped");
  return 0;
}
