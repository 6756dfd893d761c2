// `peapod machine`'s footloose config: parsing, errors with file:line, machine names and host
// ports per replica, the pod each machine runs as and what `show` prints.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "peapod/cli/machine_config.h"
#include "peapod/cli/yaml_tree.h"

namespace peapod::cli {
namespace {

using nlohmann::json;

constexpr char kTwoNodes[] = R"(cluster:
  name: cluster
  privateKey: cluster-key
machines:
- count: 2
  spec:
    image: debian-machine:12
    name: node%d
    portMappings:
    - containerPort: 22
      hostPort: 2222
)";

MachineConfig Parse(const std::string& text) {
  auto parsed = ParseMachineConfig(text, "footloose.yaml");
  EXPECT_TRUE(parsed) << parsed.error();
  return parsed ? *parsed : MachineConfig{};
}

std::string ErrorOf(const std::string& text) {
  auto parsed = ParseMachineConfig(text, "footloose.yaml");
  EXPECT_FALSE(parsed) << "parsed without error:\n" << text;
  return parsed ? "" : parsed.error();
}

TEST(MachineConfig, ReadsFootlooseFields) {
  auto config = Parse(R"(cluster:
  name: lab
  privateKey: ~/.ssh/lab
machines:
- count: 1
  backend: docker
  spec:
    image: debian-machine:12
    name: web%d
    privileged: true
    cmd: /lib/systemd/systemd --log-level=debug
    volumes:
    - type: bind
      source: /srv/data
      destination: /data
      readOnly: true
    - type: volume
      destination: /var/lib/docker
    portMappings:
    - containerPort: 22
      hostPort: 9222
    - containerPort: 53
      protocol: UDP
      address: 127.0.0.1
)");
  EXPECT_EQ(config.cluster_name, "lab");
  EXPECT_EQ(config.private_key, "~/.ssh/lab");
  ASSERT_EQ(config.machines.size(), 1u);
  const auto& spec = config.machines[0].spec;
  EXPECT_EQ(config.machines[0].count, 1);
  EXPECT_EQ(spec.image, "debian-machine:12");
  EXPECT_EQ(spec.name, "web%d");
  EXPECT_TRUE(spec.privileged);
  ASSERT_EQ(spec.volumes.size(), 2u);
  EXPECT_EQ(spec.volumes[0].type, "bind");
  EXPECT_EQ(spec.volumes[0].source, "/srv/data");
  EXPECT_TRUE(spec.volumes[0].read_only);
  EXPECT_EQ(spec.volumes[1].type, "volume");
  EXPECT_FALSE(spec.volumes[1].read_only);
  ASSERT_EQ(spec.port_mappings.size(), 2u);
  EXPECT_EQ(spec.port_mappings[1].protocol, "udp");
  EXPECT_EQ(spec.port_mappings[1].address, "127.0.0.1");
  EXPECT_EQ(spec.port_mappings[1].host_port, 0);
  EXPECT_EQ(MachineCommand(spec),
            (std::vector<std::string>{"/lib/systemd/systemd", "--log-level=debug"}));
}

TEST(MachineConfig, DefaultsAsFootloose) {
  auto config = Parse("machines:\n- count: 1\n  spec:\n    image: debian-machine:12\n");
  EXPECT_EQ(config.cluster_name, "cluster");
  EXPECT_EQ(config.private_key, "cluster-key");
  EXPECT_EQ(config.machines[0].spec.name, "node%d");
  EXPECT_EQ(MachineCommand(config.machines[0].spec), std::vector<std::string>{"/sbin/init"});
}

TEST(MachineConfig, ExpandsNamesAndCountsHostPortsUpPerReplica) {
  auto config = Parse(std::string(kTwoNodes) + R"(- count: 2
  spec:
    image: debian-machine:12
    name: db%d
    portMappings:
    - containerPort: 22
      hostPort: 3222
    - containerPort: 5432
)");
  auto machines = ExpandMachines(config);
  ASSERT_EQ(machines.size(), 4u);
  EXPECT_EQ(machines[0].container, "cluster-node0");
  EXPECT_EQ(machines[0].hostname, "node0");
  EXPECT_EQ(machines[0].ports[0].host_port, 2222);
  EXPECT_EQ(machines[1].container, "cluster-node1");
  EXPECT_EQ(machines[1].hostname, "node1");
  EXPECT_EQ(machines[1].index, 1);
  EXPECT_EQ(machines[1].ports[0].host_port, 2223);
  EXPECT_EQ(machines[3].container, "cluster-db1");
  EXPECT_EQ(machines[3].ports[0].host_port, 3223);
  // No host port stays none on every replica.
  EXPECT_EQ(machines[3].ports[1].host_port, 0);
  EXPECT_EQ(machines[3].ports[1].container_port, 5432);
}

TEST(MachineConfig, FormatsNamePatterns) {
  EXPECT_EQ(FormatMachineName("node%d", 0), "node0");
  EXPECT_EQ(FormatMachineName("n%d-x", 12), "n12-x");
  EXPECT_EQ(FormatMachineName("a%%b%d", 3), "a%b3");
}

TEST(MachineConfig, ReportsErrorsWithFileAndLine) {
  EXPECT_EQ(ErrorOf(R"(cluster:
  name: cluster
machines:
- count: two
  spec:
    image: debian-machine:12
)"),
            "footloose.yaml:4: machines[0].count: must be an integer");
  EXPECT_EQ(ErrorOf(R"(machines:
- count: 1
  spec:
    image: debian-machine:12
    name: node
)"),
            "footloose.yaml:5: machines[0].spec.name: must contain %d exactly once (the replica "
            "index), as \"node%d\"");
  EXPECT_EQ(ErrorOf(R"(machines:
- count: 1
  spec:
    name: node%d
)"),
            "footloose.yaml:4: machines[0].spec.image: required");
}

TEST(MachineConfig, CollectsEveryIssueOfTheFile) {
  std::string error = ErrorOf(R"(cluster:
  name: Cluster_1
  colour: blue
machines:
- count: 2
  spec:
    image: debian-machine:12
    portMappings:
    - containerPort: "22"
      hostPort: 70000
      protocol: sctp
    volumes:
    - type: tmpfs
      destination: data
)");
  EXPECT_NE(error.find("footloose.yaml:2: cluster.name: must be lower-case"), std::string::npos)
      << error;
  EXPECT_NE(error.find("footloose.yaml:3: cluster.colour: unknown field"), std::string::npos)
      << error;
  EXPECT_NE(error.find("footloose.yaml:9: machines[0].spec.portMappings[0].containerPort: must "
                       "be an integer"),
            std::string::npos)
      << error;
  EXPECT_NE(error.find("footloose.yaml:10: machines[0].spec.portMappings[0].hostPort: must be "
                       "between 0 and 65535"),
            std::string::npos)
      << error;
  EXPECT_NE(error.find("footloose.yaml:11: machines[0].spec.portMappings[0].protocol: must be tcp "
                       "or udp"),
            std::string::npos)
      << error;
  EXPECT_NE(error.find("footloose.yaml:13: machines[0].spec.volumes[0].type: must be bind or "
                       "volume"),
            std::string::npos)
      << error;
  EXPECT_NE(error.find("footloose.yaml:14: machines[0].spec.volumes[0].destination: must be an "
                       "absolute path"),
            std::string::npos)
      << error;
}

TEST(MachineConfig, RefusesWhatTwoMachinesWouldShare) {
  // node1's port 2223 is also db0's.
  std::string error = ErrorOf(std::string(kTwoNodes) + R"(- count: 1
  spec:
    image: debian-machine:12
    name: db%d
    portMappings:
    - containerPort: 22
      hostPort: 2223
)");
  EXPECT_EQ(error,
            "footloose.yaml:17: machines[1].spec.portMappings[0].hostPort: host port 2223 of db0 "
            "is also used by node1");
  error = ErrorOf(std::string(kTwoNodes) + R"(- count: 1
  spec:
    image: other:1
    name: node%d
)");
  EXPECT_EQ(error,
            "footloose.yaml:15: machines[1].spec.name: machine name \"node0\" is also made by "
            "machines[0].spec.name");
}

TEST(MachineConfig, RefusesNamesThatAreNoHostnames) {
  EXPECT_NE(ErrorOf("machines:\n- count: 1\n  spec:\n    image: i\n    name: Node%d\n")
                .find("footloose.yaml:5: machines[0].spec.name: machine name \"Node0\" must be a "
                      "valid hostname"),
            std::string::npos);
  EXPECT_NE(ErrorOf("machines:\n- count: 1\n  spec:\n    image: i\n    name: n%s%d\n")
                .find("only %d (the replica index) and %% may follow a '%'"),
            std::string::npos);
  EXPECT_NE(ErrorOf("cluster:\n  name: " + std::string(60, 'c') +
                    "\nmachines:\n- count: 1\n  spec:\n    image: i\n")
                .find("must be at most 63 characters"),
            std::string::npos);
}

TEST(MachineConfig, RefusesMalformedYamlAndMissingParts) {
  EXPECT_EQ(ErrorOf(""), "footloose.yaml: machines: required: the config is empty");
  EXPECT_EQ(ErrorOf("cluster:\n  name: x\n"),
            "footloose.yaml:1: machines: required: at least one {count, spec}");
  std::string error = ErrorOf("machines:\n- count: 1\n  spec: [unclosed\n");
  EXPECT_TRUE(error.starts_with("footloose.yaml:")) << error;
  EXPECT_EQ(ErrorOf("machines:\n- count: 1\n  count: 2\n  spec:\n    image: i\n"),
            "footloose.yaml:3: duplicate key \"count\"");
  EXPECT_EQ(ErrorOf("machines:\n- count: 0\n  spec:\n    image: i\n"),
            "footloose.yaml:2: machines[0].count: must be between 1 and 1000");
  EXPECT_EQ(ErrorOf("machines:\n- count: 1\n"), "footloose.yaml:2: machines[0].spec: required");
  EXPECT_EQ(ErrorOf("machines:\n- count: 1\n  spec:\n    image: i\n    networks: [a]\n"),
            "footloose.yaml:5: machines[0].spec.networks: unknown field");
  EXPECT_EQ(ErrorOf("machines:\n- count: 1\n  spec:\n    image: i\n    backend: ignite\n"),
            "footloose.yaml:5: machines[0].spec.backend: must be docker (peapod runs machines as "
            "containers)");
  EXPECT_EQ(ErrorOf("a: 1\n---\nb: 2\n"),
            "footloose.yaml:3: only one YAML document is expected, found 2");
}

TEST(MachineConfig, MakesTheMachinePod) {
  auto config = Parse(R"(cluster:
  name: lab
machines:
- count: 2
  spec:
    image: debian-machine:12
    name: node%d
    privileged: true
    volumes:
    - type: bind
      source: data
      destination: /data
      readOnly: true
    - type: volume
      destination: /var/lib/k0s
    portMappings:
    - containerPort: 22
      hostPort: 2222
      address: 127.0.0.1
)");
  auto machines = ExpandMachines(config);
  json pod = MachinePod(
      config, machines[1],
      {.namespace_ = "ns", .authorized_keys = "/k/cluster-key.pub", .config_dir = "/etc/lab"});
  EXPECT_EQ(pod["metadata"]["name"], "lab-node1");
  EXPECT_EQ(pod["metadata"]["namespace"], "ns");
  EXPECT_EQ(pod["metadata"]["labels"][kMachineClusterLabel], "lab");
  EXPECT_EQ(pod["metadata"]["labels"][kMachineHostnameLabel], "node1");
  EXPECT_EQ(pod["spec"]["hostname"], "node1");
  EXPECT_EQ(pod["spec"]["restartPolicy"], "Always");
  const json& c = pod["spec"]["containers"][0];
  EXPECT_EQ(c["image"], "debian-machine:12");
  EXPECT_EQ(c["command"], json::array({"/sbin/init"}));
  EXPECT_EQ(c["securityContext"]["privileged"], true);
  EXPECT_EQ(c["ports"], json::parse(R"([{"containerPort": 22, "hostPort": 2223,
                                         "hostIP": "127.0.0.1", "protocol": "TCP"}])"));
  EXPECT_EQ(pod["spec"]["volumes"], json::parse(R"([
    {"name": "cluster-key", "hostPath": {"path": "/k/cluster-key.pub", "type": "File"}},
    {"name": "volume-0", "hostPath": {"path": "/etc/lab/data"}},
    {"name": "volume-1", "emptyDir": {}}])"));
  EXPECT_EQ(c["volumeMounts"], json::parse(R"([
    {"name": "cluster-key", "mountPath": "/root/.ssh/authorized_keys", "readOnly": true},
    {"name": "volume-0", "mountPath": "/data", "readOnly": true},
    {"name": "volume-1", "mountPath": "/var/lib/k0s"}])"));
}

TEST(MachineConfig, ShowsStatusAsFootloose) {
  auto config = Parse(kTwoNodes);
  auto machines = ExpandMachines(config);
  json running = json::parse(R"({
    "metadata": {"name": "cluster-node0"},
    "spec": {"containers": [{"name": "machine", "image": "debian-machine:12",
                             "command": ["/sbin/init"],
                             "ports": [{"containerPort": 22, "hostPort": 2222}]}]},
    "status": {"podIP": "10.88.0.7",
               "containerStatuses": [{"name": "machine", "state": {"running": {}}}]}})");
  json s0 = MachineStatus(machines[0], running);
  json s1 = MachineStatus(machines[1], nullptr);
  EXPECT_EQ(s0["state"], "Running");
  EXPECT_EQ(s0["ip"], "10.88.0.7");
  EXPECT_EQ(s0["ports"], json::parse(R"([{"guest": 22, "host": 2222}])"));
  EXPECT_EQ(s0["spec"]["name"], "node%d");
  EXPECT_EQ(s1["state"], "Not created");
  EXPECT_EQ(s1["ports"], json::parse(R"([{"guest": 22, "host": 2223}])"));
  running["status"]["containerStatuses"][0]["state"] = {{"waiting", {{"reason", "BackOff"}}}};
  EXPECT_EQ(MachineStatus(machines[0], running)["state"], "Stopped");
  EXPECT_EQ(FormatMachineTable({s0, s1}),
            "NAME            HOSTNAME   PORTS      IP          IMAGE               CMD          "
            "STATE\n"
            "cluster-node0   node0      2222->22   10.88.0.7   debian-machine:12   /sbin/init   "
            "Running\n"
            "cluster-node1   node1      2223->22               debian-machine:12   /sbin/init   "
            "Not created\n");
}

TEST(MachineConfig, FindsTheClusterKey) {
  EXPECT_EQ(ClusterKeyPath("cluster-key", "/etc/lab", "/root"), "/etc/lab/cluster-key");
  EXPECT_EQ(ClusterKeyPath("./keys/k", "/etc/lab/", "/root"), "/etc/lab/keys/k");
  EXPECT_EQ(ClusterKeyPath("~/.ssh/id_ed25519", "/etc/lab", "/home/me"),
            "/home/me/.ssh/id_ed25519");
  EXPECT_EQ(ClusterKeyPath("/srv/key", "/etc/lab", "/root"), "/srv/key");
}

TEST(MachineConfig, SshesThroughTheHostPortOrElseThePodIp) {
  auto config = Parse(std::string(kTwoNodes) + R"(- count: 1
  spec:
    image: debian-machine:12
    name: inner%d
    portMappings:
    - containerPort: 22
- count: 1
  spec:
    image: debian-machine:12
    name: bound%d
    portMappings:
    - containerPort: 22
      hostPort: 4022
      address: 127.0.0.2
)");
  auto machines = ExpandMachines(config);
  json status = {{"ip", "10.88.0.9"}};
  auto node1 = MachineSshEndpoint(machines[1], status);
  ASSERT_TRUE(node1);
  EXPECT_EQ(node1->address, "127.0.0.1");
  EXPECT_EQ(node1->port, 2223);
  auto inner = MachineSshEndpoint(machines[2], status);
  ASSERT_TRUE(inner);
  EXPECT_EQ(inner->address, "10.88.0.9");
  EXPECT_EQ(inner->port, 22);
  EXPECT_FALSE(MachineSshEndpoint(machines[2], json{{"ip", ""}}));
  auto bound = MachineSshEndpoint(machines[3], status);
  ASSERT_TRUE(bound);
  EXPECT_EQ(bound->address, "127.0.0.2");
  EXPECT_EQ(bound->port, 4022);

  EXPECT_EQ(SshArgs("/k/cluster-key", *node1, "root", {"uname", "-a"}),
            (std::vector<std::string>{"ssh", "-o", "UserKnownHostsFile=/dev/null", "-o",
                                      "StrictHostKeyChecking=no", "-o", "IdentitiesOnly=yes", "-o",
                                      "LogLevel=ERROR", "-i", "/k/cluster-key", "-p", "2223", "-l",
                                      "root", "127.0.0.1", "--", "uname", "-a"}));
  EXPECT_EQ(SshArgs("k", *inner, "app", {}).back(), "10.88.0.9");
}

TEST(MachineConfig, SaysWhyAMachineDoesNotStart) {
  auto pod = [](json state) {
    return json{{"status",
                 {{"containerStatuses", json::array({{{"name", "machine"}, {"state", state}}})}}}};
  };
  EXPECT_FALSE(MachineProblem(nullptr));
  EXPECT_FALSE(MachineProblem(json{{"status", json::object()}}));
  EXPECT_FALSE(MachineProblem(pod({{"running", json::object()}})));
  EXPECT_FALSE(MachineProblem(pod({{"waiting", {{"reason", "ContainerCreating"}}}})));
  EXPECT_EQ(MachineProblem(pod({{"waiting",
                                 {{"reason", "CreateContainerError"},
                                  {"message", "unknown stop signal \"SIGRTMIN+3\""}}}})),
            "CreateContainerError: unknown stop signal \"SIGRTMIN+3\"");
  EXPECT_EQ(MachineProblem(pod({{"waiting", {{"reason", "CrashLoopBackOff"}}}})),
            "CrashLoopBackOff");
  EXPECT_EQ(MachineProblem(pod({{"terminated", {{"exitCode", 255}, {"reason", "Error"}}}})),
            "exited with code 255 (Error)");
}

TEST(YamlTree, KeepsLinesAndQuoting) {
  auto tree = ParseYaml("a:\n  b: \"1\"\n  c: 2\nlist:\n- x\n- 'y'\n", "f.yaml");
  ASSERT_TRUE(tree) << tree.error();
  EXPECT_EQ((*tree)["a"]["b"].scalar, "1");
  EXPECT_TRUE((*tree)["a"]["b"].quoted);
  EXPECT_FALSE((*tree)["a"]["c"].quoted);
  EXPECT_EQ((*tree)["a"]["c"].line, 3);
  EXPECT_EQ((*tree)["list"].items.size(), 2u);
  EXPECT_EQ((*tree)["list"].items[1].line, 6);
  EXPECT_TRUE((*tree)["missing"].IsNull());
  EXPECT_EQ((*tree)["missing"].line, 0);
}

}  // namespace
}  // namespace peapod::cli
