// ParseManifests / ApplyDefaults / SpecHash / ParseQuantity: Kubernetes manifests as the API
// server would take them, every mistake reported with its field path and line.
#include "peapod/agent/controller/manifest.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "peapod/atomic_file.h"

namespace peapod::agent::controller {
namespace {

// 1-based line on which the first occurrence of `marker` in `text` ends.
int LineOf(const std::string& text, const std::string& marker) {
  size_t at = text.find(marker);
  EXPECT_NE(at, std::string::npos) << marker;
  if (at == std::string::npos) return -1;
  return 1 + static_cast<int>(std::count(
                 text.begin(), text.begin() + static_cast<long>(at + marker.size()), '\n'));
}

std::string ErrorsOf(const std::string& text, ParseOptions options = {}) {
  auto parsed = ParseManifests(text, "pod.yaml", options);
  if (parsed) return "";
  EXPECT_EQ(parsed.error().code, ErrorCode::kInvalidArgument);
  return parsed.error().message;
}

const Container* Find(const std::vector<Container>& containers, const std::string& name) {
  for (const Container& c : containers) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

const char* const kConfdNginx = R"(# The confd + nginx sidecar pattern, as kubectl would apply it.
apiVersion: v1
kind: ConfigMap
metadata:
  name: nginx-template
  namespace: demo
data:
  nginx.tmpl: |
    upstream backend { server {{ getv "/upstream" }}; }
  confd.toml: "watch = true"
binaryData:
  logo.bin: AAEC
---
apiVersion: v1
kind: Secret
metadata:
  name: etcd-auth
  namespace: demo
type: Opaque
data:
  password: cGFzc3dvcmQ=
stringData:
  user: root
---
apiVersion: v1
kind: Pod
metadata:
  name: confd-nginx
  namespace: demo
  labels:
    app: web
    tier: frontend
  annotations:
    peapod.io/demo: "true"
  creationTimestamp: null
spec:
  shareProcessNamespace: true
  terminationGracePeriodSeconds: 10
  restartPolicy: Always
  hostname: web-1
  hostAliases:
  - ip: 127.0.0.1
    hostnames: [etcd.local]
  dnsPolicy: None
  dnsConfig:
    nameservers: [10.0.0.10]
    searches: [demo.svc.local]
    options:
    - name: ndots
      value: "2"
  securityContext:
    fsGroup: 101
    supplementalGroups: [5, 6]
    sysctls:
    - name: net.ipv4.ip_unprivileged_port_start
      value: "0"
  initContainers:
  - name: seed
    image: registry.local/etcd:3.5
    command: ["sh", "-c", "etcdctl put /upstream 127.0.0.1:8081"]
  - name: confd
    image: registry.local/confd
    restartPolicy: Always
    args: [--watch, /etc/confd]
    env:
    - name: POD_NAME
      valueFrom:
        fieldRef:
          fieldPath: metadata.name
    - name: POD_IP
      valueFrom:
        fieldRef: {fieldPath: status.podIP, apiVersion: v1}
    - name: ETCD_PASSWORD
      valueFrom:
        secretKeyRef: {name: etcd-auth, key: password}
    - name: APP_LABEL
      valueFrom:
        fieldRef: {fieldPath: "metadata.labels['app']"}
    envFrom:
    - prefix: CONFD_
      configMapRef:
        name: nginx-template
    volumeMounts:
    - name: rendered
      mountPath: /etc/nginx/conf.d
    - name: templates
      mountPath: /etc/confd/templates
      readOnly: true
    startupProbe:
      exec:
        command: [test, -f, /etc/nginx/conf.d/default.conf]
      periodSeconds: 1
      failureThreshold: 30
  containers:
  - name: etcd
    image: registry.local/etcd:3.5
    ports:
    - containerPort: 2379
      name: client
    resources:
      requests: {cpu: 100m, memory: 64Mi}
      limits: {cpu: "0.5", memory: 128Mi}
    livenessProbe:
      grpc: {port: 2379}
  - name: nginx
    image: registry.local/nginx@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
    ports:
    - name: http
      containerPort: 80
      hostPort: 8080
      protocol: TCP
    volumeMounts:
    - name: rendered
      mountPath: /etc/nginx/conf.d
    readinessProbe:
      httpGet:
        path: /healthz
        port: http
        httpHeaders:
        - name: X-Probe
          value: peapod
      initialDelaySeconds: 2
      successThreshold: 2
    livenessProbe:
      tcpSocket: {port: 80}
    lifecycle:
      preStop:
        exec:
          command: [nginx, -s, quit]
    securityContext:
      capabilities:
        add: [NET_BIND_SERVICE]
        drop: [ALL]
      readOnlyRootFilesystem: true
      runAsUser: 101
  - name: backend
    image: registry.local/busybox:latest
    command: [httpd, -f, -p, "8081"]
    workingDir: /srv
    env:
    - {name: GREETING, value: "hello"}
    - {name: EMPTY}
    volumeMounts:
    - name: pages
      mountPath: /srv
      subPath: site
  volumes:
  - name: rendered
    emptyDir: {medium: Memory, sizeLimit: 16Mi}
  - name: templates
    configMap:
      name: nginx-template
      defaultMode: 0444
      items:
      - key: nginx.tmpl
        path: templates/nginx.tmpl
        mode: 0400
  - name: pages
    hostPath: {path: /var/lib/peapod-demo, type: DirectoryOrCreate}
  - name: creds
    secret: {secretName: etcd-auth, optional: true}
  - name: scratch
status:
  phase: Pending
)";

TEST(Manifest, ParsesTheConfdNginxExampleFully) {
  auto parsed = ParseManifests(kConfdNginx, "confd-nginx.yaml");
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_TRUE(parsed->warnings.empty()) << parsed->warnings[0].ToString();

  ASSERT_EQ(parsed->config_maps.size(), 1u);
  const ConfigMap& cm = parsed->config_maps[0];
  EXPECT_EQ(cm.metadata.name, "nginx-template");
  EXPECT_EQ(cm.metadata.namespace_, "demo");
  EXPECT_EQ(cm.data.at("nginx.tmpl"), "upstream backend { server {{ getv \"/upstream\" }}; }\n");
  EXPECT_EQ(cm.data.at("confd.toml"), "watch = true");
  EXPECT_EQ(cm.binary_data.at("logo.bin"), std::string("\x00\x01\x02", 3));

  ASSERT_EQ(parsed->secrets.size(), 1u);
  const Secret& secret = parsed->secrets[0];
  EXPECT_EQ(secret.type, "Opaque");
  EXPECT_EQ(secret.data.at("password"), "password");
  EXPECT_EQ(secret.data.at("user"), "root");

  ASSERT_EQ(parsed->pods.size(), 1u);
  const Pod& pod = parsed->pods[0];
  EXPECT_EQ(pod.metadata.name, "confd-nginx");
  EXPECT_EQ(pod.metadata.namespace_, "demo");
  EXPECT_EQ(pod.metadata.labels,
            (std::map<std::string, std::string>{{"app", "web"}, {"tier", "frontend"}}));
  EXPECT_EQ(pod.metadata.annotations.at("peapod.io/demo"), "true");
  EXPECT_EQ(pod.metadata.source.file, "confd-nginx.yaml");
  EXPECT_EQ(pod.metadata.source.line, LineOf(kConfdNginx, "  name: confd-nginx"));

  const PodSpec& spec = pod.spec;
  EXPECT_TRUE(spec.share_process_namespace);
  EXPECT_EQ(spec.termination_grace_period_seconds, 10);
  EXPECT_EQ(spec.restart_policy, "Always");
  EXPECT_EQ(spec.hostname, "web-1");
  ASSERT_EQ(spec.host_aliases.size(), 1u);
  EXPECT_EQ(spec.host_aliases[0].ip, "127.0.0.1");
  EXPECT_EQ(spec.host_aliases[0].hostnames, std::vector<std::string>{"etcd.local"});
  EXPECT_EQ(spec.dns_policy, "None");
  ASSERT_TRUE(spec.dns_config);
  EXPECT_EQ(spec.dns_config->nameservers, std::vector<std::string>{"10.0.0.10"});
  EXPECT_EQ(spec.dns_config->options.at(0).value, "2");
  ASSERT_TRUE(spec.security_context);
  EXPECT_EQ(spec.security_context->fs_group, 101);
  EXPECT_EQ(spec.security_context->supplemental_groups, (std::vector<int64_t>{5, 6}));
  EXPECT_EQ(spec.security_context->sysctls.at(0).name, "net.ipv4.ip_unprivileged_port_start");
  EXPECT_EQ(spec.security_context->sysctls.at(0).value, "0");

  ASSERT_EQ(spec.init_containers.size(), 2u);
  const Container& seed = spec.init_containers[0];
  EXPECT_FALSE(seed.IsSidecar());
  EXPECT_EQ(seed.command,
            (std::vector<std::string>{"sh", "-c", "etcdctl put /upstream 127.0.0.1:8081"}));
  EXPECT_EQ(seed.image_pull_policy, "IfNotPresent");
  const Container& confd = spec.init_containers[1];
  EXPECT_TRUE(confd.IsSidecar());
  EXPECT_EQ(confd.image_pull_policy, "Always");  // no tag
  EXPECT_EQ(confd.args, (std::vector<std::string>{"--watch", "/etc/confd"}));
  ASSERT_EQ(confd.env.size(), 4u);
  EXPECT_EQ(confd.env[0].field_ref->field_path, "metadata.name");
  EXPECT_EQ(confd.env[0].source.line, LineOf(kConfdNginx, "- name: POD_NAME"));
  EXPECT_EQ(confd.env[1].field_ref->field_path, "status.podIP");
  EXPECT_EQ(confd.env[2].secret_key_ref->name, "etcd-auth");
  EXPECT_EQ(confd.env[2].secret_key_ref->key, "password");
  EXPECT_EQ(confd.env[3].field_ref->field_path, "metadata.labels['app']");
  ASSERT_EQ(confd.env_from.size(), 1u);
  EXPECT_EQ(confd.env_from[0].prefix, "CONFD_");
  EXPECT_EQ(confd.env_from[0].config_map_ref->name, "nginx-template");
  ASSERT_EQ(confd.volume_mounts.size(), 2u);
  EXPECT_TRUE(confd.volume_mounts[1].read_only);
  ASSERT_TRUE(confd.startup_probe);
  EXPECT_EQ(std::get<ExecAction>(confd.startup_probe->handler).command.at(0), "test");
  EXPECT_EQ(confd.startup_probe->period_seconds, 1);
  EXPECT_EQ(confd.startup_probe->failure_threshold, 30);
  EXPECT_EQ(confd.startup_probe->timeout_seconds, 1);

  ASSERT_EQ(spec.containers.size(), 3u);
  const Container* etcd = Find(spec.containers, "etcd");
  ASSERT_NE(etcd, nullptr);
  EXPECT_EQ(etcd->ports.at(0).container_port, 2379);
  EXPECT_EQ(etcd->ports.at(0).name, "client");
  EXPECT_EQ(etcd->ports.at(0).protocol, "TCP");
  EXPECT_EQ(etcd->resources.requests.at("cpu").value, 100);
  EXPECT_EQ(etcd->resources.requests.at("memory").value, 64 * 1024 * 1024);
  EXPECT_EQ(etcd->resources.limits.at("cpu").value, 500);
  EXPECT_EQ(etcd->resources.limits.at("cpu").text, "0.5");
  EXPECT_EQ(etcd->resources.limits.at("memory").value, 128 * 1024 * 1024);
  EXPECT_EQ(std::get<GrpcAction>(etcd->liveness_probe->handler).port, 2379);

  const Container* nginx = Find(spec.containers, "nginx");
  ASSERT_NE(nginx, nullptr);
  EXPECT_EQ(nginx->image_pull_policy, "IfNotPresent");  // pinned by digest
  EXPECT_EQ(nginx->ports.at(0).host_port, 8080);
  ASSERT_TRUE(nginx->readiness_probe);
  const auto& http = std::get<HttpGetAction>(nginx->readiness_probe->handler);
  EXPECT_EQ(http.path, "/healthz");
  EXPECT_EQ(std::get<std::string>(http.port), "http");
  EXPECT_EQ(http.scheme, "HTTP");
  EXPECT_EQ(http.http_headers.at(0).value, "peapod");
  EXPECT_EQ(nginx->readiness_probe->initial_delay_seconds, 2);
  EXPECT_EQ(nginx->readiness_probe->success_threshold, 2);
  EXPECT_EQ(nginx->readiness_probe->period_seconds, 10);
  EXPECT_EQ(nginx->readiness_probe->failure_threshold, 3);
  EXPECT_EQ(std::get<int32_t>(std::get<TcpSocketAction>(nginx->liveness_probe->handler).port), 80);
  ASSERT_TRUE(nginx->lifecycle);
  EXPECT_EQ(std::get<ExecAction>(nginx->lifecycle->pre_stop).command.at(2), "quit");
  EXPECT_TRUE(std::holds_alternative<std::monostate>(nginx->lifecycle->post_start));
  ASSERT_TRUE(nginx->security_context);
  EXPECT_EQ(nginx->security_context->capabilities->add.at(0), "NET_BIND_SERVICE");
  EXPECT_EQ(nginx->security_context->capabilities->drop.at(0), "ALL");
  EXPECT_EQ(nginx->security_context->read_only_root_filesystem, true);
  EXPECT_EQ(nginx->security_context->run_as_user, 101);
  EXPECT_EQ(nginx->termination_message_path, "/dev/termination-log");

  const Container* backend = Find(spec.containers, "backend");
  ASSERT_NE(backend, nullptr);
  EXPECT_EQ(backend->image_pull_policy, "Always");  // :latest
  EXPECT_EQ(backend->command.at(3), "8081");
  EXPECT_EQ(backend->working_dir, "/srv");
  EXPECT_EQ(backend->env.at(0).value, "hello");
  EXPECT_FALSE(backend->env.at(1).value.has_value());
  EXPECT_EQ(backend->volume_mounts.at(0).sub_path, "site");

  ASSERT_EQ(spec.volumes.size(), 5u);
  const auto& empty_dir = std::get<EmptyDirVolume>(spec.volumes[0].source_);
  EXPECT_EQ(empty_dir.medium, "Memory");
  EXPECT_EQ(empty_dir.size_limit->value, 16 * 1024 * 1024);
  const auto& templates = std::get<ConfigMapVolume>(spec.volumes[1].source_);
  EXPECT_EQ(templates.name, "nginx-template");
  EXPECT_EQ(templates.default_mode, 0444);  // YAML 1.1 octal, as kubectl reads it
  EXPECT_EQ(templates.items.at(0).path, "templates/nginx.tmpl");
  EXPECT_EQ(templates.items.at(0).mode, 0400);
  const auto& pages = std::get<HostPathVolume>(spec.volumes[2].source_);
  EXPECT_EQ(pages.path, "/var/lib/peapod-demo");
  EXPECT_EQ(pages.type, "DirectoryOrCreate");
  const auto& creds = std::get<SecretVolume>(spec.volumes[3].source_);
  EXPECT_EQ(creds.secret_name, "etcd-auth");
  EXPECT_TRUE(creds.optional);
  EXPECT_EQ(creds.default_mode, 0644);
  // A volume without a source is an emptyDir, as the API server defaults it.
  EXPECT_TRUE(std::holds_alternative<EmptyDirVolume>(spec.volumes[4].source_));
}

struct Mistake {
  std::string name;
  std::string yaml;
  std::string marker;  // the issue's line is the line of this text
  std::string path;
  std::string message;  // the start of the message
};

const std::string kHead = R"(apiVersion: v1
kind: Pod
metadata:
  name: web
spec:
  containers:
  - name: app
    image: busybox
)";

std::vector<Mistake> Mistakes() {
  return {
      {"container port out of range",
       kHead + "  - name: side\n    image: busybox\n    ports:\n    - containerPort: 70000\n",
       "containerPort: 70000", "spec.containers[1].ports[0].containerPort", "must be 1-65535"},
      {"host port out of range",
       kHead + "    ports:\n    - containerPort: 80\n      hostPort: 65536\n", "hostPort: 65536",
       "spec.containers[0].ports[0].hostPort", "must be 0-65535"},
      {"quoted integer", kHead + "    ports:\n    - containerPort: \"80\"\n",
       "containerPort: \"80\"", "spec.containers[0].ports[0].containerPort", "must be an integer"},
      {"command as a string", kHead + "    command: sh -c 'sleep 1'\n",
       "command:", "spec.containers[0].command", "must be a list"},
      {"unquoted number as env value", kHead + "    env:\n    - name: PORT\n      value: 8080\n",
       "value: 8080", "spec.containers[0].env[0].value", "must be a string"},
      {"env name", kHead + "    env:\n    - name: 1BAD\n      value: x\n", "name: 1BAD",
       "spec.containers[0].env[0].name", "a valid environment variable name"},
      {"container name",
       "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\nspec:\n  containers:\n  - name: Web_1\n"
       "    image: busybox\n",
       "name: Web_1", "spec.containers[0].name", "a lowercase RFC 1123 label"},
      {"missing image",
       "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\nspec:\n  containers:\n  - name: app\n"
       "    command: [ok]\n",
       "- name: app", "spec.containers[0].image", "required"},
      {"no containers",
       "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\nspec:\n  containers: []\n",
       "containers: []", "spec.containers", "required"},
      {"pod name",
       "apiVersion: v1\nkind: Pod\nmetadata:\n  name: Bad_Name\nspec:\n  containers:\n"
       "  - name: app\n    image: busybox\n",
       "name: Bad_Name", "metadata.name", "a lowercase RFC 1123 subdomain"},
      {"name of the wrong type",
       "apiVersion: v1\nkind: Pod\nmetadata:\n  name: 123\nspec:\n  containers:\n  - name: app\n"
       "    image: busybox\n",
       "name: 123", "metadata.name", "must be a string"},
      {"namespace",
       "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\n  namespace: Prod\nspec:\n"
       "  containers:\n  - name: app\n    image: busybox\n",
       "namespace: Prod", "metadata.namespace", "a lowercase RFC 1123 label"},
      {"duplicate container name",
       "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\nspec:\n  initContainers:\n  - name: "
       "app\n"
       "    image: busybox\n  containers:\n  - name: app\n    image: busybox\n",
       "  containers:\n  - name: app", "spec.containers[0].name",
       "duplicate container name \"app\" (first at line 7)"},
      {"duplicate container port",
       kHead + "    ports:\n    - containerPort: 80\n    - containerPort: 80\n",
       "    - containerPort: 80\n    - containerPort: 80",
       "spec.containers[0].ports[1].containerPort", "duplicate port 80/TCP in this container"},
      {"duplicate host port",
       kHead + "    ports:\n    - {containerPort: 80, hostPort: 8080}\n  - name: b\n    image: "
               "busybox\n"
               "    ports:\n    - {containerPort: 81, hostPort: 8080}\n",
       "- {containerPort: 81", "spec.containers[1].ports[0].hostPort",
       "duplicate host port 8080/TCP (first at line 10)"},
      {"mount of a missing volume",
       kHead + "    volumeMounts:\n    - name: data\n      mountPath: /data\n", "name: data",
       "spec.containers[0].volumeMounts[0].name", "no volume named \"data\""},
      {"relative mount path",
       kHead + "    volumeMounts:\n    - name: data\n      mountPath: data\n  volumes:\n  - name: "
               "data\n",
       "mountPath: data", "spec.containers[0].volumeMounts[0].mountPath",
       "must be an absolute path"},
      {"sub path climbing out",
       kHead + "    volumeMounts:\n    - name: data\n      mountPath: /d\n      subPath: ../etc\n"
               "  volumes:\n  - name: data\n",
       "subPath: ../etc", "spec.containers[0].volumeMounts[0].subPath", "must not contain '..'"},
      {"restart policy", kHead + "  restartPolicy: Sometimes\n", "restartPolicy: Sometimes",
       "spec.restartPolicy", "must be one of \"Always\", \"OnFailure\", \"Never\""},
      {"liveness success threshold",
       kHead + "    livenessProbe:\n      exec: {command: [ok]}\n      successThreshold: 2\n",
       "successThreshold: 2", "spec.containers[0].livenessProbe.successThreshold", "must be 1"},
      {"two probe handlers",
       kHead + "    readinessProbe:\n      exec: {command: [ok]}\n      tcpSocket: {port: 80}\n",
       "exec: {command: [ok]}", "spec.containers[0].readinessProbe",
       "may not specify more than 1 handler type"},
      {"no probe handler", kHead + "    readinessProbe:\n      periodSeconds: 5\n",
       "periodSeconds: 5", "spec.containers[0].readinessProbe", "must specify a handler type"},
      {"negative probe period",
       kHead + "    readinessProbe:\n      exec: {command: [ok]}\n      periodSeconds: -1\n",
       "periodSeconds: -1", "spec.containers[0].readinessProbe.periodSeconds",
       "must be greater than or equal to 0"},
      {"probe port by an unknown name", kHead + "    readinessProbe:\n      httpGet: {port: web}\n",
       "httpGet: {port: web}", "spec.containers[0].readinessProbe.httpGet.port",
       "no port named \"web\" in this container"},
      {"probe on a plain init container",
       "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\nspec:\n  initContainers:\n  - name: "
       "init\n"
       "    image: busybox\n    livenessProbe:\n      exec: {command: [ok]}\n  containers:\n"
       "  - name: app\n    image: busybox\n",
       "exec: {command: [ok]}", "spec.initContainers[0].livenessProbe",
       "may not be set for init containers without restartPolicy=Always"},
      {"two env sources",
       kHead + "    env:\n    - name: X\n      valueFrom:\n        fieldRef: {fieldPath: "
               "metadata.name}\n"
               "        configMapKeyRef: {name: c, key: k}\n",
       "fieldRef: {fieldPath", "spec.containers[0].env[0].valueFrom",
       "may not have more than one field specified at a time"},
      {"unsupported field path",
       kHead + "    env:\n    - name: X\n      valueFrom:\n        fieldRef: {fieldPath: "
               "spec.nodeSelector}\n",
       "fieldRef: {fieldPath", "spec.containers[0].env[0].valueFrom.fieldRef.fieldPath",
       "unsupported field path \"spec.nodeSelector\""},
      {"bad quantity", kHead + "    resources:\n      limits: {memory: 12xyz}\n",
       "limits:", "spec.containers[0].resources.limits.memory", "quantities must match"},
      {"request above limit",
       kHead + "    resources:\n      requests: {cpu: \"2\"}\n      limits: {cpu: 500m}\n",
       "requests:", "spec.containers[0].resources.requests.cpu",
       "must be less than or equal to cpu limit of 500m"},
      {"non-boolean", kHead + "    tty: sometimes\n", "tty: sometimes", "spec.containers[0].tty",
       "must be a boolean"},
      {"volume file mode",
       kHead + "  volumes:\n  - name: c\n    configMap: {name: c, defaultMode: 1000}\n",
       "configMap:", "spec.volumes[0].configMap.defaultMode",
       "must be a number between 0 and 0777"},
      {"two volume sources",
       kHead + "  volumes:\n  - name: c\n    emptyDir: {}\n    hostPath: {path: /tmp}\n",
       "- name: c", "spec.volumes[0]", "may not specify more than 1 volume type"},
      {"api version",
       "apiVersion: v2\nkind: Pod\nmetadata:\n  name: web\nspec:\n  containers:\n"
       "  - name: app\n    image: busybox\n",
       "apiVersion: v2", "apiVersion", "must be \"v1\""},
      {"configmap key",
       "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  bad key: x\n", "bad key",
       "data.bad key", "a valid config key"},
      {"secret not base64",
       "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\ndata:\n  password: not*base64\n",
       "password:", "data.password", "must be valid base64"},
      {"value and valueFrom",
       kHead + "    env:\n    - name: X\n      value: a\n      valueFrom:\n        fieldRef: "
               "{fieldPath: "
               "metadata.name}\n",
       "fieldRef: {fieldPath", "spec.containers[0].env[0].valueFrom",
       "may not be specified when `value` is not empty"},
      {"host port differs on the host network",
       kHead + "    ports:\n    - {containerPort: 80, hostPort: 8080}\n  hostNetwork: true\n",
       "- {containerPort: 80", "spec.containers[0].ports[0].hostPort",
       "must match `containerPort` when `hostNetwork` is true"},
      {"init container restart policy",
       "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\nspec:\n  initContainers:\n  - name: "
       "init\n"
       "    image: busybox\n    restartPolicy: OnFailure\n  containers:\n  - name: app\n"
       "    image: busybox\n",
       "restartPolicy: OnFailure", "spec.initContainers[0].restartPolicy",
       "must be one of \"Always\""},
      {"key in data and binaryData",
       "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  k: v\nbinaryData:\n  k: "
       "AA==\n",
       "  k: AA==", "binaryData.k", "duplicate of key present in data"},
      {"label value",
       "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\n  labels:\n    app: -web-\n"
       "spec:\n  containers:\n  - name: app\n    image: busybox\n",
       "app: -web-", "metadata.labels.app", "a valid label must be an empty string"},
      {"duplicate field", kHead + "    image: nginx\n", "image: nginx", "spec.containers[0].image",
       "duplicate field"},
      {"yaml syntax", kHead + "    command: [sh, -c\n  volumes: x\n", "  volumes: x", "",
       "invalid YAML"},
      {"unknown stop signal", kHead + "    lifecycle:\n      stopSignal: SIGRTMIN+99\n",
       "stopSignal: SIGRTMIN+99", "spec.containers[0].lifecycle.stopSignal",
       "unknown signal \"SIGRTMIN+99\""},
      {"image volume without a reference",
       kHead + "  volumes:\n  - name: tools\n    image:\n      pullPolicy: Always\n",
       "pullPolicy: Always", "spec.volumes[0].image.reference", "required"},
      {"image volume pull policy",
       kHead + "  volumes:\n  - name: tools\n    image: {reference: tools:1, pullPolicy: Often}\n",
       "pullPolicy: Often", "spec.volumes[0].image.pullPolicy", "must be one of"},
      {"container restartPolicy", kHead + "    restartPolicy: Sometimes\n",
       "restartPolicy: Sometimes", "spec.containers[0].restartPolicy",
       "must be one of \"Always\", \"OnFailure\", \"Never\""},
      {"restart rules without restartPolicy",
       kHead + "    restartPolicyRules:\n    - action: Restart\n      exitCodes: {operator: In, "
               "values: [42]}\n",
       "- action: Restart", "spec.containers[0].restartPolicyRules",
       "may only be set together with the container's restartPolicy"},
      {"restart rule action",
       kHead + "    restartPolicy: Never\n    restartPolicyRules:\n    - action: Stop\n"
               "      exitCodes: {operator: In, values: [42]}\n",
       "action: Stop", "spec.containers[0].restartPolicyRules[0].action", "must be one of"},
      {"restart rule operator",
       kHead + "    restartPolicy: Never\n    restartPolicyRules:\n    - action: Restart\n"
               "      exitCodes: {operator: Above, values: [42]}\n",
       "operator: Above", "spec.containers[0].restartPolicyRules[0].exitCodes.operator",
       "must be one of"},
      {"restart rule duplicate exit code",
       kHead + "    restartPolicy: Never\n    restartPolicyRules:\n    - action: Restart\n"
               "      exitCodes:\n        operator: In\n        values: [42, 42]\n",
       "values: [42, 42]", "spec.containers[0].restartPolicyRules[0].exitCodes.values[1]",
       "duplicate value 42"},
  };
}

TEST(Manifest, ImageVolumesAndContainerRestartRules) {
  auto parsed = ParseManifests(kHead + R"(    restartPolicy: Never
    restartPolicyRules:
    - action: Restart
      exitCodes: {operator: In, values: [42, 43]}
    volumeMounts:
    - {name: tools, mountPath: /tools, subPath: bin}
  volumes:
  - name: tools
    image:
      reference: registry.example/tools:1.0
)",
                               "pod.yaml");
  ASSERT_TRUE(parsed) << parsed.error().message;
  ASSERT_EQ(parsed->pods.size(), 1u);
  Pod pod = parsed->pods[0];
  ApplyDefaults(pod);
  ASSERT_EQ(pod.spec.volumes.size(), 1u);
  const auto* image = std::get_if<ImageVolume>(&pod.spec.volumes[0].source_);
  ASSERT_NE(image, nullptr);
  EXPECT_EQ(image->reference, "registry.example/tools:1.0");
  EXPECT_EQ(image->pull_policy, "IfNotPresent");  // defaulted as a container's image
  const Container& c = pod.spec.containers[0];
  EXPECT_EQ(c.restart_policy, std::optional<std::string>("Never"));
  EXPECT_FALSE(c.IsSidecar());
  ASSERT_EQ(c.restart_policy_rules.size(), 1u);
  EXPECT_TRUE(c.restart_policy_rules[0].Matches(42));
  EXPECT_FALSE(c.restart_policy_rules[0].Matches(1));
  ContainerRestartRule not_in{"Restart", "NotIn", {0}};
  EXPECT_TRUE(not_in.Matches(1));
  EXPECT_FALSE(not_in.Matches(0));
  // Rules take part in the spec hash: a change replaces the pod.
  Pod changed = pod;
  changed.spec.containers[0].restart_policy_rules[0].exit_codes_values = {42};
  EXPECT_NE(SpecHash(pod), SpecHash(changed));
}

TEST(Manifest, EachMistakeGetsItsMessageAndLine) {
  for (const Mistake& m : Mistakes()) {
    SCOPED_TRACE(m.name);
    std::string errors = ErrorsOf(m.yaml);
    std::string expected = "pod.yaml:" + std::to_string(LineOf(m.yaml, m.marker)) + ": ";
    if (!m.path.empty()) expected += m.path + ": ";
    expected += m.message;
    EXPECT_NE(errors.find(expected), std::string::npos) << "expected: " << expected << "\ngot:\n"
                                                        << errors;
    // One mistake, one issue: nothing else in these manifests is wrong.
    EXPECT_EQ(std::count(errors.begin(), errors.end(), '\n'), 0) << errors;
  }
}

TEST(Manifest, ReportsEveryIssueNotOnlyTheFirst) {
  std::string yaml = kHead +
                     "    ports:\n    - containerPort: 0\n    volumeMounts:\n    - name: nope\n"
                     "      mountPath: /x\n  restartPolicy: Maybe\n";
  std::string errors = ErrorsOf(yaml);
  EXPECT_EQ(std::count(errors.begin(), errors.end(), '\n'), 2) << errors;
  EXPECT_NE(errors.find("containerPort: must be 1-65535"), std::string::npos);
  EXPECT_NE(errors.find("volumeMounts[0].name: no volume named"), std::string::npos);
  EXPECT_NE(errors.find("spec.restartPolicy: must be one of"), std::string::npos);
}

const char* const kUnsupported = R"(apiVersion: v1
kind: Pod
metadata:
  name: web
  generateName: web-
spec:
  nodeSelector:
    disk: ssd
  serviceAccountName: robot
  tolerations:
  - {key: x, operator: Exists}
  containers:
  - name: app
    image: busybox
    resources:
      requests: {ephemeral-storage: 1Gi}
      limits: {cpu: 1}
  volumes:
  - name: claim
    persistentVolumeClaim: {claimName: data}
---
apiVersion: batch/v1
kind: CronJob
metadata:
  name: web
)";

std::vector<std::string> WarningsOf(const ManifestSet& set) {
  std::vector<std::string> out;
  for (const ManifestIssue& w : set.warnings) out.push_back(w.ToString());
  return out;
}

TEST(Manifest, WhatPeapodWillNotDoIsRefusedWithItsLine) {
  std::string errors = ErrorsOf(kUnsupported);
  const std::string y = kUnsupported;
  auto at = [&](const std::string& marker, const std::string& rest) {
    return "pod.yaml:" + std::to_string(LineOf(y, marker)) + ": " + rest;
  };
  EXPECT_NE(errors.find(at("persistentVolumeClaim",
                           "spec.volumes[0].persistentVolumeClaim: not supported by peapod")),
            std::string::npos)
      << errors;
  EXPECT_NE(errors.find(at("kind: CronJob", "kind: \"CronJob\" is not supported by peapod")),
            std::string::npos)
      << errors;
  // The harmless ones are not among the errors.
  EXPECT_EQ(errors.find("nodeSelector"), std::string::npos) << errors;
  EXPECT_EQ(std::count(errors.begin(), errors.end(), '\n'), 1) << errors;
}

TEST(Manifest, FieldsHarmlessToIgnoreOnlyWarn) {
  std::string yaml = kUnsupported;
  yaml = yaml.substr(0, yaml.find("  volumes:\n"));
  auto parsed = ParseManifests(yaml, "pod.yaml");
  ASSERT_TRUE(parsed) << parsed.error().message;
  std::vector<std::string> warnings = WarningsOf(*parsed);
  auto at = [&](const std::string& marker, const std::string& rest) {
    return "pod.yaml:" + std::to_string(LineOf(yaml, marker)) + ": " + rest;
  };
  std::vector<std::string> expected = {
      at("generateName", "metadata.generateName: not supported by peapod, ignored"),
      at("nodeSelector", "spec.nodeSelector: not supported by peapod, ignored"),
      at("serviceAccountName", "spec.serviceAccountName: not supported by peapod, ignored"),
      at("tolerations", "spec.tolerations: not supported by peapod, ignored"),
      at("ephemeral-storage",
         "spec.containers[0].resources.requests.ephemeral-storage: not supported by peapod, "
         "ignored"),
  };
  for (const std::string& e : expected) {
    EXPECT_NE(std::find(warnings.begin(), warnings.end(), e), warnings.end()) << e;
  }
  EXPECT_EQ(warnings.size(), expected.size());
  EXPECT_EQ(parsed->pods[0].spec.containers[0].resources.limits.at("cpu").value, 1000);
}

TEST(Manifest, IgnoreUnsupportedWarnsAndMountsAnEmptyDirectoryForADroppedVolume) {
  auto parsed = ParseManifests(kUnsupported, "pod.yaml", ParseOptions{.ignore_unsupported = true});
  ASSERT_TRUE(parsed) << parsed.error().message;
  std::vector<std::string> warnings = WarningsOf(*parsed);
  const std::string y = kUnsupported;
  std::string volume = "pod.yaml:" + std::to_string(LineOf(y, "persistentVolumeClaim")) +
                       ": spec.volumes[0].persistentVolumeClaim: not supported by peapod, "
                       "ignored: an empty directory is mounted in its place";
  std::string kind = "pod.yaml:" + std::to_string(LineOf(y, "kind: CronJob")) +
                     ": kind: \"CronJob\" is not supported by peapod, ignored";
  EXPECT_NE(std::find(warnings.begin(), warnings.end(), volume), warnings.end()) << volume;
  EXPECT_NE(std::find(warnings.begin(), warnings.end(), kind), warnings.end()) << kind;
  EXPECT_EQ(warnings.size(), 7u);
  ASSERT_EQ(parsed->pods.size(), 1u);
  // Never a pod waiting forever for a volume nobody will make.
  EXPECT_TRUE(std::holds_alternative<EmptyDirVolume>(parsed->pods[0].spec.volumes[0].source_));
}

TEST(Manifest, IgnoreUnsupportedNeverCoversIsolation) {
  std::string yaml = R"(apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  containers:
  - name: app
    image: busybox
    securityContext:
      procMount: Unmasked
)";
  auto parsed = ParseManifests(yaml, "pod.yaml", ParseOptions{.ignore_unsupported = true});
  ASSERT_FALSE(parsed);
  EXPECT_NE(parsed.error().message.find("procMount"), std::string::npos);
}

TEST(Manifest, HarmlessToIgnoreNamesSchedulingAndServiceAccountFields) {
  EXPECT_TRUE(HarmlessToIgnore("spec.affinity"));
  EXPECT_TRUE(HarmlessToIgnore("spec.containers.resizePolicy"));
  EXPECT_TRUE(HarmlessToIgnore("spec.containers.resources.requests.ephemeral-storage"));
  EXPECT_TRUE(HarmlessToIgnore("spec.initContainers.resources.limits.vendor.example/gpu"));
  EXPECT_FALSE(HarmlessToIgnore("spec.containers.resources.limits.ephemeral-storage"));
  EXPECT_FALSE(HarmlessToIgnore("spec.readinessGates"));
  EXPECT_FALSE(HarmlessToIgnore("spec.volumes.nfs"));
  EXPECT_FALSE(HarmlessToIgnore("spec.schedulingGates"));
}

TEST(Manifest, UnsupportedFieldsFailWithStrict) {
  std::string errors = ErrorsOf(kUnsupported, ParseOptions{.strict = true});
  EXPECT_NE(errors.find("pod.yaml:" + std::to_string(LineOf(kUnsupported, "nodeSelector")) +
                        ": spec.nodeSelector: not supported by peapod"),
            std::string::npos)
      << errors;
  EXPECT_NE(errors.find(": kind: \"CronJob\" is not supported by peapod"), std::string::npos);
  EXPECT_EQ(std::count(errors.begin(), errors.end(), '\n'), 6) << errors;
}

TEST(Manifest, ServerOwnedFieldsAreIgnoredSilently) {
  std::string yaml = R"(apiVersion: v1
kind: Pod
metadata:
  name: web
  uid: 7d2b1c0e-0000-4000-8000-000000000000
  resourceVersion: "123"
  creationTimestamp: "2026-01-01T00:00:00Z"
spec:
  containers:
  - name: app
    image: busybox
status:
  phase: Running
)";
  auto parsed = ParseManifests(yaml, "pod.yaml", ParseOptions{.strict = true});
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_TRUE(parsed->warnings.empty());
  EXPECT_TRUE(parsed->pods[0].metadata.uid.empty());  // peapod assigns its own
}

TEST(Manifest, ListsAndEmptyDocumentsAndDuplicates) {
  std::string list = R"(---
# only a comment
---
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: ConfigMap
  metadata: {name: a}
  data: {k: v}
- apiVersion: v1
  kind: Pod
  metadata: {name: p}
  spec:
    containers: [{name: c, image: busybox}]
)";
  auto parsed = ParseManifests(list, "list.yaml");
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ(parsed->config_maps.size(), 1u);
  ASSERT_EQ(parsed->pods.size(), 1u);
  EXPECT_EQ(parsed->pods[0].metadata.namespace_, "default");

  std::string errors = ErrorsOf(list +
                                "---\napiVersion: v1\nkind: Pod\nmetadata: {name: p}\n"
                                "spec: {containers: [{name: c, image: busybox}]}\n");
  EXPECT_NE(errors.find("pod.yaml:19: metadata.name: pod \"default/p\" is defined twice (first at "
                        "line 13)"),
            std::string::npos)
      << errors;

  std::string nested = ErrorsOf(
      "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Pod\n"
      "  metadata: {name: p}\n  spec:\n    containers: [{name: c}]\n");
  EXPECT_NE(nested.find("pod.yaml:8: items[0].spec.containers[0].image: required"),
            std::string::npos)
      << nested;
}

TEST(Manifest, Quantities) {
  struct Case {
    std::string text;
    bool cpu;
    int64_t value;
  };
  for (const Case& c : std::vector<Case>{{"100m", true, 100},
                                         {"0.5", true, 500},
                                         {"1", true, 1000},
                                         {"1.5", true, 1500},
                                         {"2", false, 2},
                                         {"128Mi", false, 134217728},
                                         {"1G", false, 1000000000},
                                         {"1Gi", false, 1073741824},
                                         {"1e3", false, 1000},
                                         {"1E3", false, 1000},
                                         {"1k", false, 1000},
                                         {"1Ki", false, 1024},
                                         {"1E", false, 1000000000000000000},
                                         {"100m", false, 1},  // a tenth of a byte rounds up
                                         {"1u", true, 1},     // rounds up to one millicore
                                         {".5", true, 500},
                                         {"5.", false, 5},
                                         {"+3", false, 3},
                                         {"-1", false, -1},
                                         {"0", true, 0}}) {
    auto q = ParseQuantity(c.text, c.cpu);
    ASSERT_TRUE(q) << c.text;
    EXPECT_EQ(q->value, c.value) << c.text;
    EXPECT_EQ(q->text, c.text);
  }
  for (const std::string bad : {"", "m", "1x", "12xyz", "1 Gi", "1.2.3", "Mi", "1e", "1ee3", "0x10",
                                "1Gi1", "--1", "99999999999Ei"}) {
    EXPECT_FALSE(ParseQuantity(bad, false)) << bad;
  }
}

TEST(Manifest, DefaultsAsTheApiServer) {
  Pod pod;
  pod.metadata.name = "p";
  pod.metadata.namespace_ = "";
  pod.spec.restart_policy = "";
  pod.spec.dns_policy = "";
  Container c;
  c.name = "a";
  c.image = "localhost:5000/busybox";
  c.termination_message_path = "";
  c.ports.push_back(ContainerPort{.container_port = 80, .protocol = ""});
  Probe probe;
  probe.handler = HttpGetAction{.path = "", .port = int32_t{80}, .scheme = ""};
  probe.timeout_seconds = 0;
  probe.period_seconds = 0;
  probe.success_threshold = 0;
  probe.failure_threshold = 0;
  c.readiness_probe = probe;
  pod.spec.containers.push_back(c);
  Container tagged = c;
  tagged.name = "b";
  tagged.image = "localhost:5000/busybox:1.36";
  tagged.readiness_probe.reset();
  pod.spec.containers.push_back(tagged);
  pod.spec.volumes.push_back(Volume{.name = "v", .source_ = ConfigMapVolume{.name = "cm"}});

  ApplyDefaults(pod);
  EXPECT_EQ(pod.metadata.namespace_, "default");
  EXPECT_EQ(pod.spec.restart_policy, "Always");
  EXPECT_EQ(pod.spec.dns_policy, "ClusterFirst");
  EXPECT_EQ(pod.spec.termination_grace_period_seconds, 30);
  const Container& a = pod.spec.containers[0];
  EXPECT_EQ(a.image_pull_policy, "Always");  // the registry port is not a tag
  EXPECT_EQ(pod.spec.containers[1].image_pull_policy, "IfNotPresent");
  EXPECT_EQ(a.ports[0].protocol, "TCP");
  EXPECT_EQ(a.termination_message_path, "/dev/termination-log");
  EXPECT_EQ(a.readiness_probe->timeout_seconds, 1);
  EXPECT_EQ(a.readiness_probe->period_seconds, 10);
  EXPECT_EQ(a.readiness_probe->success_threshold, 1);
  EXPECT_EQ(a.readiness_probe->failure_threshold, 3);
  EXPECT_EQ(std::get<HttpGetAction>(a.readiness_probe->handler).path, "/");
  EXPECT_EQ(std::get<HttpGetAction>(a.readiness_probe->handler).scheme, "HTTP");
  EXPECT_EQ(std::get<ConfigMapVolume>(pod.spec.volumes[0].source_).default_mode, 0644);

  // An explicit policy is kept.
  Pod pinned = pod;
  pinned.spec.containers[0].image_pull_policy = "Never";
  ApplyDefaults(pinned);
  EXPECT_EQ(pinned.spec.containers[0].image_pull_policy, "Never");
}

TEST(Manifest, SpecHashIgnoresFormattingButNotContent) {
  std::string block = R"(apiVersion: v1
kind: Pod
metadata:
  name: web
  labels: {app: web}
spec:
  containers:
  - name: app
    image: nginx:1.25
    ports:
    - containerPort: 80
    resources:
      limits:
        cpu: 500m
)";
  // The same pod: flow style, other key order, comments, defaults written out, 0.5 for 500m.
  std::string flow = R"(# same pod
kind: Pod
apiVersion: v1
spec:
  restartPolicy: Always
  terminationGracePeriodSeconds: 30
  containers: [{image: "nginx:1.25", name: app, imagePullPolicy: IfNotPresent,
                resources: {limits: {cpu: 0.5}},
                ports: [{protocol: TCP, containerPort: 80}]}]
metadata: {labels: {app: web}, name: web, namespace: default}
)";
  auto a = ParseManifests(block, "a.yaml");
  auto b = ParseManifests(flow, "b.yaml");
  ASSERT_TRUE(a) << a.error().message;
  ASSERT_TRUE(b) << b.error().message;
  EXPECT_EQ(SpecHash(a->pods[0]), SpecHash(b->pods[0]));
  EXPECT_FALSE(SpecHash(a->pods[0]).empty());

  std::string changed = block;
  changed.replace(changed.find("nginx:1.25"), 10, "nginx:1.26");
  auto c = ParseManifests(changed, "a.yaml");
  ASSERT_TRUE(c);
  EXPECT_NE(SpecHash(a->pods[0]), SpecHash(c->pods[0]));

  Pod relabeled = a->pods[0];
  relabeled.metadata.labels["app"] = "other";
  EXPECT_NE(SpecHash(a->pods[0]), SpecHash(relabeled));
}

TEST(Manifest, ResizePolicyAndPodLevelResourcesAreReadAndOnlyResourcesLeaveTheResizeHash) {
  std::string yaml = R"(apiVersion: v1
kind: Pod
metadata:
  name: web
spec:
  resources:
    limits: {cpu: "1", memory: 256Mi}
  containers:
  - name: app
    image: nginx:1.25
    resources:
      limits: {cpu: 500m, memory: 128Mi}
    resizePolicy:
    - {resourceName: memory, restartPolicy: RestartContainer}
)";
  auto parsed = ParseManifests(yaml, "a.yaml");
  ASSERT_TRUE(parsed) << parsed.error().message;
  const Pod& pod = parsed->pods[0];
  ASSERT_EQ(pod.spec.containers[0].resize_policy.size(), 1u);
  EXPECT_EQ(pod.spec.containers[0].resize_policy[0].resource_name, "memory");
  EXPECT_EQ(pod.spec.containers[0].resize_policy[0].restart_policy, "RestartContainer");
  EXPECT_EQ(pod.spec.resources.limits.at("memory").value, 256 << 20);
  EXPECT_EQ(pod.spec.resources.requests.at("cpu").value, 1000);  // defaulted from the limit

  Pod resized = pod;
  resized.spec.containers[0].resources.limits["memory"] = *ParseQuantity("192Mi", false);
  EXPECT_NE(SpecHash(pod), SpecHash(resized));
  EXPECT_NE(SpecHashWithoutMetadata(pod), SpecHashWithoutMetadata(resized));
  EXPECT_EQ(SpecHashWithoutResources(pod), SpecHashWithoutResources(resized));
  Pod repolicied = pod;
  repolicied.spec.containers[0].resize_policy.clear();
  EXPECT_NE(SpecHashWithoutResources(pod), SpecHashWithoutResources(repolicied));
  Pod pod_level = pod;
  pod_level.spec.resources.limits["memory"] = *ParseQuantity("512Mi", false);
  EXPECT_NE(SpecHashWithoutResources(pod), SpecHashWithoutResources(pod_level));

  // resizePolicy is not for plain init containers, and names each resource once.
  for (const char* bad :
       {"  initContainers:\n  - name: init\n    image: busybox\n"
        "    resizePolicy: [{resourceName: cpu, restartPolicy: NotRequired}]\n",
        "  containers:\n  - name: twice\n    image: busybox\n"
        "    resizePolicy: [{resourceName: cpu, restartPolicy: NotRequired},\n"
        "                   {resourceName: cpu, restartPolicy: RestartContainer}]\n"}) {
    std::string text = std::string("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n") +
                       bad +
                       (std::string(bad).find("initContainers") != std::string::npos
                            ? "  containers: [{name: c, image: busybox}]\n"
                            : "");
    auto refused = ParseManifests(text, "p.yaml");
    EXPECT_FALSE(refused) << text;
    if (!refused) continue;
    EXPECT_NE(refused.error().message.find("resizePolicy"), std::string::npos)
        << refused.error().message;
  }
}

TEST(Manifest, YamlTypingFollowsKubectl) {
  // Unquoted yes/on are booleans and 0644 is octal (YAML 1.1, as kubectl reads manifests);
  // a quoted "true" is a string.
  std::string yaml = kHead +
                     "    tty: yes\n    stdin: on\n    env:\n    - {name: A, value: \"true\"}\n"
                     "  volumes:\n  - name: v\n    secret: {secretName: s, defaultMode: 0600}\n";
  auto parsed = ParseManifests(yaml, "pod.yaml");
  ASSERT_TRUE(parsed) << parsed.error().message;
  const Container& c = parsed->pods[0].spec.containers[0];
  EXPECT_TRUE(c.tty);
  EXPECT_TRUE(c.stdin);
  EXPECT_EQ(c.env[0].value, "true");
  EXPECT_EQ(std::get<SecretVolume>(parsed->pods[0].spec.volumes[0].source_).default_mode, 0600);

  std::string label = ErrorsOf(
      "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\n  labels:\n"
      "    version: 1.0\nspec:\n  containers: [{name: a, image: b}]\n");
  EXPECT_NE(label.find("pod.yaml:6: metadata.labels.version: must be a string"), std::string::npos)
      << label;
}

TEST(Manifest, MergeKeysWorkAsInKubectl) {
  std::string yaml = R"(apiVersion: v1
kind: Pod
metadata:
  name: web
spec:
  containers:
  - &base
    name: a
    image: busybox:1.36
    command: [sleep, "3600"]
    env: [{name: MODE, value: base}]
  - <<: *base
    name: b
    env: [{name: MODE, value: b}]
  - <<: [{name: c, workingDir: /c}, *base]
)";
  auto parsed = ParseManifests(yaml, "pod.yaml", ParseOptions{.strict = true});
  ASSERT_TRUE(parsed) << parsed.error().message;
  const auto& containers = parsed->pods[0].spec.containers;
  ASSERT_EQ(containers.size(), 3u);
  EXPECT_EQ(containers[1].name, "b");
  EXPECT_EQ(containers[1].image, "busybox:1.36");
  EXPECT_EQ(containers[1].command.at(1), "3600");
  EXPECT_EQ(containers[1].env.at(0).value, "b");
  EXPECT_EQ(containers[2].name, "c");  // the first merged map wins
  EXPECT_EQ(containers[2].working_dir, "/c");
  EXPECT_EQ(containers[2].image, "busybox:1.36");

  std::string bad = ErrorsOf(kHead + "  - <<: 3\n    name: b\n    image: busybox\n");
  EXPECT_NE(bad.find("pod.yaml:9: invalid YAML at column 9: a merge key (<<) needs a map or a "
                     "list of maps"),
            std::string::npos)
      << bad;
}

// The shipped examples are what users copy first: they must use only what peapod supports.
TEST(Manifest, EveryShippedExampleParsesStrictlyWithoutWarnings) {
  std::string dir = std::string(PEAPOD_SOURCE_DIR) + "/manifests/examples";
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() != ".yaml") continue;
    SCOPED_TRACE(entry.path().string());
    auto text = ReadWholeFile(entry.path().string());
    ASSERT_TRUE(text);
    auto parsed =
        ParseManifests(*text, entry.path().filename().string(), ParseOptions{.strict = true});
    ASSERT_TRUE(parsed) << parsed.error().message;
    EXPECT_FALSE(parsed->pods.empty() && parsed->workloads.empty());
    EXPECT_TRUE(parsed->warnings.empty());
    ++files;
  }
  EXPECT_GT(files, 0);
}

// Aliases of aliases ("billion laughs"): a 10^9-node tree from a few lines is refused, not walked.
TEST(Manifest, AliasBombIsRefused) {
  std::string yaml = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i <= 9; ++i) {
    std::string prev = "*a" + std::to_string(i - 1);
    yaml += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [";
    for (int j = 0; j < 10; ++j) yaml += (j ? ", " : "") + prev;
    yaml += "]\n";
  }
  std::string errors = ErrorsOf(yaml);
  // Refused at the alias that passes the budget (a5, line 6), while the text is read.
  EXPECT_NE(errors.find("pod.yaml:6: invalid YAML at column 45: too many nodes through aliases "
                        "(more than 1000000)"),
            std::string::npos)
      << errors;
}

TEST(Manifest, StopSignalTakesAnyNameKillKnows) {
  auto parsed = ParseManifests(kHead + "    lifecycle:\n      stopSignal: SIGRTMIN+3\n", "x.yaml");
  ASSERT_TRUE(parsed) << parsed.error().message;
  const Container& c = parsed->pods.at(0).spec.containers.at(0);
  ASSERT_TRUE(c.lifecycle);
  EXPECT_EQ(c.lifecycle->stop_signal, "SIGRTMIN+3");
}

TEST(Manifest, HostileInputIsRefusedWithoutCrashing) {
  for (const std::string& text :
       {std::string(20000, '[') + std::string(20000, ']'), std::string("kind: Pod\nspec: 3\n"),
        std::string("- a\n- b\n"), std::string("kind: [Pod]\n"), std::string("\t\x01\xff: ["),
        kHead + "    env: {name: x}\n    ports: [1, 2]\n    volumeMounts: [[a]]\n",
        kHead + "  volumes: [x, {name: a, configMap: 3}, null]\n  securityContext: [1]\n"}) {
    auto parsed = ParseManifests(text, "x.yaml");
    ASSERT_FALSE(parsed) << text.substr(0, 80);
    EXPECT_EQ(parsed.error().code, ErrorCode::kInvalidArgument);
    EXPECT_TRUE(parsed.error().message.starts_with("x.yaml:")) << parsed.error().message;
  }
}

}  // namespace
}  // namespace peapod::agent::controller
