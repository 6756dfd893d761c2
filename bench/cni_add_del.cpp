// Times CniClient::Add and ::Del against the real plugins: the CNI floor a runtime's
// RunPodSandbox / StopPodSandbox cannot go below. Not a test: run by hand as root.
//   cni_add_del_bench [iterations] [--conf-dir DIR] [--json FILE]
// Without --conf-dir: the default-shaped conflist (bridge + host-local + portmap) on its own bridge
// (ppbench0), subnet (10.99.250.0/24) and temp dirs, with one port mapping; removes all of it at
// the end. With --conf-dir: that directory's conflist as is (bench/compare.sh passes the one both
// runtimes use), no port mapping, as the CRI benchmark's pods have none.
#include <spdlog/spdlog.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "peapod/cni/cni_client.h"
#include "peapod/cni/default_network.h"

namespace {

using Clock = std::chrono::steady_clock;

int Sh(const std::string& cmd) { return std::system(cmd.c_str()); }

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

void Report(const char* what, std::vector<double> v) {
  std::sort(v.begin(), v.end());
  double sum = 0;
  for (double x : v) sum += x;
  std::printf("%-4s n=%zu  min %.1f ms  median %.1f ms  mean %.1f ms  max %.1f ms\n", what,
              v.size(), v.front(), v[v.size() / 2], sum / v.size(), v.back());
}

}  // namespace

int main(int argc, char** argv) {
  int iterations = 20;
  std::string conf_dir, json_path;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--conf-dir" && i + 1 < argc) {
      conf_dir = argv[++i];
    } else if (arg == "--json" && i + 1 < argc) {
      json_path = argv[++i];
    } else {
      iterations = std::atoi(argv[i]);
    }
  }
  if (iterations < 2) iterations = 2;
  spdlog::set_level(spdlog::level::warn);
  char tmpl[] = "/tmp/peapod-cni-bench-XXXXXX";
  std::string root = ::mkdtemp(tmpl);
  bool own_network = conf_dir.empty();
  if (own_network) {
    peapod::cni::DefaultNetworkOptions net;
    net.network_name = "ppbench";
    net.bridge = "ppbench0";
    net.subnet = "10.99.250.0/24";
    net.ipam_data_dir = root + "/ipam";
    if (auto w = peapod::cni::WriteDefaultConflistIfMissing(root + "/net.d", net); !w) {
      std::fprintf(stderr, "%s\n", w.error().ToString().c_str());
      return 1;
    }
    conf_dir = root + "/net.d";
  }
  peapod::cni::CniOptions options;
  options.conf_dir = conf_dir;
  options.plugin_dirs = {"/usr/lib/cni"};
  options.cache_dir = root + "/cache";
  auto client = peapod::cni::CniClient::Create(options);
  if (!client) return 1;
  Sh("ip netns add ppbench");
  peapod::cni::PodNetwork pod;
  pod.netns_path = "/run/netns/ppbench";
  pod.pod_name = "bench";
  pod.pod_namespace = "default";
  if (own_network) pod.port_mappings = {{"tcp", 18099, 80, ""}};
  std::vector<double> adds, dels;
  int rc = 0;
  for (int i = 0; i < iterations; ++i) {
    pod.sandbox_id = "bench" + std::to_string(i);
    auto t0 = Clock::now();
    auto r = (*client)->Add(pod);
    auto t1 = Clock::now();
    if (!r) {
      std::fprintf(stderr, "ADD: %s\n", r.error().ToString().c_str());
      rc = 1;
      break;
    }
    auto d = (*client)->Del(pod);
    auto t2 = Clock::now();
    if (!d) {
      std::fprintf(stderr, "DEL: %s\n", d.error().ToString().c_str());
      rc = 1;
      break;
    }
    // The first pair also creates the bridge and portmap's shared chains; keep it out.
    if (i == 0) continue;
    adds.push_back(Ms(t1 - t0));
    dels.push_back(Ms(t2 - t1));
  }
  if (!adds.empty()) {
    Report("ADD", adds);
    Report("DEL", dels);
  }
  if (!json_path.empty() && !adds.empty()) {
    std::ofstream out(json_path);
    auto list = [&](const std::vector<double>& v) {
      std::string s = "[";
      for (size_t i = 0; i < v.size(); ++i) {
        if (i) s += ',';
        s += std::to_string(v[i]);
      }
      s += ']';
      return s;
    };
    out << "{\"ADD\": " << list(adds) << ", \"DEL\": " << list(dels) << "}\n";
  }
  Sh("ip netns del ppbench");
  if (own_network) Sh("ip link del ppbench0 2>/dev/null");
  std::filesystem::remove_all(root);
  return rc;
}
