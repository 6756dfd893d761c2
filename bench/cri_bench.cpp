// CRI benchmark client: drives any CRI v1 runtime (peapod, containerd, ...) over its unix socket
// with the same requests and reports what each phase costs. Not a test; run by hand or by
// bench/compare.sh.
//
//   peapod_cri_bench run --socket S --name peapod [--cycles 10] [--parallel 10 --parallel-cycles 2]
//                        [--density 100 --daemon-pid PID] [--json out.json]
//       (a) `--cycles` pods one at a time, (b) `--parallel` workers each running
//       `--parallel-cycles` pods at once; per cycle: RunPodSandbox, CreateContainer,
//       StartContainer (busybox `sleep 3600`), PodSandboxStatus, ListContainers, StopContainer,
//       RemoveContainer, StopPodSandbox, RemovePodSandbox. Then the density run: N pods with one
//       sleep container each, RSS/PSS of the daemon and of every per-pod helper it started, and
//       ListPodSandbox/ListContainers timed at that density. Raw samples go to the JSON.
//   peapod_cri_bench cleanup --socket S
//       stops and removes every pod this client made (label peapod-bench=1) on that socket.
//   peapod_cri_bench report --a peapod=a1.json,a2.json --b containerd=b1.json,... [--json out]
//                          [--plot-data medians.dat]
//       merges rounds per runtime and prints the table with the ratio a/b per figure.
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "cri/proto/api.grpc.pb.h"

namespace {

namespace v1 = ::runtime::v1;
using Clock = std::chrono::steady_clock;
using json = nlohmann::json;
using Samples = std::map<std::string, std::vector<double>>;  // figure -> ms

// Per-cycle phases in call order, then the derived figures.
const std::vector<std::string> kPhases = {
    "RunPodSandbox",  "CreateContainer", "StartContainer",  "PodSandboxStatus", "ListContainers",
    "StopContainer",  "RemoveContainer", "StopPodSandbox",  "RemovePodSandbox"};
const std::vector<std::string> kDerived = {"Create+StartContainer", "StartToRunning", "Cycle"};
const char* kLabel = "peapod-bench";

double MsSince(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

class Client {
 public:
  Client(const std::string& socket, std::string image, std::string log_root)
      : image_(std::move(image)), log_root_(std::move(log_root)) {
    auto channel = grpc::CreateChannel("unix://" + socket, grpc::InsecureChannelCredentials());
    runtime_ = v1::RuntimeService::NewStub(channel);
    images_ = v1::ImageService::NewStub(channel);
  }

  v1::RuntimeService::Stub& runtime() { return *runtime_; }

  bool Pull() {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(300));
    v1::PullImageRequest req;
    req.mutable_image()->set_image(image_);
    v1::PullImageResponse resp;
    auto status = images_->PullImage(&ctx, req, &resp);
    if (!status.ok()) {
      std::fprintf(stderr, "pull %s: %s\n", image_.c_str(), status.error_message().c_str());
    }
    return status.ok();
  }

  // Calls fn(ctx) and, when `out` is given, appends its duration in ms under `phase`.
  template <typename Fn>
  bool Timed(const std::string& phase, Samples* out, Fn&& fn) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(120));
    auto start = Clock::now();
    grpc::Status status = fn(&ctx);
    double ms = MsSince(start);
    if (!status.ok()) {
      std::fprintf(stderr, "%s failed: %s\n", phase.c_str(), status.error_message().c_str());
      return false;
    }
    if (out) (*out)[phase].push_back(ms);
    return true;
  }

  v1::PodSandboxConfig PodConfig(const std::string& name) const {
    v1::PodSandboxConfig config;
    config.mutable_metadata()->set_name(name);
    config.mutable_metadata()->set_uid(name + "-uid");
    config.mutable_metadata()->set_namespace_("bench");
    config.set_hostname(name);
    std::string dir = log_root_;
    dir += '/';
    dir += name;
    config.set_log_directory(dir);
    (*config.mutable_labels())[kLabel] = "1";
    return config;
  }

  struct Pod {
    std::string pod_id, container_id;
  };

  // RunPodSandbox + CreateContainer + StartContainer of one `sleep 3600` container.
  std::optional<Pod> StartPod(const std::string& name, Samples* out) {
    auto start = Clock::now();
    Pod pod;
    auto pod_config = PodConfig(name);
    v1::RunPodSandboxRequest run;
    *run.mutable_config() = pod_config;
    v1::RunPodSandboxResponse run_resp;
    if (!Timed("RunPodSandbox", out,
               [&](auto* ctx) { return runtime_->RunPodSandbox(ctx, run, &run_resp); })) {
      return std::nullopt;
    }
    pod.pod_id = run_resp.pod_sandbox_id();
    auto container_start = Clock::now();
    v1::CreateContainerRequest create;
    create.set_pod_sandbox_id(pod.pod_id);
    create.mutable_config()->mutable_metadata()->set_name("sleep");
    create.mutable_config()->mutable_image()->set_image(image_);
    create.mutable_config()->add_command("sleep");
    create.mutable_config()->add_command("3600");
    create.mutable_config()->set_log_path("sleep.log");
    (*create.mutable_config()->mutable_labels())[kLabel] = "1";
    *create.mutable_sandbox_config() = pod_config;
    v1::CreateContainerResponse create_resp;
    bool ok = Timed("CreateContainer", out, [&](auto* ctx) {
      return runtime_->CreateContainer(ctx, create, &create_resp);
    });
    pod.container_id = create_resp.container_id();
    v1::StartContainerRequest start_req;
    start_req.set_container_id(pod.container_id);
    v1::StartContainerResponse start_resp;
    ok = ok && Timed("StartContainer", out, [&](auto* ctx) {
      return runtime_->StartContainer(ctx, start_req, &start_resp);
    });
    if (!ok) {
      RemovePod(pod.pod_id);
      return std::nullopt;
    }
    if (out) {
      (*out)["Create+StartContainer"].push_back(MsSince(container_start));
      (*out)["StartToRunning"].push_back(MsSince(start));
    }
    return pod;
  }

  // The status calls a kubelet makes for a running pod.
  bool Observe(const Pod& pod, Samples* out) {
    v1::PodSandboxStatusRequest status;
    status.set_pod_sandbox_id(pod.pod_id);
    v1::PodSandboxStatusResponse status_resp;
    v1::ListContainersRequest list;
    list.mutable_filter()->set_pod_sandbox_id(pod.pod_id);
    v1::ListContainersResponse list_resp;
    bool ok = Timed("PodSandboxStatus", out, [&](auto* ctx) {
      return runtime_->PodSandboxStatus(ctx, status, &status_resp);
    }) && Timed("ListContainers", out, [&](auto* ctx) {
      return runtime_->ListContainers(ctx, list, &list_resp);
    });
    if (ok && (status_resp.status().state() != v1::SANDBOX_READY ||
               list_resp.containers_size() != 1 ||
               list_resp.containers(0).state() != v1::CONTAINER_RUNNING)) {
      std::fprintf(stderr, "pod %s is not ready with one running container\n",
                   pod.pod_id.c_str());
      return false;
    }
    return ok;
  }

  bool TearDown(const Pod& pod, Samples* out) {
    v1::StopContainerRequest stop;
    stop.set_container_id(pod.container_id);
    stop.set_timeout(0);
    v1::StopContainerResponse stop_resp;
    v1::RemoveContainerRequest remove;
    remove.set_container_id(pod.container_id);
    v1::RemoveContainerResponse remove_resp;
    v1::StopPodSandboxRequest stop_pod;
    stop_pod.set_pod_sandbox_id(pod.pod_id);
    v1::StopPodSandboxResponse stop_pod_resp;
    v1::RemovePodSandboxRequest remove_pod;
    remove_pod.set_pod_sandbox_id(pod.pod_id);
    v1::RemovePodSandboxResponse remove_pod_resp;
    bool ok = Timed("StopContainer", out, [&](auto* ctx) {
      return runtime_->StopContainer(ctx, stop, &stop_resp);
    }) && Timed("RemoveContainer", out, [&](auto* ctx) {
      return runtime_->RemoveContainer(ctx, remove, &remove_resp);
    }) && Timed("StopPodSandbox", out, [&](auto* ctx) {
      return runtime_->StopPodSandbox(ctx, stop_pod, &stop_pod_resp);
    }) && Timed("RemovePodSandbox", out, [&](auto* ctx) {
      return runtime_->RemovePodSandbox(ctx, remove_pod, &remove_pod_resp);
    });
    if (!ok) RemovePod(pod.pod_id);
    return ok;
  }

  bool Cycle(const std::string& name, Samples* out) {
    auto start = Clock::now();
    auto pod = StartPod(name, out);
    if (!pod) return false;
    bool ok = Observe(*pod, out);
    ok = TearDown(*pod, out) && ok;
    if (ok && out) (*out)["Cycle"].push_back(MsSince(start));
    return ok;
  }

  // Best effort, untimed: stop and remove a pod (the runtime removes its containers).
  bool RemovePod(const std::string& pod_id) {
    v1::StopPodSandboxRequest stop;
    stop.set_pod_sandbox_id(pod_id);
    v1::StopPodSandboxResponse stop_resp;
    v1::RemovePodSandboxRequest remove;
    remove.set_pod_sandbox_id(pod_id);
    v1::RemovePodSandboxResponse remove_resp;
    return Timed("cleanup StopPodSandbox", nullptr,
                 [&](auto* ctx) { return runtime_->StopPodSandbox(ctx, stop, &stop_resp); }) &&
           Timed("cleanup RemovePodSandbox", nullptr, [&](auto* ctx) {
             return runtime_->RemovePodSandbox(ctx, remove, &remove_resp);
           });
  }

  // Every pod carrying our label, as the runtime lists it.
  std::vector<std::string> OurPods() {
    v1::ListPodSandboxRequest req;
    (*req.mutable_filter()->mutable_label_selector())[kLabel] = "1";
    v1::ListPodSandboxResponse resp;
    std::vector<std::string> out;
    if (Timed("ListPodSandbox", nullptr,
              [&](auto* ctx) { return runtime_->ListPodSandbox(ctx, req, &resp); })) {
      for (const auto& pod : resp.items()) out.push_back(pod.id());
    }
    return out;
  }

 private:
  std::unique_ptr<v1::RuntimeService::Stub> runtime_;
  std::unique_ptr<v1::ImageService::Stub> images_;
  std::string image_;
  std::string log_root_;
};

// ---- processes and memory ----

struct ProcInfo {
  pid_t pid = 0;
  pid_t ppid = 0;
  std::string exe;      // basename of /proc/<pid>/exe (comm is cut at 15 characters)
  std::string cmdline;  // NUL separators replaced by spaces
};

std::vector<ProcInfo> AllProcesses() {
  std::vector<ProcInfo> out;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    std::string name = entry.path().filename();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream stat(entry.path() / "stat");
    std::string line;
    if (!std::getline(stat, line)) continue;
    auto open = line.find('('), close = line.rfind(')');
    if (open == std::string::npos || close == std::string::npos || close + 2 > line.size()) {
      continue;
    }
    ProcInfo p;
    p.pid = static_cast<pid_t>(std::stoi(name));
    std::error_code exe_ec;
    p.exe = std::filesystem::read_symlink(entry.path() / "exe", exe_ec).filename();
    std::istringstream rest(line.substr(close + 2));
    char state = 0;
    rest >> state >> p.ppid;
    std::ifstream cmd(entry.path() / "cmdline");
    std::getline(cmd, p.cmdline, '\0');
    std::string arg;
    while (std::getline(cmd, arg, '\0')) p.cmdline += " " + arg;
    out.push_back(std::move(p));
  }
  return out;
}

// pid plus every descendant of it.
std::set<pid_t> Descendants(const std::vector<ProcInfo>& procs, pid_t root) {
  std::set<pid_t> out = {root};
  bool grew = true;
  while (grew) {
    grew = false;
    for (const auto& p : procs) {
      if (out.contains(p.ppid) && out.insert(p.pid).second) grew = true;
    }
  }
  return out;
}

struct Mem {
  long rss_kib = 0;
  long pss_kib = 0;
};

Mem MemoryOf(pid_t pid) {
  Mem m;
  std::ifstream in("/proc/" + std::to_string(pid) + "/smaps_rollup");
  std::string line;
  while (std::getline(in, line)) {
    if (line.starts_with("Rss:")) m.rss_kib = std::stol(line.substr(4));
    if (line.starts_with("Pss:")) m.pss_kib = std::stol(line.substr(4));
  }
  return m;
}

// The per-pod helper processes the benchmarked daemon started: descendants of the daemon running
// the binary `comm`, plus (for containerd's shims, which re-parent themselves away from the daemon)
// processes running it whose command line names the daemon's socket (`-address <socket>`).
std::vector<pid_t> HelpersOf(pid_t daemon, const std::string& comm, const std::string& socket) {
  auto procs = AllProcesses();
  auto family = Descendants(procs, daemon);
  std::vector<pid_t> out;
  for (const auto& p : procs) {
    if (p.exe != comm || p.pid == daemon) continue;
    bool ours = family.contains(p.pid) ||
                p.cmdline.find("-address " + socket + " ") != std::string::npos ||
                p.cmdline.ends_with("-address " + socket);
    if (ours) out.push_back(p.pid);
  }
  return out;
}

// Processes below the given helpers (containerd: each shim's pause and workload) named `comm`.
std::vector<pid_t> ChildrenOfHelpersNamed(const std::vector<pid_t>& helpers,
                                          const std::string& comm) {
  auto procs = AllProcesses();
  std::set<pid_t> below;
  for (pid_t h : helpers) {
    for (pid_t d : Descendants(procs, h)) {
      if (d != h) below.insert(d);
    }
  }
  std::vector<pid_t> out;
  for (const auto& p : procs) {
    if (below.contains(p.pid) && p.exe == comm) out.push_back(p.pid);
  }
  return out;
}

json MemJson(const std::vector<pid_t>& pids) {
  Mem total;
  for (pid_t p : pids) {
    Mem m = MemoryOf(p);
    total.rss_kib += m.rss_kib;
    total.pss_kib += m.pss_kib;
  }
  return {{"count", pids.size()}, {"rss_kib", total.rss_kib}, {"pss_kib", total.pss_kib}};
}

// ---- statistics ----

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t idx = static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(idx, v.size() - 1)];
}

json Stats(const std::vector<double>& v) {
  if (v.empty()) return json::object();
  return {{"n", v.size()},
          {"min", *std::min_element(v.begin(), v.end())},
          {"median", Percentile(v, 0.5)},
          {"p90", Percentile(v, 0.9)},
          {"max", *std::max_element(v.begin(), v.end())}};
}

std::vector<std::string> AllFigures() {
  auto all = kPhases;
  all.insert(all.end(), kDerived.begin(), kDerived.end());
  return all;
}

void PrintStats(const std::string& title, const Samples& samples) {
  std::printf("%s\n%-22s %5s %9s %9s %9s %9s\n", title.c_str(), "phase (ms)", "n", "min",
              "median", "p90", "max");
  auto figures = AllFigures();
  for (const auto& [k, v] : samples) {
    if (std::find(figures.begin(), figures.end(), k) == figures.end()) figures.push_back(k);
  }
  for (const auto& phase : figures) {
    auto it = samples.find(phase);
    if (it == samples.end() || it->second.empty()) continue;
    json s = Stats(it->second);
    std::printf("%-22s %5zu %9.2f %9.2f %9.2f %9.2f\n", phase.c_str(), it->second.size(),
                s["min"].get<double>(), s["median"].get<double>(), s["p90"].get<double>(),
                s["max"].get<double>());
  }
}

// ---- run ----

struct RunOptions {
  std::string socket;
  std::string name;
  std::string image = "busybox:latest";
  std::string log_root = "/tmp/peapod-bench-logs";
  int cycles = 10;
  int parallel = 10;
  int parallel_cycles = 2;
  int density = 0;
  int list_repeats = 20;
  pid_t daemon_pid = 0;
  std::string helper_exe;
  std::string json_path;
};

// `workers` threads each run `per_worker` cycles; the samples of all of them are merged.
bool RunParallel(Client& client, const std::string& tag, int workers, int per_worker,
                 Samples* out, double* wall_ms) {
  std::mutex mu;
  std::atomic<bool> ok{true};
  std::vector<std::thread> threads;
  auto start = Clock::now();
  for (int w = 0; w < workers; ++w) {
    threads.emplace_back([&, w] {
      Samples local;
      for (int i = 0; i < per_worker && ok; ++i) {
        if (!client.Cycle(tag + "-w" + std::to_string(w) + "-" + std::to_string(i), &local)) {
          ok = false;
        }
      }
      std::lock_guard lock(mu);
      for (auto& [k, v] : local) (*out)[k].insert((*out)[k].end(), v.begin(), v.end());
    });
  }
  for (auto& t : threads) t.join();
  *wall_ms = MsSince(start);
  return ok;
}

json SamplesJson(const Samples& s) {
  json out = json::object();
  for (const auto& [k, v] : s) out[k] = v;
  return out;
}

bool Density(Client& client, const RunOptions& o, const std::string& tag, json* out) {
  Mem daemon_before = MemoryOf(o.daemon_pid);
  std::vector<Client::Pod> pods;
  std::mutex mu;
  std::atomic<int> next{0};
  std::atomic<bool> ok{true};
  auto start = Clock::now();
  std::vector<std::thread> threads;
  // Started by 10 workers, as a node starting many pods would; the timing is reported as a whole.
  for (int w = 0; w < std::min(o.parallel > 0 ? o.parallel : 1, o.density); ++w) {
    threads.emplace_back([&] {
      for (int i = next++; i < o.density && ok; i = next++) {
        auto pod = client.StartPod(tag + "-d" + std::to_string(i), nullptr);
        if (!pod) {
          ok = false;
          break;
        }
        std::lock_guard lock(mu);
        pods.push_back(*pod);
      }
    });
  }
  for (auto& t : threads) t.join();
  double start_ms = MsSince(start);
  bool result = ok;
  if (ok) {
    // Let the daemons settle (containerd's shims finish their start-up, caches fill).
    std::this_thread::sleep_for(std::chrono::seconds(2));
    Samples lists;
    for (int i = 0; i < o.list_repeats; ++i) {
      v1::ListPodSandboxRequest lp;
      v1::ListPodSandboxResponse lp_resp;
      v1::ListContainersRequest lc;
      v1::ListContainersResponse lc_resp;
      if (!client.Timed("ListPodSandbox", &lists, [&](auto* ctx) {
            return client.runtime().ListPodSandbox(ctx, lp, &lp_resp);
          }) ||
          !client.Timed("ListContainers", &lists, [&](auto* ctx) {
            return client.runtime().ListContainers(ctx, lc, &lc_resp);
          })) {
        result = false;
        break;
      }
    }
    json d = {{"pods", pods.size()}, {"start_all_ms", start_ms}, {"lists", SamplesJson(lists)}};
    if (o.daemon_pid > 0) {
      Mem daemon_after = MemoryOf(o.daemon_pid);
      auto helpers = HelpersOf(o.daemon_pid, o.helper_exe, o.socket);
      d["daemon"] = {{"rss_kib_before", daemon_before.rss_kib},
                     {"pss_kib_before", daemon_before.pss_kib},
                     {"rss_kib", daemon_after.rss_kib},
                     {"pss_kib", daemon_after.pss_kib}};
      d["helpers"] = MemJson(helpers);
      d["helpers"]["exe"] = o.helper_exe;
      // containerd runs the pod's pause (/pause of our peapod-pause image) under each shim; peapod's
      // pause is the helper itself. Counted separately so the comparison can show both.
      if (o.helper_exe != "peapod-pause") {
        d["sandbox_pause"] = MemJson(ChildrenOfHelpersNamed(helpers, "pause"));
      } else {
        d["sandbox_pause"] = MemJson({});
      }
      double n = static_cast<double>(pods.size());
      long rss = daemon_after.rss_kib - daemon_before.rss_kib + d["helpers"]["rss_kib"].get<long>() +
                 d["sandbox_pause"]["rss_kib"].get<long>();
      long pss = daemon_after.pss_kib - daemon_before.pss_kib + d["helpers"]["pss_kib"].get<long>() +
                 d["sandbox_pause"]["pss_kib"].get<long>();
      d["per_pod_rss_kib"] = static_cast<double>(rss) / n;
      d["per_pod_pss_kib"] = static_cast<double>(pss) / n;
      std::printf("\ndensity: %zu pods started in %.0f ms\n", pods.size(), start_ms);
      std::printf("daemon: RSS %ld -> %ld KiB, PSS %ld -> %ld KiB\n", daemon_before.rss_kib,
                  daemon_after.rss_kib, daemon_before.pss_kib, daemon_after.pss_kib);
      std::printf("helpers (%s): %zu, RSS %ld KiB, PSS %ld KiB\n", o.helper_exe.c_str(),
                  helpers.size(), d["helpers"]["rss_kib"].get<long>(),
                  d["helpers"]["pss_kib"].get<long>());
      std::printf("sandbox pause under the helpers: %zu, RSS %ld KiB, PSS %ld KiB\n",
                  d["sandbox_pause"]["count"].get<size_t>(), d["sandbox_pause"]["rss_kib"].get<long>(),
                  d["sandbox_pause"]["pss_kib"].get<long>());
      std::printf("per pod (daemon growth + helpers + pause): RSS %.1f KiB, PSS %.1f KiB\n",
                  d["per_pod_rss_kib"].get<double>(), d["per_pod_pss_kib"].get<double>());
    }
    PrintStats("at density:", lists);
    *out = std::move(d);
  }
  for (const auto& pod : pods) client.RemovePod(pod.pod_id);
  return result;
}

int Run(const RunOptions& o) {
  Client client(o.socket, o.image, o.log_root);
  if (!client.Pull()) return 1;
  std::string tag = o.name + "-" + std::to_string(::getpid());
  // One untimed cycle: the first pod pays one-off costs (sandbox image pull, CNI bridge).
  if (!client.Cycle(tag + "-warm", nullptr)) return 1;
  json result = {{"runtime", o.name}, {"socket", o.socket}, {"image", o.image}};
  Samples serial;
  for (int i = 0; i < o.cycles; ++i) {
    if (!client.Cycle(tag + "-s" + std::to_string(i), &serial)) return 1;
  }
  result["serial"] = SamplesJson(serial);
  PrintStats(o.name + ": one pod at a time, " + std::to_string(o.cycles) + " cycles", serial);
  if (o.parallel > 0 && o.parallel_cycles > 0) {
    Samples par;
    double wall = 0;
    if (!RunParallel(client, tag + "-p", o.parallel, o.parallel_cycles, &par, &wall)) return 1;
    result["parallel"] = SamplesJson(par);
    result["parallel_workers"] = o.parallel;
    result["parallel_wall_ms"] = wall;
    PrintStats("\n" + o.name + ": " + std::to_string(o.parallel) + " pods in parallel, " +
                   std::to_string(o.parallel * o.parallel_cycles) + " cycles in " +
                   std::to_string(static_cast<int>(wall)) + " ms",
               par);
  }
  int rc = 0;
  if (o.density > 0) {
    json d;
    if (!Density(client, o, tag, &d)) rc = 1;
    result["density"] = d;
  }
  if (!o.json_path.empty()) {
    std::ofstream(o.json_path) << result.dump(1) << "\n";
  }
  return rc;
}

int Cleanup(const std::string& socket) {
  Client client(socket, "", "");
  auto pods = client.OurPods();
  int failed = 0;
  for (const auto& id : pods) failed += client.RemovePod(id) ? 0 : 1;
  std::printf("cleanup %s: removed %zu pods, %d failed\n", socket.c_str(), pods.size() - failed,
              failed);
  return failed ? 1 : 0;
}

// ---- report ----

struct RuntimeRounds {
  std::string name;
  int parallel_workers = 0;
  std::map<std::string, Samples> sets;  // "serial"/"parallel"/"density" -> figure -> samples
  std::vector<json> density;
};

RuntimeRounds Load(const std::string& spec) {
  RuntimeRounds r;
  auto eq = spec.find('=');
  if (eq == std::string::npos) throw std::runtime_error("expected NAME=FILE[,FILE...]: " + spec);
  r.name = spec.substr(0, eq);
  std::stringstream files(spec.substr(eq + 1));
  std::string file;
  while (std::getline(files, file, ',')) {
    std::ifstream in(file);
    if (!in) throw std::runtime_error("cannot read " + file);
    json j = json::parse(in);
    if (j.contains("parallel_workers")) r.parallel_workers = j["parallel_workers"].get<int>();
    for (const char* set : {"serial", "parallel"}) {
      if (!j.contains(set)) continue;
      for (auto& [k, v] : j[set].items()) {
        auto& dst = r.sets[set][k];
        for (double x : v) dst.push_back(x);
      }
    }
    if (j.contains("density") && !j["density"].is_null()) {
      r.density.push_back(j["density"]);
      for (auto& [k, v] : j["density"]["lists"].items()) {
        auto& dst = r.sets["density"][k];
        for (double x : v) dst.push_back(x);
      }
    }
  }
  return r;
}

double MedianOf(const RuntimeRounds& r, const std::string& set, const std::string& fig) {
  auto s = r.sets.find(set);
  if (s == r.sets.end()) return -1;
  auto f = s->second.find(fig);
  if (f == s->second.end() || f->second.empty()) return -1;
  return Percentile(f->second, 0.5);
}

// Mean over rounds of a density number (KiB), -1 when absent.
double DensityMean(const RuntimeRounds& r, const std::vector<std::string>& path) {
  double sum = 0;
  int n = 0;
  for (const auto& d : r.density) {
    const json* j = &d;
    bool found = true;
    for (const auto& key : path) {
      if (!j->contains(key)) {
        found = false;
        break;
      }
      j = &(*j)[key];
    }
    if (found && j->is_number()) {
      sum += j->get<double>();
      ++n;
    }
  }
  return n ? sum / n : -1;
}

int Report(const std::string& a_spec, const std::string& b_spec, const std::string& cni_path,
           const std::string& json_path, const std::string& plot_path) {
  RuntimeRounds a = Load(a_spec), b = Load(b_spec);
  json out = {{"a", a.name}, {"b", b.name}, {"figures", json::array()}};
  std::printf("%-40s %12s %12s %9s\n", "figure (median ms unless noted)", a.name.c_str(),
              b.name.c_str(), "ratio");
  auto row = [&](const std::string& label, double va, double vb, const char* unit) {
    if (va < 0 && vb < 0) return;
    double ratio = va >= 0 && vb > 0 ? va / vb : -1;
    std::printf("%-40s %12.2f %12.2f %9s\n", label.c_str(), va, vb,
                ratio >= 0 ? (std::to_string(ratio).substr(0, 5) + "x").c_str() : "-");
    out["figures"].push_back(
        {{"figure", label}, {"unit", unit}, {a.name, va}, {b.name, vb}, {"ratio", ratio}});
  };
  for (const char* set : {"serial", "parallel"}) {
    std::string prefix = std::string(set) == "serial"
                             ? std::string("1 pod: ")
                             : std::to_string(std::max(a.parallel_workers, b.parallel_workers)) +
                                   " parallel: ";
    for (const auto& fig : AllFigures()) {
      row(prefix + fig, MedianOf(a, set, fig), MedianOf(b, set, fig), "ms");
    }
  }
  if (!cni_path.empty()) {
    // The floor: the same conflist's plugins run directly (cni_add_del_bench), no runtime.
    std::ifstream in(cni_path);
    if (!in) throw std::runtime_error("cannot read " + cni_path);
    json cni = json::parse(in);
    double add = Percentile(cni["ADD"].get<std::vector<double>>(), 0.5);
    double del = Percentile(cni["DEL"].get<std::vector<double>>(), 0.5);
    row("CNI floor: plugins' ADD", add, add, "ms");
    row("CNI floor: plugins' DEL", del, del, "ms");
    auto above = [](double v, double floor) { return v < 0 ? -1 : v - floor; };
    row("1 pod: RunPodSandbox - CNI ADD", above(MedianOf(a, "serial", "RunPodSandbox"), add),
        above(MedianOf(b, "serial", "RunPodSandbox"), add), "ms");
    row("1 pod: StopPodSandbox - CNI DEL", above(MedianOf(a, "serial", "StopPodSandbox"), del),
        above(MedianOf(b, "serial", "StopPodSandbox"), del), "ms");
    out["cni_floor"] = {{"ADD", Stats(cni["ADD"].get<std::vector<double>>())},
                        {"DEL", Stats(cni["DEL"].get<std::vector<double>>())}};
  }
  for (const char* fig : {"ListPodSandbox", "ListContainers"}) {
    row(std::string("at density: ") + fig, MedianOf(a, "density", fig),
        MedianOf(b, "density", fig), "ms");
  }
  auto mib = [](double kib) { return kib < 0 ? -1 : kib / 1024.0; };
  row("density: start all pods (ms)", DensityMean(a, {"start_all_ms"}),
      DensityMean(b, {"start_all_ms"}), "ms");
  row("daemon RSS idle (MiB)", mib(DensityMean(a, {"daemon", "rss_kib_before"})),
      mib(DensityMean(b, {"daemon", "rss_kib_before"})), "MiB");
  row("daemon RSS at density (MiB)", mib(DensityMean(a, {"daemon", "rss_kib"})),
      mib(DensityMean(b, {"daemon", "rss_kib"})), "MiB");
  row("daemon PSS at density (MiB)", mib(DensityMean(a, {"daemon", "pss_kib"})),
      mib(DensityMean(b, {"daemon", "pss_kib"})), "MiB");
  row("helper processes (count)", DensityMean(a, {"helpers", "count"}),
      DensityMean(b, {"helpers", "count"}), "count");
  row("helpers RSS total (MiB)", mib(DensityMean(a, {"helpers", "rss_kib"})),
      mib(DensityMean(b, {"helpers", "rss_kib"})), "MiB");
  row("helpers PSS total (MiB)", mib(DensityMean(a, {"helpers", "pss_kib"})),
      mib(DensityMean(b, {"helpers", "pss_kib"})), "MiB");
  row("per pod RSS (KiB)", DensityMean(a, {"per_pod_rss_kib"}),
      DensityMean(b, {"per_pod_rss_kib"}), "KiB");
  row("per pod PSS (KiB)", DensityMean(a, {"per_pod_pss_kib"}),
      DensityMean(b, {"per_pod_pss_kib"}), "KiB");

  // Full statistics per runtime, as the individual runs print them.
  for (const auto* r : {&a, &b}) {
    for (const auto& [set, samples] : r->sets) {
      json stats = json::object();
      for (const auto& [fig, v] : samples) stats[fig] = Stats(v);
      out["stats"][r->name][set] = stats;
    }
    out["density"][r->name] = r->density;
  }
  if (!json_path.empty()) std::ofstream(json_path) << out.dump(1) << "\n";
  if (!plot_path.empty()) {
    std::ofstream plot(plot_path);
    plot << "# phase " << a.name << " " << b.name << " (median ms, one pod at a time)\n";
    for (const auto& fig : kPhases) {
      plot << '"' << fig << "\" " << std::max(0.0, MedianOf(a, "serial", fig)) << " "
           << std::max(0.0, MedianOf(b, "serial", fig)) << "\n";
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"CRI benchmark: lifecycle phases, parallel pods, density, side by side"};
  app.require_subcommand(1);
  RunOptions o;
  auto* run = app.add_subcommand("run", "benchmark one runtime");
  run->add_option("--socket", o.socket, "CRI unix socket")->required();
  run->add_option("--name", o.name, "runtime name for the output")->required();
  run->add_option("--image", o.image, "image with sleep (pulled first)")->capture_default_str();
  run->add_option("--log-root", o.log_root, "pod log directories")->capture_default_str();
  run->add_option("--cycles", o.cycles, "cycles one pod at a time")->capture_default_str();
  run->add_option("--parallel", o.parallel, "parallel workers (0: none)")->capture_default_str();
  run->add_option("--parallel-cycles", o.parallel_cycles, "cycles per worker")
      ->capture_default_str();
  run->add_option("--density", o.density, "pods to hold for the density figures (0: none)")
      ->capture_default_str();
  run->add_option("--list-repeats", o.list_repeats, "List calls timed at density")
      ->capture_default_str();
  run->add_option("--daemon-pid", o.daemon_pid, "the daemon's pid (memory figures)");
  run->add_option("--helper-exe", o.helper_exe,
                  "per-pod helper binary name (peapod-pause, containerd-shim-runc-v2)");
  run->add_option("--json", o.json_path, "write raw samples and figures here");

  std::string cleanup_socket;
  auto* cleanup = app.add_subcommand("cleanup", "remove every pod this client made");
  cleanup->add_option("--socket", cleanup_socket, "CRI unix socket")->required();

  std::string a_spec, b_spec, cni_json, report_json, plot_data;
  auto* report = app.add_subcommand("report", "merge rounds and compare two runtimes");
  report->add_option("--a", a_spec, "NAME=run.json[,run.json...]")->required();
  report->add_option("--b", b_spec, "NAME=run.json[,run.json...]")->required();
  report->add_option("--cni", cni_json, "cni_add_del_bench --json output: the CNI floor");
  report->add_option("--json", report_json, "write the comparison here");
  report->add_option("--plot-data", plot_data, "gnuplot data: phase, median a, median b");
  CLI11_PARSE(app, argc, argv);

  try {
    if (*run) return Run(o);
    if (*cleanup) return Cleanup(cleanup_socket);
    return Report(a_spec, b_spec, cni_json, report_json, plot_data);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "peapod_cri_bench: %s\n", e.what());
    return 1;
  }
}
