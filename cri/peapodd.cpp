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
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "peapod/agent/agent.h"
#include "peapod/agent/controller/manifest.h"
#include "peapod/agent/controller/pod_controller.h"
#include "peapod/agent/daemon_config.h"
#include "peapod/cri/cri_server.h"
#include "peapod/image/registry_client.h"
#include "peapod/parse.h"
#include "peapod/runtime/sealed_executable.h"
#include "peapod/runtime/service_notify.h"

namespace {

using Flags = peapod::agent::DaemonConfig;

// Test hooks, as PEAPOD_CRASH_AT: the periods of log rotation and image GC are kubelet's
// (10 s, 5 min) unless a test shortens them through these variables ("200ms").
std::optional<std::chrono::milliseconds> TestPeriod(const char* variable) {
  const char* value = std::getenv(variable);
  if (value == nullptr || *value == '\0') return std::nullopt;
  auto parsed = peapod::ParseDuration(value);
  if (!parsed || parsed->count() <= 0) return std::nullopt;
  return *parsed;
}

// PEAPOD_TEST_IMAGE_FS="CAPACITY:AVAILABLE" (quantities): image GC sees this figure instead of
// statvfs's, so a test can put the image filesystem above a threshold without filling a disk.
peapod::agent::FsCapacityProbe TestImageFsProbe() {
  const char* value = std::getenv("PEAPOD_TEST_IMAGE_FS");
  if (value == nullptr || *value == '\0') return {};
  std::string_view text(value);
  size_t colon = text.find(':');
  if (colon == std::string_view::npos) return {};
  auto capacity = peapod::ParseQuantity(text.substr(0, colon));
  auto available = peapod::ParseQuantity(text.substr(colon + 1));
  if (!capacity || !available || *capacity <= 0 || *available < 0) return {};
  peapod::agent::FsCapacity figure{static_cast<uint64_t>(*capacity),
                                   static_cast<uint64_t>(*available)};
  spdlog::warn(
      "image gc: PEAPOD_TEST_IMAGE_FS: the image filesystem counts as {} bytes with {} "
      "available",
      figure.capacity_bytes, figure.available_bytes);
  return
      [figure](const std::string&) -> peapod::Result<peapod::agent::FsCapacity> { return figure; };
}

peapod::Result<peapod::agent::ImageGcPolicy> MakeImageGcPolicy(const Flags& flags) {
  peapod::agent::ImageGcPolicy policy;
  if (flags.image_gc_low_threshold_percent > flags.image_gc_high_threshold_percent) {
    return peapod::Fail(peapod::ErrorCode::kInvalidArgument,
                        "--image-gc-low-threshold-percent must not be above "
                        "--image-gc-high-threshold-percent");
  }
  policy.high_threshold_percent = flags.image_gc_high_threshold_percent;
  policy.low_threshold_percent = flags.image_gc_low_threshold_percent;
  const std::pair<const char*, std::pair<const std::string*, std::chrono::milliseconds*>> ages[] = {
      {"--image-minimum-gc-age", {&flags.image_minimum_gc_age, &policy.min_age}},
      {"--image-maximum-gc-age", {&flags.image_maximum_gc_age, &policy.max_age}},
  };
  for (const auto& [flag, target] : ages) {
    auto parsed = peapod::ParseDuration(*target.first);
    if (!parsed) {
      return peapod::Fail(peapod::ErrorCode::kInvalidArgument,
                          std::string(flag) + " \"" + *target.first +
                              "\": expected a duration such as 2m, 1h or 0s");
    }
    *target.second = *parsed;
  }
  if (auto period = TestPeriod("PEAPOD_TEST_IMAGE_GC_PERIOD")) policy.period = *period;
  policy.probe = TestImageFsProbe();
  return policy;
}

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
  auto max_size = peapod::ParseQuantity(flags.container_log_max_size);
  if (!max_size || *max_size <= 0) {
    return peapod::Fail(peapod::ErrorCode::kInvalidArgument,
                        "--container-log-max-size \"" + flags.container_log_max_size +
                            "\": expected a positive quantity such as 10Mi");
  }
  config.container_log_max_size = static_cast<uint64_t>(*max_size);
  config.container_log_max_files = flags.container_log_max_files;
  if (auto period = TestPeriod("PEAPOD_TEST_LOG_ROTATION_PERIOD")) {
    config.log_rotation_period = *period;
  }
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

// peapod-pause next to this executable (a build or a flat install), else in ../libexec/peapod
// (the package: /usr/bin/peapodd, /usr/libexec/peapod/peapod-pause), else the one this build
// made.
std::string DefaultPauseBinary() {
  // Not /proc/self/exe: that is the read-only view we run from, outside any directory.
  std::filesystem::path self = peapod::runtime::OriginalExecutablePath();
  if (!self.empty()) {
    for (auto candidate : {self.parent_path() / "peapod-pause",
                           self.parent_path().parent_path() / "libexec/peapod/peapod-pause"}) {
      if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    }
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

peapod::Result<std::map<std::string, peapod::image::AuthConfig>> ReadAuthFile(
    const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return peapod::FailErrno("read auth file " + path);
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return peapod::FailErrno("read auth file " + path);
  return peapod::image::ParseAuthFile(text.str(), path);
}

// The --config arguments, taken out of `args` before the flags are parsed: the file is applied
// first so that the flags given override it. The last one counts ("" for none); without any,
// the default path. `explicit_path` says whether one was given.
std::string TakeConfigPath(std::vector<char*>& args, bool& explicit_path) {
  explicit_path = false;
  std::string path = peapod::agent::kDefaultConfigPath;
  std::vector<char*> rest;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string_view arg = args[i];
    if (arg == "--config" && i + 1 < args.size()) {
      path = args[++i];
      explicit_path = true;
    } else if (arg.starts_with("--config=")) {
      path = std::string(arg.substr(9));
      explicit_path = true;
    } else {
      rest.push_back(args[i]);
    }
  }
  args = std::move(rest);
  return path;
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
  config.image.registries.hosts = flags.registries;
  if (!flags.auth_file.empty()) {
    auto credentials = ReadAuthFile(flags.auth_file);
    if (!credentials) return std::unexpected(credentials.error());
    config.image.registries.credentials = std::move(*credentials);
  }
  if (auto s = SetImageLimits(flags, config.image); !s) return std::unexpected(s.error());
  auto gc = MakeImageGcPolicy(flags);
  if (!gc) return std::unexpected(gc.error());
  config.image_gc = std::move(*gc);
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
  // The config file first (the default one only when it exists), then the flags over it.
  Flags flags;
  bool explicit_config = false;
  std::vector<char*> args(argv, argv + argc);
  std::string config_path = TakeConfigPath(args, explicit_config);
  if (!config_path.empty()) {
    auto applied = peapod::agent::ApplyDaemonConfigFile(config_path, flags);
    bool absent_default =
        !explicit_config && !applied && applied.error().code == peapod::ErrorCode::kNotFound;
    if (!applied && !absent_default) {
      std::fprintf(stderr, "peapodd: %s\n", applied.error().message.c_str());
      return 2;
    }
    if (absent_default) config_path.clear();
  }
  std::vector<std::string> registry_mirrors;
  bool print_config = false;
  CLI::App app{"peapodd: the peapod node agent, serving the CRI v1 API on a unix socket"};
  app.set_version_flag("--version", std::string("peapodd ") + PEAPOD_VERSION);
  std::string config_flag = config_path;
  app.add_option("--config", config_flag,
                 "YAML config file; every flag has a key of its name and flags override it "
                 "(default: " +
                     std::string(peapod::agent::kDefaultConfigPath) +
                     " when it exists; \"\" for none; the last one given counts)");
  app.add_flag("--print-config", print_config,
               "print the effective configuration (config file and flags) as YAML and exit");
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
  app.add_option("--registry-mirror", registry_mirrors,
                 "HOST=URL[,fallback]: pull HOST's images from URL, e.g. "
                 "gcr.io=http://127.0.0.1:5000; the mirrors are HOST's only endpoints unless "
                 "`fallback` asks for HOST itself after them (repeatable, tried in order; "
                 "replaces the config file's `registries` entry for HOST)")
      ->take_all();
  app.add_option("--auth-file", flags.auth_file,
                 "registry credentials, a docker config.json-style file (`auths`), used for "
                 "pulls that bring none");
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
  app.add_option("--container-log-max-size", flags.container_log_max_size,
                 "applied pods: rotate a container's log file above this size (kubelet's "
                 "containerLogMaxSize)")
      ->capture_default_str();
  app.add_option("--container-log-max-files", flags.container_log_max_files,
                 "applied pods: most log files kept per container, the live one included "
                 "(kubelet's containerLogMaxFiles)")
      ->check(CLI::Range(2, 1000))
      ->capture_default_str();
  app.add_option("--image-gc-high-threshold-percent", flags.image_gc_high_threshold_percent,
                 "image GC runs when the image filesystem is used above this (100: never)")
      ->check(CLI::Range(0, 100))
      ->capture_default_str();
  app.add_option("--image-gc-low-threshold-percent", flags.image_gc_low_threshold_percent,
                 "image GC frees space down to this usage")
      ->check(CLI::Range(0, 100))
      ->capture_default_str();
  app.add_option("--image-minimum-gc-age", flags.image_minimum_gc_age,
                 "image GC never removes an image detected less than this long ago")
      ->capture_default_str();
  app.add_option("--image-maximum-gc-age", flags.image_maximum_gc_age,
                 "image GC removes images unused for longer than this, whatever the usage "
                 "(0s: no maximum)")
      ->capture_default_str();
  // The --config arguments are out of `args` already: CLI11 only documents the flag.
  CLI11_PARSE(app, static_cast<int>(args.size()), args.data());
  if (auto s = peapod::agent::ApplyRegistryMirrorFlags(registry_mirrors, flags.registries); !s) {
    std::fprintf(stderr, "peapodd: %s\n", s.error().message.c_str());
    return 2;
  }

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
  if (print_config) {
    flags.pause_binary = config->pause_binary;  // the one peapodd would run
    std::fputs(("# config file: " + (config_path.empty() ? "none" : config_path) + "\n" +
                peapod::agent::FormatDaemonConfig(flags))
                   .c_str(),
               stdout);
    return 0;
  }
  for (const auto& where : flags.reserved_keys_set) {
    spdlog::warn("{}: reserved for a later version, has no effect yet", where);
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
  // The socket accepts and serves from here on: a Type=notify unit is started now, so units
  // ordered after peapodd.service (kubelet) find it serving.
  if (auto s = peapod::runtime::NotifyServiceManager("READY=1\nSTATUS=serving on " + flags.listen);
      !s) {
    spdlog::warn("{}", s.error().ToString());
  }

  int signo = 0;
  while (sigwait(&shutdown_signals, &signo) != 0) {
  }
  spdlog::info("received {}, shutting down; pods keep running", ::strsignal(signo));
  if (auto s = peapod::runtime::NotifyServiceManager("STOPPING=1"); !s) {
    spdlog::warn("{}", s.error().ToString());
  }
  (*server)->Shutdown();
  server->reset();
  pods.reset();  // stops the workers; pods keep running
  agent->reset();
  if (!flags.pid_file.empty()) ::unlink(flags.pid_file.c_str());
  spdlog::info("peapodd stopped");
  return 0;
}
