// `peapod machine`: footloose on peapod. A group of its own (not footloose's top-level verbs)
// because `peapod create/delete/show` would read as pod verbs next to kubectl's `delete pod`;
// under `machine` the verbs keep footloose's names and arguments (-c footloose.yaml, show -o
// json, ssh root@node0), so a footloose user only puts `peapod machine` in front.
#include "machine.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "peapod/cli/machine_config.h"

extern char** environ;

namespace peapod::cli {
namespace {

namespace pv1 = ::peapod::v1;
namespace fs = std::filesystem;
using nlohmann::json;

int Error(const std::string& message) {
  std::cerr << "error: " << message << "\n";
  return 1;
}

struct LoadedConfig {
  MachineConfig config;
  std::vector<Machine> machines;
  std::string dir;  // absolute directory of the config file
  std::string key;  // absolute path of the cluster's private key
};

int Load(const std::string& path, LoadedConfig& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Error("cannot read the machine config " + path + ": " + std::strerror(errno) +
                 " (-c FILE; footloose.yaml by default)");
  }
  std::ostringstream text;
  text << in.rdbuf();
  auto parsed = ParseMachineConfig(text.str(), path);
  if (!parsed) return Error("invalid machine config:\n" + parsed.error());
  out.config = std::move(*parsed);
  std::error_code ec;
  out.dir = fs::absolute(fs::path(path), ec).parent_path().lexically_normal().string();
  const char* home = std::getenv("HOME");
  out.key = ClusterKeyPath(out.config.private_key, out.dir, home != nullptr ? home : "/root");
  out.machines = ExpandMachines(out.config);
  return 0;
}

// The machines named in `names` (hostnames or pod names; none: every machine).
int Select(const LoadedConfig& loaded, const std::vector<std::string>& names,
           std::vector<const Machine*>& out) {
  if (names.empty()) {
    for (const auto& m : loaded.machines) out.push_back(&m);
    return 0;
  }
  for (const auto& name : names) {
    const Machine* found = nullptr;
    for (const auto& m : loaded.machines) {
      if (m.hostname == name || m.container == name) found = &m;
    }
    if (!found) {
      std::string known;
      for (const auto& m : loaded.machines) known += (known.empty() ? "" : ", ") + m.hostname;
      return Error("no machine \"" + name + "\" in the config (machines: " + known + ")");
    }
    out.push_back(found);
  }
  return 0;
}

// Runs argv (found on PATH) and waits; its exit code, 127 when it could not be started.
int Run(const std::vector<std::string>& args) {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = -1;
  if (::posix_spawnp(&pid, argv[0], nullptr, nullptr, argv.data(), environ) != 0) return 127;
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// The cluster's key pair, made on first create as footloose does (ed25519 here: small and fast).
int EnsureKey(const LoadedConfig& loaded) {
  std::error_code ec;
  if (fs::exists(loaded.key, ec)) {
    if (!fs::exists(loaded.key + ".pub", ec)) {
      return Error("the cluster key " + loaded.key + " has no public half " + loaded.key +
                   ".pub (make it with: ssh-keygen -y -f " + loaded.key + " > " + loaded.key +
                   ".pub)");
    }
    return 0;
  }
  fs::create_directories(fs::path(loaded.key).parent_path(), ec);
  std::cout << "Creating SSH key: " << loaded.key << " ...\n";
  int rc = Run({"ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C",
                loaded.config.cluster_name + "@peapod-machine", "-f", loaded.key});
  if (rc == 127) return Error("ssh-keygen not found (apt-get install openssh-client)");
  if (rc != 0)
    return Error("ssh-keygen -f " + loaded.key + " failed with exit code " + std::to_string(rc));
  return 0;
}

// The pod of `machine`; null when it does not exist. rc != 0 on any other failure.
json GetMachinePod(pv1::PodService::Stub& pods, const std::string& namespace_,
                   const Machine& machine, const std::function<int(const grpc::Status&)>& failed,
                   int& rc) {
  pv1::GetPodRequest req;
  req.set_namespace_(namespace_);
  req.set_name(machine.container);
  pv1::GetPodResponse resp;
  grpc::ClientContext ctx;
  auto status = pods.GetPod(&ctx, req, &resp);
  if (status.error_code() == grpc::StatusCode::NOT_FOUND) return nullptr;
  if (!status.ok()) {
    rc = failed(status);
    return nullptr;
  }
  json pod = json::parse(resp.pod().json(), nullptr, false);
  if (pod.is_discarded()) pod = nullptr;
  // A pod of the same name that no `machine create` made is not this machine.
  if (pod.is_object() &&
      pod["metadata"].value("labels", json::object()).value(kMachineClusterLabel, "") == "") {
    rc = Error("pod " + machine.container + " exists but is not a machine of a cluster");
    return nullptr;
  }
  return pod;
}

// Waits until every machine's container runs, as `docker run` returns once it does; fails at
// once when one cannot start (bad image, CreateContainerError, a crash loop).
int WaitRunning(const std::vector<const Machine*>& machines, pv1::PodService::Stub& pods,
                const std::string& namespace_,
                const std::function<int(const grpc::Status&)>& failed, std::chrono::seconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  for (const Machine* m : machines) {
    while (true) {
      int rc = 0;
      json pod = GetMachinePod(pods, namespace_, *m, failed, rc);
      if (rc != 0) return rc;
      if (pod.is_null()) return Error("machine " + m->container + " was deleted meanwhile");
      if (MachineStatus(*m, pod)["state"] == "Running") break;
      if (auto problem = MachineProblem(pod)) {
        return Error("machine " + m->container + " does not start: " + *problem +
                     " (peapod describe pod " + m->container + ")");
      }
      if (std::chrono::steady_clock::now() > deadline) {
        return Error("machine " + m->container + " is not running after " +
                     std::to_string(limit.count()) + "s (peapod describe pod " + m->container +
                     ")");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
  }
  return 0;
}

int Create(const LoadedConfig& loaded, const std::vector<const Machine*>& machines, bool make_key,
           pv1::PodService::Stub& pods, const std::string& namespace_,
           const std::function<int(const grpc::Status&)>& failed) {
  if (make_key) {
    if (int rc = EnsureKey(loaded)) return rc;
  } else if (std::error_code ec; !fs::exists(loaded.key + ".pub", ec)) {
    return Error("no cluster key " + loaded.key +
                 ".pub: make the machines with `peapod machine "
                 "create` first");
  }
  MachinePodInputs inputs{
      .namespace_ = namespace_, .authorized_keys = loaded.key + ".pub", .config_dir = loaded.dir};
  pv1::ApplyRequest req;
  for (const Machine* m : machines) {
    auto* file = req.add_files();
    file->set_name(loaded.dir + " (machine " + m->hostname + ")");
    file->set_text(MachinePod(loaded.config, *m, inputs).dump());
  }
  pv1::ApplyResponse resp;
  grpc::ClientContext ctx;
  auto status = pods.Apply(&ctx, req, &resp);
  if (!status.ok()) return failed(status);
  for (const auto& w : resp.warnings()) std::cerr << "Warning: " << w << "\n";
  for (const auto& o : resp.objects()) {
    std::string action = o.action();
    if (action == "unchanged") action = "already exists";
    std::cout << "machine " << o.name() << " " << action << "\n";
  }
  std::cout.flush();
  return WaitRunning(machines, pods, namespace_, failed, std::chrono::seconds(120));
}

int Remove(const std::vector<const Machine*>& machines, const std::string& verb,
           pv1::PodService::Stub& pods, const std::string& namespace_,
           const std::function<int(const grpc::Status&)>& failed) {
  int rc = 0;
  for (const Machine* m : machines) {
    int get_rc = 0;
    json pod = GetMachinePod(pods, namespace_, *m, failed, get_rc);
    if (get_rc != 0) return get_rc;
    if (pod.is_null()) {
      std::cout << "machine " << m->container << " is not created\n";
      continue;
    }
    // A graceful delete: the image's stop signal (SIGRTMIN+3 for systemd: halt), then the
    // grace period; waits until the machine is gone.
    pv1::DeleteRequest req;
    req.set_namespace_(namespace_);
    req.set_name(m->container);
    req.set_wait(true);
    pv1::DeleteResponse resp;
    grpc::ClientContext ctx;
    auto status = pods.Delete(&ctx, req, &resp);
    if (!status.ok()) {
      rc = failed(status);
      if (status.error_code() == grpc::StatusCode::UNAVAILABLE) return rc;
      continue;
    }
    std::cout << "machine " << m->container << " " << verb << "\n";
  }
  return rc;
}

int Show(const std::vector<const Machine*>& machines, const std::string& output,
         pv1::PodService::Stub& pods, const std::string& namespace_,
         const std::function<int(const grpc::Status&)>& failed) {
  if (!output.empty() && output != "json" && output != "table") {
    return Error("unknown output format \"" + output + "\" (json or table)");
  }
  std::vector<json> statuses;
  for (const Machine* m : machines) {
    int rc = 0;
    json pod = GetMachinePod(pods, namespace_, *m, failed, rc);
    if (rc != 0) return rc;
    statuses.push_back(MachineStatus(*m, pod));
  }
  if (output == "json") {
    std::cout << json{{"machines", statuses}}.dump(2) << "\n";
  } else {
    std::cout << FormatMachineTable(statuses);
  }
  return 0;
}

// True once something at addr:port answers with an SSH banner (sshd up, not only the port).
bool SshAnswers(const std::string& address, int port) {
  sockaddr_storage storage{};
  socklen_t len = 0;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&storage);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&storage);
  int family = AF_INET;
  if (::inet_pton(AF_INET, address.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(port));
    len = sizeof(*v4);
  } else if (::inet_pton(AF_INET6, address.c_str(), &v6->sin6_addr) == 1) {
    family = AF_INET6;
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<uint16_t>(port));
    len = sizeof(*v6);
  } else {
    return false;
  }
  int fd = ::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  bool ok = false;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&storage), len) == 0) {
    pollfd p{fd, POLLIN, 0};
    char banner[8] = {};
    if (::poll(&p, 1, 3000) == 1 && ::recv(fd, banner, 4, MSG_WAITALL) == 4) {
      ok = std::memcmp(banner, "SSH-", 4) == 0;
    }
  }
  ::close(fd);
  return ok;
}

int Ssh(const LoadedConfig& loaded, const MachineFlags& flags, pv1::PodService::Stub& pods,
        const std::string& namespace_, const std::function<int(const grpc::Status&)>& failed) {
  std::string user = "root";
  std::string name = flags.target;
  if (auto at = name.find('@'); at != std::string::npos) {
    user = name.substr(0, at);
    name = name.substr(at + 1);
  }
  std::vector<const Machine*> selected;
  if (int rc = Select(loaded, {name}, selected)) return rc;
  const Machine& machine = *selected.front();
  int rc = 0;
  json pod = GetMachinePod(pods, namespace_, machine, failed, rc);
  if (rc != 0) return rc;
  if (pod.is_null()) {
    return Error("machine " + machine.container +
                 " is Not created: run `peapod machine create` "
                 "first");
  }
  // Just created or restarting: give it the moment it needs.
  if (int waited = WaitRunning({&machine}, pods, namespace_, failed, std::chrono::seconds(60))) {
    return waited;
  }
  pod = GetMachinePod(pods, namespace_, machine, failed, rc);
  if (rc != 0) return rc;
  json status = MachineStatus(machine, pod);
  auto endpoint = MachineSshEndpoint(machine, status);
  if (!endpoint) return Error("machine " + machine.container + " has no address yet");
  // sshd starts a moment after the machine does: wait for it rather than fail the first login.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!SshAnswers(endpoint->address, endpoint->port)) {
    if (std::chrono::steady_clock::now() > deadline) {
      return Error("no ssh server answers on " + endpoint->address + ":" +
                   std::to_string(endpoint->port) + " for machine " + machine.container +
                   " after 60s");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  std::vector<std::string> args = SshArgs(loaded.key, *endpoint, user, flags.command);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::cout.flush();
  ::execvp("ssh", argv.data());
  return Error(std::string("cannot run ssh: ") + std::strerror(errno) +
               " (apt-get install openssh-client)");
}

}  // namespace

CLI::App* AddMachineCommands(CLI::App& app, MachineFlags& flags) {
  auto* machine = app.add_subcommand(
      "machine", "footloose-style machines (systemd + sshd containers) from a footloose config");
  machine->require_subcommand(1);
  machine->add_option("-c,--config,-f", flags.config, "the cluster config (footloose's format)")
      ->capture_default_str();
  auto* create =
      machine->add_subcommand("create", "make the cluster's key and start every machine");
  create->add_option("machines", flags.machines, "only these machines");
  auto* show = machine->add_subcommand("show", "list the machines: NAME HOSTNAME PORTS IP ...");
  show->add_option("machines", flags.machines, "only these machines");
  show->add_option("-o,--output", flags.output, "json or table (default)");
  auto* ssh =
      machine->add_subcommand("ssh", "log in to a machine: ssh [USER@]HOSTNAME [-- CMD...]");
  ssh->add_option("target", flags.target, "[user@]hostname (user: root)")->required();
  ssh->add_option("command", flags.command, "a remote command, after --");
  auto* start = machine->add_subcommand("start", "start machines (fresh from their image)");
  start->add_option("machines", flags.machines, "only these machines");
  auto* stop = machine->add_subcommand("stop", "stop machines gracefully (systemd halts)");
  stop->add_option("machines", flags.machines, "only these machines");
  auto* del = machine->add_subcommand("delete", "stop and remove machines");
  del->add_option("machines", flags.machines, "only these machines");
  return machine;
}

int RunMachineCommand(CLI::App& machine, const MachineFlags& flags, pv1::PodService::Stub& pods,
                      const std::string& namespace_,
                      const std::function<int(const grpc::Status&)>& failed) {
  const std::string verb = machine.get_subcommands().front()->get_name();
  LoadedConfig loaded;
  if (int rc = Load(flags.config, loaded)) return rc;
  if (verb == "ssh") return Ssh(loaded, flags, pods, namespace_, failed);
  std::vector<const Machine*> selected;
  if (int rc = Select(loaded, flags.machines, selected)) return rc;
  if (verb == "create") return Create(loaded, selected, true, pods, namespace_, failed);
  if (verb == "start") return Create(loaded, selected, false, pods, namespace_, failed);
  if (verb == "show") return Show(selected, flags.output, pods, namespace_, failed);
  if (verb == "stop") return Remove(selected, "stopped", pods, namespace_, failed);
  if (verb == "delete") return Remove(selected, "deleted", pods, namespace_, failed);
  return Error("unknown machine command " + verb);
}

}  // namespace peapod::cli
