// The runtime's own cost, without CNI or images: how long a pod sandbox (pause in fresh
// namespaces, pinned) and a container (setns, mount namespace, pivot_root, exec) take to start
// and stop, and what a running pod costs in memory.
// Usage: runtime_pod_start_bench [--cycles N] [--pods N]
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "peapod/runtime/container.h"
#include "peapod/runtime/sandbox.h"
#include "peapod/runtime/sealed_executable.h"

namespace {

using namespace peapod;
using Clock = std::chrono::steady_clock;

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

void Report(const std::string& phase, std::vector<double> samples) {
  std::sort(samples.begin(), samples.end());
  auto at = [&](double q) { return samples[static_cast<size_t>(q * (samples.size() - 1))]; };
  std::printf("%-28s n=%-4zu min %7.2f  median %7.2f  p90 %7.2f  max %7.2f ms\n", phase.c_str(),
              samples.size(), samples.front(), at(0.5), at(0.9), samples.back());
}

// Rss and Pss in KiB from /proc/<pid>/smaps_rollup.
std::pair<long, long> Memory(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/smaps_rollup");
  long rss = 0, pss = 0;
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with("Rss:")) rss = std::atol(line.c_str() + 4);
    if (line.starts_with("Pss:")) pss = std::atol(line.c_str() + 4);
  }
  return {rss, pss};
}

struct Pod {
  std::unique_ptr<runtime::Sandbox> sandbox;
  std::unique_ptr<runtime::Container> container;
};

Pod StartPod(const std::string& root, const std::string& rootfs, int i,
             runtime::LogCollector& logs, std::map<std::string, std::vector<double>>& t) {
  Pod pod;
  std::string id = "bench-" + std::to_string(i);
  auto t0 = Clock::now();
  auto sandbox = runtime::Sandbox::Start(
      {.id = id, .run_dir = root + "/" + id, .pause_binary = PEAPOD_PAUSE_BINARY});
  auto t1 = Clock::now();
  if (!sandbox) {
    std::fprintf(stderr, "sandbox: %s\n", sandbox.error().ToString().c_str());
    std::exit(1);
  }
  pod.sandbox = std::move(*sandbox);
  runtime::ContainerSpec spec;
  spec.id = id + "-c";
  spec.rootfs = rootfs;
  spec.net_ns = pod.sandbox->NamespacePath(runtime::Namespace::kNetwork);
  spec.ipc_ns = pod.sandbox->NamespacePath(runtime::Namespace::kIpc);
  spec.uts_ns = pod.sandbox->NamespacePath(runtime::Namespace::kUts);
  spec.pid_ns = pod.sandbox->NamespacePath(runtime::Namespace::kPid);
  spec.args = {"sleep", "3600"};
  spec.env = {"PATH=/bin"};
  spec.run_dir = pod.sandbox->spec().run_dir;
  spec.ledger_path = pod.sandbox->LedgerPath();
  spec.log_path = root + "/logs/" + spec.id + ".log";
  auto t2 = Clock::now();
  auto c = runtime::Container::Create(spec, &logs);
  auto t3 = Clock::now();
  if (!c || !(*c)->Start()) {
    std::fprintf(stderr, "container failed\n");
    std::exit(1);
  }
  auto t4 = Clock::now();
  pod.container = std::move(*c);
  t["Sandbox::Start"].push_back(Ms(t1 - t0));
  t["Container::Create"].push_back(Ms(t3 - t2));
  t["Container::Start"].push_back(Ms(t4 - t3));
  t["pod + container to running"].push_back(Ms(t4 - t0));
  return pod;
}

void StopPod(Pod& pod, std::map<std::string, std::vector<double>>& t) {
  auto t0 = Clock::now();
  (void)pod.container->Stop(SIGKILL, std::chrono::seconds(0));
  (void)pod.container->Wait(std::chrono::seconds(10));
  (void)pod.container->Destroy();
  auto t1 = Clock::now();
  (void)pod.sandbox->Destroy();
  auto t2 = Clock::now();
  t["Container stop+wait+destroy"].push_back(Ms(t1 - t0));
  t["Sandbox::Destroy"].push_back(Ms(t2 - t1));
}

}  // namespace

int main(int argc, char** argv) {
  // The runtime starts containers only from a process a container cannot write to.
  if (auto s = peapod::runtime::RunFromSealedSelf(argv); !s) {
    std::fprintf(stderr, "%s\n", s.error().ToString().c_str());
    return 1;
  }
  int cycles = 50, pods = 50;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--cycles") cycles = std::atoi(argv[i + 1]);
    if (a == "--pods") pods = std::atoi(argv[i + 1]);
  }
  ::prctl(PR_SET_CHILD_SUBREAPER, 1);
  char tmpl[] = "/tmp/peapod-bench-XXXXXX";
  std::string root = ::mkdtemp(tmpl);
  std::string rootfs = root + "/rootfs";
  std::string cmd = std::string(PEAPOD_SOURCE_DIR) + "/scripts/images/busybox-rootfs.sh " +
                    rootfs + " >/dev/null";
  if (std::system(cmd.c_str()) != 0) return 1;
  runtime::LogCollector logs;

  std::map<std::string, std::vector<double>> t;
  for (int i = 0; i < cycles; ++i) {
    Pod pod = StartPod(root, rootfs, i, logs, t);
    StopPod(pod, t);
  }
  std::printf("one pod at a time, %d cycles (busybox sleep, no CNI, no image):\n", cycles);
  for (auto& [phase, samples] : t) Report(phase, samples);

  auto [agent_rss_before, agent_pss_before] = Memory(::getpid());
  std::map<std::string, std::vector<double>> ignored;
  std::vector<Pod> running;
  for (int i = 0; i < pods; ++i) running.push_back(StartPod(root, rootfs, 1000 + i, logs, ignored));
  long pause_rss = 0, pause_pss = 0;
  for (auto& p : running) {
    auto [rss, pss] = Memory(p.sandbox->pause().pid);
    pause_rss += rss;
    pause_pss += pss;
  }
  auto [agent_rss, agent_pss] = Memory(::getpid());
  std::printf("\n%d pods running:\n", pods);
  std::printf("  peapod-pause per pod: RSS %.1f KiB, PSS %.1f KiB\n",
              static_cast<double>(pause_rss) / pods, static_cast<double>(pause_pss) / pods);
  std::printf("  runtime process growth per pod: RSS %.1f KiB, PSS %.1f KiB\n",
              static_cast<double>(agent_rss - agent_rss_before) / pods,
              static_cast<double>(agent_pss - agent_pss_before) / pods);
  for (auto& p : running) StopPod(p, ignored);
  std::filesystem::remove_all(root);
  return 0;
}
