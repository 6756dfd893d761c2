// footloose's config, read with footloose's types (gopkg.in/yaml through JSON: integers must be
// plain numbers, a quoted "22" is a string) and checked up front, so that `create` either makes
// every machine or changes nothing.
#include "peapod/cli/machine_config.h"

#include <arpa/inet.h>

#include <algorithm>
#include <map>
#include <set>
#include <sstream>

#include "peapod/cli/format.h"
#include "peapod/cli/yaml_tree.h"

namespace peapod::cli {
namespace {

using nlohmann::json;
using Kind = YamlNode::Kind;

class ConfigReader {
 public:
  explicit ConfigReader(std::string file) : file_(std::move(file)) {}

  void Error(const YamlNode& at, const std::string& path, const std::string& message) {
    std::string where = at.line > 0 ? file_ + ":" + std::to_string(at.line) : file_;
    issues_.push_back(where + ": " + path + ": " + message);
  }

  // A map whose keys are all in `known` (footloose fields peapod reads).
  bool Object(const YamlNode& node, const std::string& path,
              std::initializer_list<std::string_view> known) {
    if (node.kind != Kind::kMap) {
      Error(node, path, "must be an object");
      return false;
    }
    for (const auto& [key, value] : node.entries) {
      if (std::find(known.begin(), known.end(), key) == known.end()) {
        Error(value, Join(path, key), "unknown field");
      }
    }
    return true;
  }

  // Each returns false when the value is absent (null) or of the wrong type (reported).
  bool String(const YamlNode& node, const std::string& path, std::string& out) {
    if (node.IsNull() || (node.kind == Kind::kScalar && !node.quoted && IsNullText(node.scalar))) {
      return false;
    }
    if (node.kind != Kind::kScalar) {
      Error(node, path, "must be a string");
      return false;
    }
    out = node.scalar;
    return true;
  }

  bool Int(const YamlNode& node, const std::string& path, int64_t& out) {
    if (node.IsNull()) return false;
    if (node.kind != Kind::kScalar || node.quoted || !ParseDecimal(node.scalar, out)) {
      Error(node, path, "must be an integer");
      return false;
    }
    return true;
  }

  bool Bool(const YamlNode& node, const std::string& path, bool& out) {
    if (node.IsNull()) return false;
    static const std::set<std::string> kTrue = {"true", "True", "TRUE", "yes", "Yes",
                                                "YES",  "on",   "On",   "ON"};
    static const std::set<std::string> kFalse = {"false", "False", "FALSE", "no", "No",
                                                 "NO",    "off",   "Off",   "OFF"};
    if (node.kind == Kind::kScalar && !node.quoted && kTrue.contains(node.scalar)) {
      out = true;
      return true;
    }
    if (node.kind == Kind::kScalar && !node.quoted && kFalse.contains(node.scalar)) {
      out = false;
      return true;
    }
    Error(node, path, "must be true or false");
    return false;
  }

  // false (reported unless absent) when `node` is not a list.
  bool List(const YamlNode& node, const std::string& path) {
    if (node.IsNull()) return false;
    if (node.kind != Kind::kList) {
      Error(node, path, "must be a list");
      return false;
    }
    return true;
  }

  static std::string Join(const std::string& path, std::string_view key) {
    return path.empty() ? std::string(key) : path + "." + std::string(key);
  }
  static std::string At(const std::string& path, size_t i) {
    return path + "[" + std::to_string(i) + "]";
  }

  bool ok() const { return issues_.empty(); }
  std::string Issues() const {
    std::string out;
    for (const auto& issue : issues_) out += (out.empty() ? "" : "\n") + issue;
    return out;
  }

 private:
  static bool IsNullText(const std::string& text) {
    return text.empty() || text == "~" || text == "null" || text == "Null" || text == "NULL";
  }
  // Decimal with an optional sign, no overflow beyond int64 (checked digit by digit).
  static bool ParseDecimal(const std::string& text, int64_t& out) {
    size_t i = text.starts_with('-') || text.starts_with('+') ? 1 : 0;
    if (i >= text.size() || text.size() - i > 18) return false;
    int64_t value = 0;
    for (; i < text.size(); ++i) {
      if (text[i] < '0' || text[i] > '9') return false;
      value = value * 10 + (text[i] - '0');
    }
    out = text.starts_with('-') ? -value : value;
    return true;
  }

  std::string file_;
  std::vector<std::string> issues_;
};

bool IsDns1123Label(std::string_view s) {
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (s.empty() || s.size() > 63 || !alnum(s.front()) || !alnum(s.back())) return false;
  return std::all_of(s.begin(), s.end(), [&](char c) { return alnum(c) || c == '-'; });
}

// A name pattern must hold exactly one %d (footloose requires it) and no other verb.
std::optional<std::string> CheckNamePattern(const std::string& pattern) {
  int verbs = 0;
  for (size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] != '%') continue;
    if (i + 1 < pattern.size() && pattern[i + 1] == '%') {
      ++i;
      continue;
    }
    if (i + 1 < pattern.size() && pattern[i + 1] == 'd') {
      ++verbs;
      ++i;
      continue;
    }
    return "only %d (the replica index) and %% may follow a '%'";
  }
  if (verbs != 1) return "must contain %d exactly once (the replica index), as \"node%d\"";
  return std::nullopt;
}

void ReadPortMapping(ConfigReader& r, const YamlNode& node, const std::string& path, int count,
                     MachinePortMapping& out) {
  if (!r.Object(node, path, {"protocol", "address", "hostPort", "containerPort"})) return;
  int64_t value = 0;
  if (!r.Int(node["containerPort"], ConfigReader::Join(path, "containerPort"), value)) {
    if (node["containerPort"].IsNull()) {
      r.Error(node, ConfigReader::Join(path, "containerPort"), "required");
    }
  } else if (value < 1 || value > 65535) {
    r.Error(node["containerPort"], ConfigReader::Join(path, "containerPort"),
            "must be between 1 and 65535");
  } else {
    out.container_port = static_cast<int>(value);
  }
  if (r.Int(node["hostPort"], ConfigReader::Join(path, "hostPort"), value)) {
    if (value < 0 || value > 65535) {
      r.Error(node["hostPort"], ConfigReader::Join(path, "hostPort"),
              "must be between 0 and 65535");
    } else if (value > 0 && value + count - 1 > 65535) {
      r.Error(node["hostPort"], ConfigReader::Join(path, "hostPort"),
              "hostPort + count - 1 must not exceed 65535");
    } else {
      out.host_port = static_cast<int>(value);
    }
  }
  std::string protocol;
  if (r.String(node["protocol"], ConfigReader::Join(path, "protocol"), protocol)) {
    std::transform(protocol.begin(), protocol.end(), protocol.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    if (protocol != "tcp" && protocol != "udp") {
      r.Error(node["protocol"], ConfigReader::Join(path, "protocol"), "must be tcp or udp");
    } else {
      out.protocol = protocol;
    }
  }
  if (r.String(node["address"], ConfigReader::Join(path, "address"), out.address)) {
    unsigned char buf[16];
    if (inet_pton(AF_INET, out.address.c_str(), buf) != 1 &&
        inet_pton(AF_INET6, out.address.c_str(), buf) != 1) {
      r.Error(node["address"], ConfigReader::Join(path, "address"), "must be an IP address");
    }
  }
}

void ReadVolume(ConfigReader& r, const YamlNode& node, const std::string& path,
                MachineVolume& out) {
  if (!r.Object(node, path, {"type", "source", "destination", "readOnly"})) return;
  if (!r.String(node["type"], ConfigReader::Join(path, "type"), out.type)) {
    r.Error(node, ConfigReader::Join(path, "type"), "required: bind or volume");
  } else if (out.type != "bind" && out.type != "volume") {
    r.Error(node["type"], ConfigReader::Join(path, "type"), "must be bind or volume");
  }
  r.String(node["source"], ConfigReader::Join(path, "source"), out.source);
  if (out.type == "bind" && out.source.empty()) {
    r.Error(node, ConfigReader::Join(path, "source"), "required for a bind volume");
  }
  if (out.type == "volume" && !out.source.empty()) {
    r.Error(node["source"], ConfigReader::Join(path, "source"),
            "named volumes are not supported: leave source empty for a volume that lives as "
            "long as the machine, or use type: bind with a host directory");
  }
  if (!r.String(node["destination"], ConfigReader::Join(path, "destination"), out.destination)) {
    r.Error(node, ConfigReader::Join(path, "destination"), "required");
  } else if (!out.destination.starts_with('/')) {
    r.Error(node["destination"], ConfigReader::Join(path, "destination"),
            "must be an absolute path");
  }
  r.Bool(node["readOnly"], ConfigReader::Join(path, "readOnly"), out.read_only);
}

void ReadSpec(ConfigReader& r, const YamlNode& node, const std::string& path, int count,
              MachineSpec& out) {
  // backend: footloose's "docker" (the default) is what peapod does; networks and ignite are
  // refused below as unknown fields.
  if (!r.Object(node, path,
                {"name", "image", "privileged", "volumes", "portMappings", "cmd", "backend"})) {
    return;
  }
  std::string backend;
  if (r.String(node["backend"], ConfigReader::Join(path, "backend"), backend) &&
      backend != "docker") {
    r.Error(node["backend"], ConfigReader::Join(path, "backend"),
            "must be docker (peapod runs machines as containers)");
  }
  if (r.String(node["name"], ConfigReader::Join(path, "name"), out.name)) {
    if (auto bad = CheckNamePattern(out.name)) {
      r.Error(node["name"], ConfigReader::Join(path, "name"), *bad);
    }
  }
  if (!r.String(node["image"], ConfigReader::Join(path, "image"), out.image) || out.image.empty()) {
    r.Error(node["image"].IsNull() ? node : node["image"], ConfigReader::Join(path, "image"),
            "required");
  }
  r.Bool(node["privileged"], ConfigReader::Join(path, "privileged"), out.privileged);
  r.String(node["cmd"], ConfigReader::Join(path, "cmd"), out.cmd);
  const YamlNode& volumes = node["volumes"];
  std::string volumes_path = ConfigReader::Join(path, "volumes");
  if (r.List(volumes, volumes_path)) {
    std::set<std::string> destinations;
    for (size_t i = 0; i < volumes.items.size(); ++i) {
      MachineVolume volume;
      ReadVolume(r, volumes.items[i], ConfigReader::At(volumes_path, i), volume);
      if (!volume.destination.empty() && !destinations.insert(volume.destination).second) {
        r.Error(volumes.items[i], ConfigReader::At(volumes_path, i) + ".destination",
                "duplicate destination " + volume.destination);
      }
      out.volumes.push_back(std::move(volume));
    }
  }
  const YamlNode& ports = node["portMappings"];
  std::string ports_path = ConfigReader::Join(path, "portMappings");
  if (r.List(ports, ports_path)) {
    for (size_t i = 0; i < ports.items.size(); ++i) {
      MachinePortMapping port;
      ReadPortMapping(r, ports.items[i], ConfigReader::At(ports_path, i), count, port);
      out.port_mappings.push_back(std::move(port));
    }
  }
}

// What only the whole cluster shows: names and host ports that two machines would share.
void CheckCluster(ConfigReader& r, const YamlNode& root, const MachineConfig& config) {
  const YamlNode& machines = root["machines"];
  std::map<std::string, std::string> hostnames;   // hostname -> the spec path that made it
  std::map<std::string, std::string> host_ports;  // "tcp/2222@addr" -> the machine using it
  for (size_t i = 0; i < config.machines.size(); ++i) {
    const auto& replicas = config.machines[i];
    const YamlNode& item = machines.items[i];
    std::string path = ConfigReader::At("machines", i) + ".spec";
    if (CheckNamePattern(replicas.spec.name)) continue;  // reported already
    for (int index = 0; index < replicas.count; ++index) {
      std::string hostname = FormatMachineName(replicas.spec.name, index);
      std::string container = config.cluster_name + "-" + hostname;
      const YamlNode& at = item["spec"]["name"].IsNull() ? item["spec"] : item["spec"]["name"];
      if (!IsDns1123Label(hostname)) {
        r.Error(at, path + ".name",
                "machine name \"" + hostname +
                    "\" must be a valid hostname (lower-case letters, digits and '-', at most "
                    "63 characters, starting and ending with a letter or digit)");
        break;
      }
      if (!IsDns1123Label(container)) {
        r.Error(at, path + ".name",
                "\"" + container + "\" (cluster name + \"-\" + machine name) must be at most 63 " +
                    "characters");
        break;
      }
      auto [it, fresh] = hostnames.emplace(hostname, path);
      if (!fresh) {
        r.Error(at, path + ".name",
                "machine name \"" + hostname + "\" is also made by " + it->second + ".name");
        break;
      }
      for (size_t p = 0; p < replicas.spec.port_mappings.size(); ++p) {
        const auto& port = replicas.spec.port_mappings[p];
        if (port.host_port == 0) continue;
        std::string key =
            port.protocol + "/" + std::to_string(port.host_port + index) + "@" + port.address;
        auto [used, first] = host_ports.emplace(key, hostname);
        if (!first) {
          r.Error(item["spec"]["portMappings"].items[p],
                  path + ".portMappings[" + std::to_string(p) + "].hostPort",
                  "host port " + std::to_string(port.host_port + index) + " of " + hostname +
                      " is also used by " + used->second);
        }
      }
    }
  }
}

}  // namespace

std::expected<MachineConfig, std::string> ParseMachineConfig(const std::string& text,
                                                             const std::string& file) {
  auto parsed = ParseYaml(text, file);
  if (!parsed) return std::unexpected(parsed.error());
  const YamlNode& root = *parsed;
  ConfigReader r(file);
  MachineConfig config;
  if (root.IsNull()) {
    r.Error(root, "machines", "required: the config is empty");
    return std::unexpected(r.Issues());
  }
  if (!r.Object(root, "config", {"cluster", "machines"})) return std::unexpected(r.Issues());

  const YamlNode& cluster = root["cluster"];
  if (!cluster.IsNull() && r.Object(cluster, "cluster", {"name", "privateKey"})) {
    r.String(cluster["name"], "cluster.name", config.cluster_name);
    if (!IsDns1123Label(config.cluster_name)) {
      r.Error(cluster["name"].IsNull() ? cluster : cluster["name"], "cluster.name",
              "must be lower-case letters, digits and '-', starting and ending with a letter or "
              "digit");
    }
    r.String(cluster["privateKey"], "cluster.privateKey", config.private_key);
    if (config.private_key.empty()) {
      r.Error(cluster["privateKey"], "cluster.privateKey", "must not be empty");
    }
  }

  const YamlNode& machines = root["machines"];
  if (!r.List(machines, "machines") || machines.items.empty()) {
    if (machines.IsNull() || machines.kind == Kind::kList) {
      r.Error(machines.IsNull() ? root : machines, "machines",
              "required: at least one {count, spec}");
    }
    return std::unexpected(r.Issues());
  }
  for (size_t i = 0; i < machines.items.size(); ++i) {
    const YamlNode& item = machines.items[i];
    std::string path = ConfigReader::At("machines", i);
    MachineReplicas replicas;
    if (r.Object(item, path, {"count", "spec", "backend"})) {
      int64_t count = 0;
      if (!r.Int(item["count"], path + ".count", count)) {
        if (item["count"].IsNull()) r.Error(item, path + ".count", "required");
      } else if (count < 1 || count > 1000) {
        r.Error(item["count"], path + ".count", "must be between 1 and 1000");
      } else {
        replicas.count = static_cast<int>(count);
      }
      std::string backend;
      if (r.String(item["backend"], path + ".backend", backend) && backend != "docker") {
        r.Error(item["backend"], path + ".backend",
                "must be docker (peapod runs machines as containers)");
      }
      if (item["spec"].IsNull()) {
        r.Error(item, path + ".spec", "required");
      } else {
        ReadSpec(r, item["spec"], path + ".spec", replicas.count, replicas.spec);
      }
    }
    config.machines.push_back(std::move(replicas));
  }
  if (r.ok()) CheckCluster(r, root, config);
  if (!r.ok()) return std::unexpected(r.Issues());
  return config;
}

std::string FormatMachineName(const std::string& pattern, int index) {
  std::string out;
  for (size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] == '%' && i + 1 < pattern.size() && pattern[i + 1] == 'd') {
      out += std::to_string(index);
      ++i;
    } else if (pattern[i] == '%' && i + 1 < pattern.size() && pattern[i + 1] == '%') {
      out += '%';
      ++i;
    } else {
      out += pattern[i];
    }
  }
  return out;
}

std::vector<Machine> ExpandMachines(const MachineConfig& config) {
  std::vector<Machine> out;
  for (const auto& replicas : config.machines) {
    for (int index = 0; index < replicas.count; ++index) {
      Machine machine;
      machine.hostname = FormatMachineName(replicas.spec.name, index);
      machine.container = config.cluster_name + "-" + machine.hostname;
      machine.index = index;
      machine.spec = &replicas.spec;
      for (auto port : replicas.spec.port_mappings) {
        if (port.host_port != 0) port.host_port += index;
        machine.ports.push_back(port);
      }
      out.push_back(std::move(machine));
    }
  }
  return out;
}

std::vector<std::string> MachineCommand(const MachineSpec& spec) {
  std::vector<std::string> words;
  std::istringstream in(spec.cmd);
  for (std::string word; in >> word;) words.push_back(word);
  if (words.empty()) words.push_back("/sbin/init");
  return words;
}

json MachinePod(const MachineConfig& config, const Machine& machine,
                const MachinePodInputs& inputs) {
  json volumes = json::array();
  json mounts = json::array();
  // The cluster's public key as root's authorized_keys: the image holds no key of its own.
  volumes.push_back({{"name", "cluster-key"},
                     {"hostPath", {{"path", inputs.authorized_keys}, {"type", "File"}}}});
  mounts.push_back(
      {{"name", "cluster-key"}, {"mountPath", "/root/.ssh/authorized_keys"}, {"readOnly", true}});
  for (size_t i = 0; i < machine.spec->volumes.size(); ++i) {
    const auto& v = machine.spec->volumes[i];
    std::string name = "volume-" + std::to_string(i);
    if (v.type == "bind") {
      std::string source = v.source;
      if (!source.starts_with('/')) source = inputs.config_dir + "/" + source;
      volumes.push_back({{"name", name}, {"hostPath", {{"path", source}}}});
    } else {
      volumes.push_back({{"name", name}, {"emptyDir", json::object()}});
    }
    json mount = {{"name", name}, {"mountPath", v.destination}};
    if (v.read_only) mount["readOnly"] = true;
    mounts.push_back(std::move(mount));
  }
  json ports = json::array();
  for (const auto& p : machine.ports) {
    json port = {{"containerPort", p.container_port},
                 {"protocol", p.protocol == "udp" ? "UDP" : "TCP"}};
    if (p.host_port != 0) port["hostPort"] = p.host_port;
    if (!p.address.empty()) port["hostIP"] = p.address;
    ports.push_back(std::move(port));
  }
  json container = {{"name", kMachineContainerName},
                    {"image", machine.spec->image},
                    {"imagePullPolicy", "IfNotPresent"},
                    {"command", MachineCommand(*machine.spec)},
                    {"volumeMounts", mounts}};
  if (!ports.empty()) container["ports"] = std::move(ports);
  if (machine.spec->privileged) container["securityContext"] = {{"privileged", true}};
  return {{"apiVersion", "v1"},
          {"kind", "Pod"},
          {"metadata",
           {{"name", machine.container},
            {"namespace", inputs.namespace_},
            {"labels",
             {{kMachineClusterLabel, config.cluster_name},
              {kMachineHostnameLabel, machine.hostname}}}}},
          {"spec",
           {{"hostname", machine.hostname},
            // A machine that powers itself off is booted again, as a supervised pod is.
            {"restartPolicy", "Always"},
            {"volumes", std::move(volumes)},
            {"containers", json::array({std::move(container)})}}}};
}

namespace {

json SpecJson(const MachineSpec& spec) {
  json volumes = json::array();
  for (const auto& v : spec.volumes) {
    volumes.push_back({{"type", v.type},
                       {"source", v.source},
                       {"destination", v.destination},
                       {"readOnly", v.read_only}});
  }
  json ports = json::array();
  for (const auto& p : spec.port_mappings) {
    json port = {{"containerPort", p.container_port}};
    if (p.protocol != "tcp") port["protocol"] = p.protocol;
    if (!p.address.empty()) port["address"] = p.address;
    if (p.host_port != 0) port["hostPort"] = p.host_port;
    ports.push_back(std::move(port));
  }
  json out = {{"name", spec.name}, {"image", spec.image}};
  if (spec.privileged) out["privileged"] = true;
  if (!volumes.empty()) out["volumes"] = std::move(volumes);
  if (!ports.empty()) out["portMappings"] = std::move(ports);
  if (!spec.cmd.empty()) out["cmd"] = spec.cmd;
  return out;
}

std::string JoinWords(const std::vector<std::string>& words) {
  std::string out;
  for (const auto& w : words) out += (out.empty() ? "" : " ") + w;
  return out;
}

}  // namespace

json MachineStatus(const Machine& machine, const json& pod) {
  json ports = json::array();
  for (const auto& p : machine.ports) {
    if (p.host_port != 0) ports.push_back({{"guest", p.container_port}, {"host", p.host_port}});
  }
  std::string state = "Not created";
  std::string ip;
  std::string image = machine.spec->image;
  std::string cmd = JoinWords(MachineCommand(*machine.spec));
  if (pod.is_object()) {
    state = "Stopped";
    const json& status = pod.value("status", json::object());
    ip = status.value("podIP", "");
    for (const auto& s : status.value("containerStatuses", json::array())) {
      if (s.value("name", "") != kMachineContainerName) continue;
      if (s.value("state", json::object()).contains("running")) state = "Running";
    }
    // The pod as it runs, not as the config says now.
    for (const auto& c : pod["spec"].value("containers", json::array())) {
      if (c.value("name", "") != kMachineContainerName) continue;
      image = c.value("image", image);
      if (c.contains("command") && c["command"].is_array()) {
        cmd = JoinWords(c["command"].get<std::vector<std::string>>());
      }
      json running_ports = json::array();
      for (const auto& p : c.value("ports", json::array())) {
        if (p.value("hostPort", 0) != 0) {
          running_ports.push_back(
              {{"guest", p.value("containerPort", 0)}, {"host", p.value("hostPort", 0)}});
        }
      }
      ports = std::move(running_ports);
    }
  }
  return {{"container", machine.container},
          {"state", state},
          {"spec", SpecJson(*machine.spec)},
          {"ports", ports},
          {"hostname", machine.hostname},
          {"image", image},
          {"cmd", cmd},
          {"ip", ip}};
}

std::optional<std::string> MachineProblem(const json& pod) {
  if (!pod.is_object()) return std::nullopt;
  for (const auto& s : pod["status"].value("containerStatuses", json::array())) {
    if (s.value("name", "") != kMachineContainerName || !s["state"].is_object()) continue;
    const json& state = s["state"];
    if (state.contains("waiting")) {
      std::string reason = state["waiting"].value("reason", "");
      if (reason.empty() || reason == "ContainerCreating" || reason == "PodInitializing") {
        return std::nullopt;
      }
      std::string message = state["waiting"].value("message", "");
      return message.empty() ? reason : reason + ": " + message;
    }
    if (state.contains("terminated")) {
      return "exited with code " + std::to_string(state["terminated"].value("exitCode", 0)) +
             (state["terminated"].value("reason", "").empty()
                  ? ""
                  : " (" + state["terminated"].value("reason", "") + ")");
    }
  }
  return std::nullopt;
}

std::string ClusterKeyPath(const std::string& written, const std::string& config_dir,
                           const std::string& home) {
  if (written == "~" || written.starts_with("~/")) return home + written.substr(1);
  if (written.starts_with('/')) return written;
  std::string out = config_dir;
  if (!out.ends_with('/')) out += '/';
  return out + (written.starts_with("./") ? written.substr(2) : written);
}

std::optional<SshEndpoint> MachineSshEndpoint(const Machine& machine, const json& status) {
  for (const auto& p : machine.ports) {
    if (p.container_port != 22 || p.host_port == 0 || p.protocol != "tcp") continue;
    std::string address = p.address;
    if (address.empty() || address == "0.0.0.0") address = "127.0.0.1";
    if (address == "::") address = "::1";
    return SshEndpoint{address, p.host_port};
  }
  std::string ip = status.is_object() ? status.value("ip", "") : "";
  if (ip.empty()) return std::nullopt;
  return SshEndpoint{ip, 22};
}

std::vector<std::string> SshArgs(const std::string& key, const SshEndpoint& endpoint,
                                 const std::string& user, const std::vector<std::string>& command) {
  std::vector<std::string> args = {"ssh",
                                   "-o",
                                   "UserKnownHostsFile=/dev/null",
                                   "-o",
                                   "StrictHostKeyChecking=no",
                                   "-o",
                                   "IdentitiesOnly=yes",
                                   "-o",
                                   "LogLevel=ERROR",
                                   "-i",
                                   key,
                                   "-p",
                                   std::to_string(endpoint.port),
                                   "-l",
                                   user,
                                   endpoint.address};
  // "--" after the host ends ssh's options: a remote command may start with '-'.
  if (!command.empty()) {
    args.push_back("--");
    args.insert(args.end(), command.begin(), command.end());
  }
  return args;
}

std::string FormatMachineTable(const std::vector<json>& statuses) {
  std::vector<std::vector<std::string>> rows = {
      {"NAME", "HOSTNAME", "PORTS", "IP", "IMAGE", "CMD", "STATE"}};
  for (const auto& s : statuses) {
    std::string ports;
    for (const auto& p : s["ports"]) {
      ports += (ports.empty() ? "" : ",") + std::to_string(p.value("host", 0)) + "->" +
               std::to_string(p.value("guest", 0));
    }
    rows.push_back({s.value("container", ""), s.value("hostname", ""), ports, s.value("ip", ""),
                    s.value("image", ""), s.value("cmd", ""), s.value("state", "")});
  }
  return FormatTable(rows);
}

}  // namespace peapod::cli
