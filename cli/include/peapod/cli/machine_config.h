// footloose's cluster config (cluster: {name, privateKey}, machines: [{count, spec}]) as
// `peapod machine` reads it, the machines it names (`node%d` expanded per replica, host ports
// counted up per replica) and the pod manifest that runs each machine. Pure functions, no I/O.
#pragma once

#include <expected>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace peapod::cli {

struct MachineVolume {
  std::string type;  // "bind" (a host file or directory) or "volume" (an anonymous volume)
  std::string source;
  std::string destination;
  bool read_only = false;
};

struct MachinePortMapping {
  std::string protocol = "tcp";  // tcp or udp
  std::string address;           // host address to bind; empty: every address
  int host_port = 0;             // base host port, + replica index; 0: none on the host
  int container_port = 0;
};

struct MachineSpec {
  std::string name = "node%d";  // the hostname, %d the replica index
  std::string image;
  bool privileged = false;
  std::vector<MachineVolume> volumes;
  std::vector<MachinePortMapping> port_mappings;
  std::string cmd;  // PID 1's command line, split on blanks; empty: /sbin/init
};

struct MachineReplicas {
  int count = 0;
  MachineSpec spec;
};

struct MachineConfig {
  std::string cluster_name = "cluster";
  std::string private_key = "cluster-key";  // as written: relative, absolute or ~/...
  std::vector<MachineReplicas> machines;
};

// Parses and checks a footloose config. On error: every issue, one per line, as
// "FILE:LINE: FIELD: message" (e.g. "footloose.yaml:7: machines[0].spec.name: must contain %d").
std::expected<MachineConfig, std::string> ParseMachineConfig(const std::string& text,
                                                             const std::string& file);

// One machine of the cluster, replica `index` of its spec.
struct Machine {
  std::string container;  // the pod's name: "<cluster>-<hostname>", as footloose names containers
  std::string hostname;   // spec.name with %d replaced by the index
  int index = 0;
  const MachineSpec* spec = nullptr;      // points into the config
  std::vector<MachinePortMapping> ports;  // host ports already offset by the index
};

// The machines in config order (replicas of the first spec first).
std::vector<Machine> ExpandMachines(const MachineConfig& config);

// "node%d", 3 -> "node3" ("%%" is a literal '%').
std::string FormatMachineName(const std::string& pattern, int index);

// The command of a machine's only container: `cmd` split on blanks, or /sbin/init.
std::vector<std::string> MachineCommand(const MachineSpec& spec);

// Labels every machine pod carries, so `show` can tell machines from other pods.
inline constexpr char kMachineClusterLabel[] = "machine.peapod.dev/cluster";
inline constexpr char kMachineHostnameLabel[] = "machine.peapod.dev/hostname";
inline constexpr char kMachineContainerName[] = "machine";

struct MachinePodInputs {
  std::string namespace_ = "default";
  // Host path of the cluster's public key, mounted read-only as root's authorized_keys.
  std::string authorized_keys;
  // Relative bind sources are taken from here (the config file's directory).
  std::string config_dir;
};

// The Kubernetes v1 Pod that runs `machine`: its hostname, restartPolicy Always, the command,
// host ports, privileged, volumes (bind: hostPath; volume: emptyDir) and the cluster key.
nlohmann::json MachinePod(const MachineConfig& config, const Machine& machine,
                          const MachinePodInputs& inputs);

// What `show` prints of one machine, from its pod (null when the machine is not created):
// footloose's status object {container, state, spec, ports[{guest, host}], hostname, image,
// cmd, ip}, state one of "Running", "Stopped", "Not created".
nlohmann::json MachineStatus(const Machine& machine, const nlohmann::json& pod);

// Where the cluster's private key is: `written` as in the config, "~/" being `home` and a
// relative path taken from `config_dir` (footloose takes it from the working directory, the
// same when run beside footloose.yaml).
std::string ClusterKeyPath(const std::string& written, const std::string& config_dir,
                           const std::string& home);

struct SshEndpoint {
  std::string address;
  int port = 22;
};
// Where ssh reaches `machine`: its host port for container port 22 (on 127.0.0.1 unless the
// mapping names an address, as footloose's localhost), else port 22 of its pod IP (from
// MachineStatus); nullopt when neither is known.
std::optional<SshEndpoint> MachineSshEndpoint(const Machine& machine, const nlohmann::json& status);

// ssh's argv to log in as `user` with `key`. A machine makes new host keys whenever it is
// created, so there is no known_hosts to keep or to trust.
std::vector<std::string> SshArgs(const std::string& key, const SshEndpoint& endpoint,
                                 const std::string& user, const std::vector<std::string>& command);

// Why a created machine is not coming up ("CreateContainerError: ...", "CrashLoopBackOff: ...",
// "exited with code 255"), from its pod; nullopt while it runs or is still being made.
std::optional<std::string> MachineProblem(const nlohmann::json& pod);

// footloose's table: NAME HOSTNAME PORTS IP IMAGE CMD STATE.
std::string FormatMachineTable(const std::vector<nlohmann::json>& statuses);

}  // namespace peapod::cli
