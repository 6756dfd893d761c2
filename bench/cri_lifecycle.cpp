// CRI lifecycle benchmark: drives any CRI v1 runtime over its unix socket through
// RunPodSandbox -> CreateContainer -> StartContainer -> StopContainer -> RemoveContainer ->
// StopPodSandbox -> RemovePodSandbox for N cycles and prints n/min/median/p90/max per phase.
// With --hold N it then keeps N pods (each with one sleeping container) running and, given
// --daemon-pid, reports the daemon's RSS and the memory each pod costs (daemon growth + pause).
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "cri/proto/api.grpc.pb.h"

namespace {

namespace v1 = ::runtime::v1;
using Clock = std::chrono::steady_clock;

const char* kPhases[] = {"RunPodSandbox",   "CreateContainer", "StartContainer",  "StopContainer",
                         "RemoveContainer", "StopPodSandbox",  "RemovePodSandbox"};

struct Bench {
  std::unique_ptr<v1::RuntimeService::Stub> runtime;
  std::unique_ptr<v1::ImageService::Stub> images;
  std::string image;
  std::string log_root;
  std::map<std::string, std::vector<double>> samples;  // phase -> ms

  template <typename Fn>
  bool Timed(const char* phase, Fn&& fn) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(120));
    auto start = Clock::now();
    grpc::Status status = fn(&ctx);
    double ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
    if (!status.ok()) {
      std::fprintf(stderr, "%s failed: %s\n", phase, status.error_message().c_str());
      return false;
    }
    samples[phase].push_back(ms);
    return true;
  }

  v1::PodSandboxConfig PodConfig(const std::string& name) const {
    v1::PodSandboxConfig config;
    config.mutable_metadata()->set_name(name);
    config.mutable_metadata()->set_uid(name + "-uid");
    config.mutable_metadata()->set_namespace_("bench");
    config.set_hostname(name);
    config.set_log_directory(log_root + "/" + name);
    return config;
  }

  // Runs a pod with one started `sleep 3600` container; returns {pod id, container id}.
  bool StartPod(const std::string& name, std::string* pod_id, std::string* container_id) {
    auto pod_config = PodConfig(name);
    v1::RunPodSandboxRequest run;
    *run.mutable_config() = pod_config;
    v1::RunPodSandboxResponse run_resp;
    if (!Timed("RunPodSandbox",
               [&](auto* ctx) { return runtime->RunPodSandbox(ctx, run, &run_resp); })) {
      return false;
    }
    *pod_id = run_resp.pod_sandbox_id();
    v1::CreateContainerRequest create;
    create.set_pod_sandbox_id(*pod_id);
    create.mutable_config()->mutable_metadata()->set_name("sleep");
    create.mutable_config()->mutable_image()->set_image(image);
    create.mutable_config()->add_command("sleep");
    create.mutable_config()->add_command("3600");
    create.mutable_config()->set_log_path("sleep.log");
    *create.mutable_sandbox_config() = pod_config;
    v1::CreateContainerResponse create_resp;
    if (!Timed("CreateContainer",
               [&](auto* ctx) { return runtime->CreateContainer(ctx, create, &create_resp); })) {
      return false;
    }
    *container_id = create_resp.container_id();
    v1::StartContainerRequest start;
    start.set_container_id(*container_id);
    v1::StartContainerResponse start_resp;
    return Timed("StartContainer",
                 [&](auto* ctx) { return runtime->StartContainer(ctx, start, &start_resp); });
  }

  bool TearDownPod(const std::string& pod_id, const std::string& container_id) {
    v1::StopContainerRequest stop;
    stop.set_container_id(container_id);
    stop.set_timeout(0);
    v1::StopContainerResponse stop_resp;
    v1::RemoveContainerRequest remove;
    remove.set_container_id(container_id);
    v1::RemoveContainerResponse remove_resp;
    v1::StopPodSandboxRequest stop_pod;
    stop_pod.set_pod_sandbox_id(pod_id);
    v1::StopPodSandboxResponse stop_pod_resp;
    v1::RemovePodSandboxRequest remove_pod;
    remove_pod.set_pod_sandbox_id(pod_id);
    v1::RemovePodSandboxResponse remove_pod_resp;
    return Timed("StopContainer",
                 [&](auto* ctx) { return runtime->StopContainer(ctx, stop, &stop_resp); }) &&
           Timed("RemoveContainer",
                 [&](auto* ctx) { return runtime->RemoveContainer(ctx, remove, &remove_resp); }) &&
           Timed(
               "StopPodSandbox",
               [&](auto* ctx) { return runtime->StopPodSandbox(ctx, stop_pod, &stop_pod_resp); }) &&
           Timed("RemovePodSandbox", [&](auto* ctx) {
             return runtime->RemovePodSandbox(ctx, remove_pod, &remove_pod_resp);
           });
  }
};

double Percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  size_t idx = static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(idx, v.size() - 1)];
}

void PrintTable(const std::map<std::string, std::vector<double>>& samples) {
  std::printf("%-18s %5s %9s %9s %9s %9s\n", "phase (ms)", "n", "min", "median", "p90", "max");
  double total_median = 0;
  for (const char* phase : kPhases) {
    auto it = samples.find(phase);
    if (it == samples.end() || it->second.empty()) continue;
    const auto& v = it->second;
    double median = Percentile(v, 0.5);
    total_median += median;
    std::printf("%-18s %5zu %9.2f %9.2f %9.2f %9.2f\n", phase, v.size(),
                *std::min_element(v.begin(), v.end()), median, Percentile(v, 0.9),
                *std::max_element(v.begin(), v.end()));
  }
  std::printf("%-18s %5s %9s %9.2f\n", "sum of medians", "", "", total_median);
}

// VmRSS of a process in KiB (0 when unreadable).
long RssKiB(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.starts_with("VmRSS:")) return std::stol(line.substr(6));
  }
  return 0;
}

std::vector<pid_t> ChildrenNamed(pid_t parent, const std::string& comm) {
  std::vector<pid_t> out;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    std::string name = entry.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream stat(entry.path() / "stat");
    std::string line;
    if (!std::getline(stat, line)) continue;
    auto open = line.find('('), close = line.rfind(')');
    if (open == std::string::npos || close == std::string::npos) continue;
    std::istringstream rest(line.substr(close + 2));
    char state = 0;
    pid_t ppid = 0;
    rest >> state >> ppid;
    if (ppid == parent && line.substr(open + 1, close - open - 1) == comm) {
      out.push_back(static_cast<pid_t>(std::stoi(name)));
    }
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  int cycles = 20;
  int hold = 0;
  pid_t daemon_pid = 0;
  std::string socket = "/run/peapod/peapod.sock";
  std::string image = "busybox:latest";
  std::string log_root = "/tmp/peapod-bench-logs";
  CLI::App app{"CRI pod/container lifecycle benchmark"};
  app.add_option("--cycles", cycles, "lifecycle cycles to time")->capture_default_str();
  app.add_option("--socket", socket, "CRI unix socket")->capture_default_str();
  app.add_option("--image", image, "image with sleep (pulled when missing)")->capture_default_str();
  app.add_option("--log-root", log_root, "pod log directories go here")->capture_default_str();
  app.add_option("--hold", hold, "afterwards keep this many pods running to measure memory");
  app.add_option("--daemon-pid", daemon_pid, "the runtime daemon's pid, for RSS figures");
  CLI11_PARSE(app, argc, argv);

  auto channel = grpc::CreateChannel("unix://" + socket, grpc::InsecureChannelCredentials());
  Bench bench;
  bench.runtime = v1::RuntimeService::NewStub(channel);
  bench.images = v1::ImageService::NewStub(channel);
  bench.image = image;
  bench.log_root = log_root;

  {
    grpc::ClientContext ctx;
    v1::PullImageRequest pull;
    pull.mutable_image()->set_image(image);
    v1::PullImageResponse resp;
    auto status = bench.images->PullImage(&ctx, pull, &resp);
    if (!status.ok()) {
      std::fprintf(stderr, "pull %s: %s\n", image.c_str(), status.error_message().c_str());
      return 1;
    }
  }

  std::string tag = std::to_string(::getpid());
  for (int i = 0; i < cycles; ++i) {
    std::string pod_id, container_id;
    bool ok = bench.StartPod("bench-" + tag + "-" + std::to_string(i), &pod_id, &container_id);
    ok = ok && bench.TearDownPod(pod_id, container_id);
    if (!ok) return 1;
  }
  std::printf("CRI lifecycle over %s, image %s, %d cycles\n", socket.c_str(), image.c_str(),
              cycles);
  PrintTable(bench.samples);
  if (hold <= 0) return 0;

  long rss_before = daemon_pid > 0 ? RssKiB(daemon_pid) : 0;
  std::vector<std::pair<std::string, std::string>> held;
  for (int i = 0; i < hold; ++i) {
    std::string pod_id, container_id;
    if (!bench.StartPod("hold-" + tag + "-" + std::to_string(i), &pod_id, &container_id)) break;
    held.emplace_back(pod_id, container_id);
  }
  std::printf("\n%zu pods running\n", held.size());
  if (daemon_pid > 0 && !held.empty()) {
    long rss_after = RssKiB(daemon_pid);
    long pause_total = 0;
    auto pauses = ChildrenNamed(daemon_pid, "peapod-pause");
    for (pid_t p : pauses) pause_total += RssKiB(p);
    std::printf("daemon RSS: %ld KiB before, %ld KiB with the pods (+%ld KiB)\n", rss_before,
                rss_after, rss_after - rss_before);
    std::printf("pause processes: %zu, RSS %ld KiB total, %.1f KiB each\n", pauses.size(),
                pause_total, pauses.empty() ? 0.0 : double(pause_total) / double(pauses.size()));
    std::printf("per pod (daemon growth + pause): %.1f KiB\n",
                double(rss_after - rss_before + pause_total) / double(held.size()));
  }
  for (const auto& [pod_id, container_id] : held) bench.TearDownPod(pod_id, container_id);
  return 0;
}
