// CRI list benchmark: kubelet relists every second, so ListPodSandbox and ListContainers must
// stay cheap with many pods. Makes N pods (default 500) through a CRI socket, each with one
// started busybox `sleep` container, times repeated ListPodSandbox / ListContainers /
// PodSandboxStatus / ContainerStatus calls and prints n/min/median/p90/max, then removes the pods.
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "cri/proto/api.grpc.pb.h"

namespace {

namespace v1 = ::runtime::v1;
using Clock = std::chrono::steady_clock;

struct Pod {
  std::string id;
  std::string container_id;
};

struct Options {
  std::string socket = "/run/peapod/peapod.sock";
  std::string image = "busybox:latest";
  std::string log_root = "/tmp/peapod-bench-logs";
  int pods = 500;
  int samples = 200;
  int workers = 4;
  bool host_network = false;
};

template <typename Fn>
grpc::Status Call(Fn&& fn, int seconds = 120) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(seconds));
  return fn(&ctx);
}

bool MakePod(v1::RuntimeService::Stub& runtime, const Options& o, const std::string& name,
             Pod* pod) {
  v1::RunPodSandboxRequest run;
  auto* config = run.mutable_config();
  config->mutable_metadata()->set_name(name);
  config->mutable_metadata()->set_uid(name + "-uid");
  config->mutable_metadata()->set_namespace_("bench");
  config->set_hostname(name);
  config->set_log_directory(o.log_root + "/" + name);
  if (o.host_network) {
    config->mutable_linux()->mutable_security_context()->mutable_namespace_options()->set_network(
        v1::NODE);
  }
  v1::RunPodSandboxResponse run_resp;
  auto status = Call([&](auto* ctx) { return runtime.RunPodSandbox(ctx, run, &run_resp); });
  if (!status.ok()) {
    std::fprintf(stderr, "RunPodSandbox %s: %s\n", name.c_str(), status.error_message().c_str());
    return false;
  }
  pod->id = run_resp.pod_sandbox_id();
  v1::CreateContainerRequest create;
  create.set_pod_sandbox_id(pod->id);
  create.mutable_config()->mutable_metadata()->set_name("sleep");
  create.mutable_config()->mutable_image()->set_image(o.image);
  create.mutable_config()->add_command("sleep");
  create.mutable_config()->add_command("3600");
  create.mutable_config()->set_log_path("sleep.log");
  *create.mutable_sandbox_config() = *config;
  v1::CreateContainerResponse create_resp;
  status = Call([&](auto* ctx) { return runtime.CreateContainer(ctx, create, &create_resp); });
  if (!status.ok()) {
    std::fprintf(stderr, "CreateContainer %s: %s\n", name.c_str(), status.error_message().c_str());
    return false;
  }
  pod->container_id = create_resp.container_id();
  v1::StartContainerRequest start;
  start.set_container_id(pod->container_id);
  v1::StartContainerResponse start_resp;
  status = Call([&](auto* ctx) { return runtime.StartContainer(ctx, start, &start_resp); });
  if (!status.ok()) {
    std::fprintf(stderr, "StartContainer %s: %s\n", name.c_str(), status.error_message().c_str());
    return false;
  }
  return true;
}

void RemovePod(v1::RuntimeService::Stub& runtime, const Pod& pod) {
  v1::RemovePodSandboxRequest remove;
  remove.set_pod_sandbox_id(pod.id);
  v1::RemovePodSandboxResponse resp;
  auto status = Call([&](auto* ctx) { return runtime.RemovePodSandbox(ctx, remove, &resp); });
  if (!status.ok()) {
    std::fprintf(stderr, "RemovePodSandbox %s: %s\n", pod.id.c_str(),
                 status.error_message().c_str());
  }
}

// Runs `job(i)` for i in [0, n) on `workers` threads.
template <typename Job>
void Parallel(int n, int workers, Job&& job) {
  std::atomic<int> next{0};
  std::vector<std::thread> threads;
  for (int w = 0; w < workers; ++w) {
    threads.emplace_back([&] {
      for (int i = next++; i < n; i = next++) job(i);
    });
  }
  for (auto& t : threads) t.join();
}

double Percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  size_t idx = static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(idx, v.size() - 1)];
}

void PrintRow(const char* what, const std::vector<double>& v, size_t items) {
  std::printf("%-18s %6zu %6zu %9.3f %9.3f %9.3f %9.3f\n", what, v.size(), items,
              *std::min_element(v.begin(), v.end()), Percentile(v, 0.5), Percentile(v, 0.9),
              *std::max_element(v.begin(), v.end()));
}

// Times `samples` calls of `fn`; `items` gets what the last call returned.
template <typename Fn>
std::vector<double> Time(int samples, Fn&& fn, size_t* items) {
  std::vector<double> ms;
  for (int i = 0; i < samples; ++i) {
    auto start = Clock::now();
    size_t n = fn();
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
    *items = n;
  }
  return ms;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"CRI ListPodSandbox / ListContainers benchmark"};
  app.add_option("--socket", o.socket, "CRI unix socket")->capture_default_str();
  app.add_option("--image", o.image, "image with sleep (pulled when missing)")
      ->capture_default_str();
  app.add_option("--pods", o.pods, "pods to make, one sleeping container each")
      ->capture_default_str();
  app.add_option("--samples", o.samples, "timed calls per verb")->capture_default_str();
  app.add_option("--workers", o.workers, "concurrent clients making and removing pods")
      ->capture_default_str();
  app.add_option("--log-root", o.log_root, "pod log directories go here")->capture_default_str();
  app.add_flag("--host-network", o.host_network, "hostNetwork pods (no CNI)");
  CLI11_PARSE(app, argc, argv);

  auto channel = grpc::CreateChannel("unix://" + o.socket, grpc::InsecureChannelCredentials());
  auto runtime = v1::RuntimeService::NewStub(channel);
  auto images = v1::ImageService::NewStub(channel);
  {
    v1::PullImageRequest pull;
    pull.mutable_image()->set_image(o.image);
    v1::PullImageResponse resp;
    auto status = Call([&](auto* ctx) { return images->PullImage(ctx, pull, &resp); });
    if (!status.ok()) {
      std::fprintf(stderr, "pull %s: %s\n", o.image.c_str(), status.error_message().c_str());
      return 1;
    }
  }

  std::string tag = std::to_string(::getpid());
  std::vector<Pod> pods(static_cast<size_t>(o.pods));
  std::atomic<int> failed{0};
  auto made_start = Clock::now();
  Parallel(o.pods, o.workers, [&](int i) {
    if (failed > 0) return;
    if (!MakePod(*runtime, o, "list-" + tag + "-" + std::to_string(i),
                 &pods[static_cast<size_t>(i)])) {
      ++failed;
    }
  });
  double make_s = std::chrono::duration<double>(Clock::now() - made_start).count();
  size_t made = 0;
  for (const auto& p : pods) made += p.container_id.empty() ? 0 : 1;
  std::printf(
      "CRI list calls over %s: %zu pods (%s), one running %s container each, made in "
      "%.1f s\n",
      o.socket.c_str(), made, o.host_network ? "hostNetwork" : "CNI", o.image.c_str(), make_s);

  if (failed == 0) {
    std::printf("%-18s %6s %6s %9s %9s %9s %9s\n", "call (ms)", "n", "items", "min", "median",
                "p90", "max");
    size_t items = 0;
    auto list_pods = Time(
        o.samples,
        [&] {
          v1::ListPodSandboxRequest req;
          v1::ListPodSandboxResponse resp;
          Call([&](auto* ctx) { return runtime->ListPodSandbox(ctx, req, &resp); });
          return static_cast<size_t>(resp.items_size());
        },
        &items);
    PrintRow("ListPodSandbox", list_pods, items);
    auto list_containers = Time(
        o.samples,
        [&] {
          v1::ListContainersRequest req;
          v1::ListContainersResponse resp;
          Call([&](auto* ctx) { return runtime->ListContainers(ctx, req, &resp); });
          return static_cast<size_t>(resp.containers_size());
        },
        &items);
    PrintRow("ListContainers", list_containers, items);
    size_t round = 0;
    auto pod_status = Time(
        o.samples,
        [&] {
          v1::PodSandboxStatusRequest req;
          req.set_pod_sandbox_id(pods[round++ % pods.size()].id);
          v1::PodSandboxStatusResponse resp;
          return Call([&](auto* ctx) { return runtime->PodSandboxStatus(ctx, req, &resp); }).ok()
                     ? size_t{1}
                     : size_t{0};
        },
        &items);
    PrintRow("PodSandboxStatus", pod_status, items);
    auto container_status = Time(
        o.samples,
        [&] {
          v1::ContainerStatusRequest req;
          req.set_container_id(pods[round++ % pods.size()].container_id);
          v1::ContainerStatusResponse resp;
          return Call([&](auto* ctx) { return runtime->ContainerStatus(ctx, req, &resp); }).ok()
                     ? size_t{1}
                     : size_t{0};
        },
        &items);
    PrintRow("ContainerStatus", container_status, items);
  }

  auto remove_start = Clock::now();
  Parallel(o.pods, o.workers, [&](int i) {
    const Pod& p = pods[static_cast<size_t>(i)];
    if (!p.id.empty()) RemovePod(*runtime, p);
  });
  std::printf("removed in %.1f s\n",
              std::chrono::duration<double>(Clock::now() - remove_start).count());
  return failed == 0 ? 0 : 1;
}
