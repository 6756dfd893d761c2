// peapod-demo: one pod, started the way the agent will start it, until SIGINT or SIGTERM.
//   sandbox (pause) -> CNI ADD with a hostPort -> nginx from the demo image on an overlay root,
//   in its own cgroup, under the default security context.
// Usage: peapod-demo --images DIR [--host-port 8080] [--state DIR] [--run DIR] [--ready-file F]
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <thread>

#include "peapod/cni/cni_client.h"
#include "peapod/cni/default_network.h"
#include "peapod/image/image_service.h"
#include "peapod/runtime/cgroup.h"
#include "peapod/runtime/container.h"
#include "peapod/runtime/sandbox.h"
#include "peapod/runtime/security.h"

namespace {

using namespace peapod;

struct Options {
  std::string images;
  std::string state = "/var/lib/peapod-demo";
  std::string run = "/run/peapod-demo";
  std::string ready_file;
  int host_port = 8080;
};

std::optional<Options> ParseArgs(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--images") o.images = value();
    else if (a == "--state") o.state = value();
    else if (a == "--run") o.run = value();
    else if (a == "--ready-file") o.ready_file = value();
    else if (a == "--host-port") o.host_port = std::atoi(value().c_str());
    else return std::nullopt;
  }
  if (o.images.empty() || o.host_port <= 0) return std::nullopt;
  return o;
}

// One HTTP GET to 127.0.0.1:port; the body, or nullopt while nothing answers.
std::optional<std::string> HttpGet(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return std::nullopt;
  }
  std::string request = "GET / HTTP/1.0\r\nHost: localhost\r\n\r\n";
  (void)::write(fd, request.data(), request.size());
  std::string response;
  char buf[4096];
  for (ssize_t n; (n = ::read(fd, buf, sizeof(buf))) > 0;) response.append(buf, static_cast<size_t>(n));
  ::close(fd);
  auto body = response.find("\r\n\r\n");
  if (body == std::string::npos) return std::nullopt;
  return response.substr(body + 4);
}

// Everything the demo made, undone in reverse order however far it got.
struct DemoPod {
  Options opts;
  std::string pod_id = "demo-" + std::to_string(::getpid());
  std::string container_id = "nginx-" + std::to_string(::getpid());
  std::unique_ptr<image::ImageService> images;
  std::unique_ptr<cni::CniClient> network;
  cni::PodNetwork pod_network;
  bool network_added = false;
  std::unique_ptr<runtime::Sandbox> sandbox;
  std::shared_ptr<const runtime::CgroupDriver> cgroup_driver;
  std::optional<runtime::CgroupManager> cgroups;
  std::optional<runtime::Cgroup> pod_cgroup;
  runtime::LogCollector logs;
  std::unique_ptr<runtime::Container> nginx;
  bool rootfs_made = false;

  ~DemoPod() {
    if (nginx) {
      (void)nginx->Stop(SIGQUIT, std::chrono::seconds(5));
      (void)nginx->Wait(std::chrono::seconds(5));
      if (auto s = nginx->Destroy(); !s) spdlog::warn("remove container: {}", s.error().ToString());
    }
    if (rootfs_made) (void)images->RemoveContainerRootfs(container_id);
    if (network_added) {
      if (auto s = network->Del(pod_network); !s) spdlog::warn("CNI DEL: {}", s.error().ToString());
    }
    if (sandbox) {
      if (auto s = sandbox->Destroy(); !s) spdlog::warn("remove sandbox: {}", s.error().ToString());
    }
    // The demo is the only user of its cgroup parent: remove it too.
    if (cgroup_driver) (void)runtime::Cgroup(cgroup_driver, "/peapod-demo").Remove();
    spdlog::info("pod {} removed", pod_id);
  }

  Status Run() {
    image::ImageServiceOptions image_options;
    image_options.root = opts.state + "/images";
    auto svc = image::ImageService::Open(std::move(image_options));
    if (!svc) return std::unexpected(svc.error());
    images = std::move(*svc);
    for (const char* archive : {"nginx.oci.tar"}) {
      auto loaded = images->Load(opts.images + "/" + archive);
      if (!loaded) return std::unexpected(std::move(loaded.error()).Context("load image"));
    }
    auto resolved = images->Resolve("nginx");
    if (!resolved) return std::unexpected(resolved.error());

    if (auto wrote = cni::WriteDefaultConflistIfMissing("/etc/cni/net.d"); wrote && *wrote) {
      spdlog::info("installed the default network /etc/cni/net.d/10-peapod.conflist");
    }
    cni::CniOptions cni_options;
    cni_options.cache_dir = opts.state + "/cni";
    auto client = cni::CniClient::Create(std::move(cni_options));
    if (!client) return std::unexpected(client.error());
    network = std::move(*client);

    auto driver = runtime::CgroupDriver::Detect();
    if (!driver) return std::unexpected(driver.error());
    cgroup_driver = std::make_shared<const runtime::CgroupDriver>(std::move(*driver));
    cgroups.emplace(cgroup_driver, runtime::CgroupManagerOptions{.parent = "peapod-demo"});
    auto pc = cgroups->CreatePod(pod_id);
    if (!pc) return std::unexpected(pc.error());
    pod_cgroup = *pc;

    auto sb = runtime::Sandbox::Start({.id = pod_id,
                                       .run_dir = opts.run + "/pods/" + pod_id,
                                       .pause_binary = PEAPOD_PAUSE_BINARY,
                                       .hostname = "demo"});
    if (!sb) return std::unexpected(sb.error());
    sandbox = std::move(*sb);
    pod_network = {.sandbox_id = pod_id,
                   .netns_path = sandbox->NamespacePath(runtime::Namespace::kNetwork),
                   .pod_name = "demo",
                   .pod_namespace = "default",
                   .pod_uid = pod_id,
                   .port_mappings = {{"tcp", opts.host_port, 80, ""}}};
    auto added = network->Add(pod_network);
    if (!added) return std::unexpected(added.error());
    network_added = true;
    std::string ip = added->ips.empty() ? "?" : added->ips[0].address;
    spdlog::info("pod {} is up: IP {}, pause pid {}", pod_id, ip, sandbox->pause().pid);

    auto rootfs = images->CreateContainerRootfs(container_id, "nginx");
    if (!rootfs) return std::unexpected(rootfs.error());
    rootfs_made = true;
    std::string html = opts.state + "/html";
    std::filesystem::create_directories(html);
    std::ofstream(html + "/index.html") << "Hello from peapod: nginx in pod " << pod_id << " (" << ip
                                        << ")\n";
    const auto& defaults = resolved->config.defaults;
    runtime::ContainerSpec spec;
    spec.id = container_id;
    spec.rootfs = rootfs->dirs.dir + "/rootfs";
    std::filesystem::create_directories(spec.rootfs);
    spec.overlay = runtime::OverlayRootfs{rootfs->plan.chdir_to, rootfs->plan.options};
    spec.net_ns = sandbox->NamespacePath(runtime::Namespace::kNetwork);
    spec.ipc_ns = sandbox->NamespacePath(runtime::Namespace::kIpc);
    spec.uts_ns = sandbox->NamespacePath(runtime::Namespace::kUts);
    spec.pid_ns = sandbox->NamespacePath(runtime::Namespace::kPid);
    spec.args = defaults.entrypoint;
    spec.args.insert(spec.args.end(), defaults.cmd.begin(), defaults.cmd.end());
    spec.env = defaults.env;
    spec.cwd = defaults.working_dir.empty() ? "/" : defaults.working_dir;
    spec.mounts.push_back({"/usr/share/nginx/html", "bind", html, "", true, {}});
    spec.run_dir = sandbox->spec().run_dir;
    spec.ledger_path = sandbox->LedgerPath();
    spec.log_path = opts.state + "/logs/nginx.log";
    runtime::SecurityPlan plan;
    uint64_t caps = runtime::DefaultCapabilities();
    plan.capabilities = runtime::ClampToCurrentProcess(runtime::ContainerCapabilitySet(caps), spec.id);
    plan.last_cap = runtime::KernelLastCapability();
    if (auto seccomp = runtime::CompileRuntimeDefaultSeccomp(caps); seccomp) plan.seccomp = *seccomp;
    plan.rlimits = runtime::DefaultContainerRlimits(spec.id);
    spec.security = plan;
    spec.masked_paths = runtime::DefaultMaskedPaths();
    spec.readonly_paths = runtime::DefaultReadonlyPaths();

    runtime::Resources limits;
    limits.memory_limit_bytes = 128 << 20;
    limits.pids_limit = 256;
    auto cg = cgroups->CreateContainer(pod_id, container_id, limits);
    if (!cg) return std::unexpected(cg.error());
    auto created = runtime::Container::Create(spec, &logs);
    if (!created) return std::unexpected(created.error());
    nginx = std::move(*created);
    nginx->AttachCgroup(*cg);
    if (auto s = nginx->Start(); !s) return s;
    spdlog::info("container nginx started (pid {}), logs in {}", nginx->process().host.pid,
                 spec.log_path);

    for (int i = 0; i < 100; ++i) {
      if (auto body = HttpGet(opts.host_port); body && !body->empty()) {
        std::printf("GET http://127.0.0.1:%d/ -> %s", opts.host_port, body->c_str());
        std::fflush(stdout);
        if (!opts.ready_file.empty()) std::ofstream(opts.ready_file) << *body;
        return Ok();
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return Fail(ErrorCode::kUnavailable, "nginx did not answer on 127.0.0.1:" +
                                             std::to_string(opts.host_port));
  }
};

}  // namespace

int main(int argc, char** argv) {
  auto opts = ParseArgs(argc, argv);
  if (!opts) {
    std::fprintf(stderr,
                 "usage: peapod-demo --images DIR [--host-port 8080] [--state DIR] [--run DIR] "
                 "[--ready-file FILE]\n");
    return 2;
  }
  // Block the stop signals before any thread starts, then wait for one of them.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);
  signal(SIGPIPE, SIG_IGN);
  int rc = 0;
  {
    DemoPod pod{.opts = *opts};
    if (auto s = pod.Run(); !s) {
      spdlog::error("{}", s.error().ToString());
      rc = 1;
    } else {
      spdlog::info("serving; stop with SIGTERM or Ctrl-C");
      int sig = 0;
      sigwait(&stop, &sig);
    }
  }
  return rc;
}
