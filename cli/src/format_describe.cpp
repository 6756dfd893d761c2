// `peapod describe pod`: the sections and labels of `kubectl describe pod`.
#include <ctime>
#include <sstream>

#include "peapod/cli/format.h"

namespace peapod::cli {
namespace {

using nlohmann::json;
constexpr int64_t kNanos = 1'000'000'000;

const json& Field(const json& obj, const char* key) {
  static const json kNull;
  if (!obj.is_object()) return kNull;
  auto it = obj.find(key);
  return it == obj.end() ? kNull : *it;
}

const json& Array(const json& obj, const char* key) {
  static const json kEmpty = json::array();
  const json& v = Field(obj, key);
  return v.is_array() ? v : kEmpty;
}

std::string Str(const json& obj, const char* key) {
  const json& v = Field(obj, key);
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number() || v.is_boolean()) return v.dump();
  return "";
}

// A value that should be a string, printed as what it is when it is not.
std::string Text(const json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

std::string OrNone(const std::string& s) { return s.empty() ? "<none>" : s; }

// "Tue, 24 Nov 2026 14:54:21 +0000", as kubectl prints times in describe.
std::string DescribeTime(const std::string& rfc3339) {
  int64_t nanos = ParseRfc3339(rfc3339);
  if (nanos == 0) return "<unknown>";
  std::time_t t = static_cast<std::time_t>(nanos / kNanos);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof(buf), "%a, %d %b %Y %H:%M:%S +0000", &tm);
  return buf;
}

// Lines "key: value" with the values aligned at `width`, indented by `indent`.
class Writer {
 public:
  void Line(int indent, const std::string& key, const std::string& value, size_t width = 0) {
    std::string label = key + ":";
    out_ << std::string(static_cast<size_t>(indent), ' ') << label;
    if (!value.empty()) {
      size_t pad = width > label.size() ? width - label.size() : 1;
      out_ << std::string(pad, ' ') << value;
    }
    out_ << '\n';
  }
  void Raw(const std::string& text) { out_ << text; }
  std::string str() const { return out_.str(); }

 private:
  std::ostringstream out_;
};

std::string MapText(const json& map, int indent, size_t width) {
  if (!map.is_object() || map.empty()) return "<none>";
  std::string out;
  bool first = true;
  for (const auto& [k, v] : map.items()) {
    if (!first) out += "\n" + std::string(static_cast<size_t>(indent) + width, ' ');
    out += k + "=" + (v.is_string() ? v.get<std::string>() : v.dump());
    first = false;
  }
  return out;
}

std::string HandlerText(const json& probe) {
  if (const json& exec = Field(probe, "exec"); exec.is_object()) {
    std::string cmd;
    for (const auto& part : Array(exec, "command"))
      cmd += (cmd.empty() ? "" : " ") + Text(part);
    return "exec [" + cmd + "]";
  }
  if (const json& get = Field(probe, "httpGet"); get.is_object()) {
    std::string scheme = Str(get, "scheme").empty() ? "http" : Str(get, "scheme");
    for (auto& c : scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return "http-get " + scheme + "://" + Str(get, "host") + ":" + Str(get, "port") +
           Str(get, "path");
  }
  if (const json& tcp = Field(probe, "tcpSocket"); tcp.is_object()) {
    return "tcp-socket " + Str(tcp, "host") + ":" + Str(tcp, "port");
  }
  if (const json& grpc = Field(probe, "grpc"); grpc.is_object()) {
    return "grpc <pod>:" + Str(grpc, "port") + " " + OrNone(Str(grpc, "service"));
  }
  return "unknown";
}

std::string ProbeText(const json& probe) {
  return HandlerText(probe) + " delay=" + Str(probe, "initialDelaySeconds") +
         "s timeout=" + Str(probe, "timeoutSeconds") + "s period=" + Str(probe, "periodSeconds") +
         "s #success=" + Str(probe, "successThreshold") +
         " #failure=" + Str(probe, "failureThreshold");
}

void DescribeState(Writer& w, const char* label, const json& state) {
  constexpr size_t kWidth = 16;
  if (const json& running = Field(state, "running"); running.is_object()) {
    w.Line(4, label, "Running", kWidth);
    w.Line(6, "Started", DescribeTime(Str(running, "startedAt")), kWidth - 2);
  } else if (const json& t = Field(state, "terminated"); t.is_object()) {
    w.Line(4, label, "Terminated", kWidth);
    w.Line(6, "Reason", Str(t, "reason"), kWidth - 2);
    if (!Str(t, "message").empty()) w.Line(6, "Message", Str(t, "message"), kWidth - 2);
    w.Line(6, "Exit Code", Str(t, "exitCode"), kWidth - 2);
    if (!Str(t, "signal").empty()) w.Line(6, "Signal", Str(t, "signal"), kWidth - 2);
    w.Line(6, "Started", DescribeTime(Str(t, "startedAt")), kWidth - 2);
    w.Line(6, "Finished", DescribeTime(Str(t, "finishedAt")), kWidth - 2);
  } else if (const json& waiting = Field(state, "waiting"); waiting.is_object()) {
    w.Line(4, label, "Waiting", kWidth);
    w.Line(6, "Reason", Str(waiting, "reason"), kWidth - 2);
    if (!Str(waiting, "message").empty()) w.Line(6, "Message", Str(waiting, "message"), kWidth - 2);
  }
}

void DescribeContainer(Writer& w, const json& c, const json& status) {
  constexpr size_t kWidth = 16;
  w.Line(2, Str(c, "name"), "");
  w.Line(4, "Container ID", Str(status, "containerID"), kWidth);
  w.Line(4, "Image", Str(c, "image"), kWidth);
  w.Line(4, "Image ID", Str(status, "imageID"), kWidth);
  const json& ports = Array(c, "ports");
  if (ports.empty()) {
    w.Line(4, "Port", "<none>", kWidth);
    w.Line(4, "Host Port", "<none>", kWidth);
  }
  for (const auto& p : ports) {
    w.Line(4, "Port", Str(p, "containerPort") + "/" + Str(p, "protocol"), kWidth);
    std::string host = Str(p, "hostPort").empty() ? "0" : Str(p, "hostPort");
    w.Line(4, "Host Port", host + "/" + Str(p, "protocol"), kWidth);
  }
  for (const char* key : {"command", "args"}) {
    const json& parts = Array(c, key);
    if (parts.empty()) continue;
    w.Line(4, key == std::string("command") ? "Command" : "Args", "");
    for (const auto& part : parts) w.Raw("      " + Text(part) + "\n");
  }
  DescribeState(w, "State", Field(status, "state"));
  const json& last = Field(status, "lastState");
  if (last.is_object() && !last.empty()) DescribeState(w, "Last State", last);
  w.Line(4, "Ready",
         Field(status, "ready").is_boolean() && status["ready"].get<bool>() ? "True" : "False",
         kWidth);
  w.Line(4, "Restart Count",
         Str(status, "restartCount").empty() ? "0" : Str(status, "restartCount"), kWidth);
  const json& resources = Field(c, "resources");
  for (const char* kind : {"limits", "requests"}) {
    const json& r = Field(resources, kind);
    if (!r.is_object() || r.empty()) continue;
    w.Line(4, kind == std::string("limits") ? "Limits" : "Requests", "");
    for (const auto& [k, v] : r.items()) w.Line(6, k, Text(v), kWidth - 2);
  }
  if (const json& p = Field(c, "livenessProbe"); p.is_object())
    w.Line(4, "Liveness", ProbeText(p), kWidth);
  if (const json& p = Field(c, "readinessProbe"); p.is_object())
    w.Line(4, "Readiness", ProbeText(p), kWidth);
  if (const json& p = Field(c, "startupProbe"); p.is_object())
    w.Line(4, "Startup", ProbeText(p), kWidth);
  const json& env = Array(c, "env");
  w.Line(4, "Environment", env.empty() ? "<none>" : "", kWidth);
  for (const auto& e : env) {
    std::string value = Str(e, "value");
    if (const json& from = Field(e, "valueFrom"); from.is_object()) {
      if (const json& r = Field(from, "configMapKeyRef"); r.is_object()) {
        value = "<set to the key '" + Str(r, "key") + "' of config map '" + Str(r, "name") + "'>";
      } else if (const json& s = Field(from, "secretKeyRef"); s.is_object()) {
        value = "<set to the key '" + Str(s, "key") + "' in secret '" + Str(s, "name") + "'>";
      } else if (const json& f = Field(from, "fieldRef"); f.is_object()) {
        value = " (v1:" + Str(f, "fieldPath") + ")";
      }
    }
    w.Line(6, Str(e, "name"), value);
  }
  const json& mounts = Array(c, "volumeMounts");
  w.Line(4, "Mounts", mounts.empty() ? "<none>" : "", kWidth);
  for (const auto& m : mounts) {
    std::string ro = Field(m, "readOnly").is_boolean() && m["readOnly"].get<bool>() ? "ro" : "rw";
    std::string sub = Str(m, "subPath").empty() ? "" : ",path=\"" + Str(m, "subPath") + "\"";
    w.Raw("      " + Str(m, "mountPath") + " from " + Str(m, "name") + " (" + ro + sub + ")\n");
  }
}

void DescribeContainers(Writer& w, const char* title, const json& containers,
                        const json& statuses) {
  if (containers.empty()) return;
  w.Line(0, title, "");
  for (const auto& c : containers) {
    json status = json::object();
    for (const auto& s : statuses) {
      if (Str(s, "name") == Str(c, "name")) status = s;
    }
    DescribeContainer(w, c, status);
  }
}

void DescribeVolumes(Writer& w, const json& volumes) {
  constexpr size_t kWidth = 14;
  w.Line(0, "Volumes", volumes.empty() ? "<none>" : "");
  for (const auto& v : volumes) {
    w.Line(2, Str(v, "name"), "");
    if (const json& e = Field(v, "emptyDir"); e.is_object()) {
      w.Line(4, "Type", "EmptyDir (a temporary directory that shares a pod's lifetime)", kWidth);
      w.Line(4, "Medium", Str(e, "medium"), kWidth);
      w.Line(4, "SizeLimit", OrNone(Str(e, "sizeLimit")), kWidth);
    } else if (const json& h = Field(v, "hostPath"); h.is_object()) {
      w.Line(4, "Type", "HostPath (bare host directory volume)", kWidth);
      w.Line(4, "Path", Str(h, "path"), kWidth);
      w.Line(4, "HostPathType", Str(h, "type"), kWidth);
    } else if (const json& cm = Field(v, "configMap"); cm.is_object()) {
      w.Line(4, "Type", "ConfigMap (a volume populated by a ConfigMap)", kWidth);
      w.Line(4, "Name", Str(cm, "name"), kWidth);
      w.Line(4, "Optional", Str(cm, "optional").empty() ? "false" : Str(cm, "optional"), kWidth);
    } else if (const json& s = Field(v, "secret"); s.is_object()) {
      w.Line(4, "Type", "Secret (a volume populated by a Secret)", kWidth);
      w.Line(4, "SecretName", Str(s, "secretName"), kWidth);
      w.Line(4, "Optional", Str(s, "optional").empty() ? "false" : Str(s, "optional"), kWidth);
    } else if (const json& d = Field(v, "downwardAPI"); d.is_object()) {
      w.Line(4, "Type", "DownwardAPI (a volume populated by information about the pod)", kWidth);
      w.Line(4, "Items", "", kWidth);
      for (const auto& item : Array(d, "items")) {
        std::string from = Str(Field(item, "fieldRef"), "fieldPath");
        if (from.empty()) from = Str(Field(item, "resourceFieldRef"), "resource");
        w.Line(6, from + " -> " + Str(item, "path"), "");
      }
    } else if (const json& p = Field(v, "projected"); p.is_object()) {
      w.Line(4, "Type", "Projected (a volume that contains injected data from multiple sources)",
             kWidth);
      for (const auto& source : Array(p, "sources")) {
        if (const json& c = Field(source, "configMap"); c.is_object()) {
          w.Line(4, "ConfigMapName", Str(c, "name"), kWidth);
        } else if (const json& sec = Field(source, "secret"); sec.is_object()) {
          w.Line(4, "SecretName", Str(sec, "name"), kWidth);
        } else if (Field(source, "downwardAPI").is_object()) {
          w.Line(4, "DownwardAPI", "true", kWidth);
        }
      }
    }
  }
}

}  // namespace

std::string EventAge(const EventRow& event, int64_t now_nanos) {
  std::string last = HumanDuration((now_nanos - event.last_seen) / kNanos);
  if (event.count <= 1) return last;
  return last + " (x" + std::to_string(event.count) + " over " +
         HumanDuration((now_nanos - event.first_seen) / kNanos) + ")";
}

std::string DescribePod(const json& pod, const std::vector<EventRow>& events, int64_t now_nanos) {
  constexpr size_t kWidth = 18;
  const json& metadata = Field(pod, "metadata");
  const json& spec = Field(pod, "spec");
  const json& status = Field(pod, "status");
  Writer w;
  w.Line(0, "Name", Str(metadata, "name"), kWidth);
  w.Line(0, "Namespace", Str(metadata, "namespace"), kWidth);
  std::string node = OrNone(Str(spec, "nodeName"));
  if (!Str(status, "hostIP").empty()) node += "/" + Str(status, "hostIP");
  w.Line(0, "Node", node, kWidth);
  w.Line(0, "Start Time", DescribeTime(Str(status, "startTime")), kWidth);
  w.Line(0, "Labels", MapText(Field(metadata, "labels"), 0, kWidth), kWidth);
  w.Line(0, "Annotations", MapText(Field(metadata, "annotations"), 0, kWidth), kWidth);
  std::string phase = Str(status, "phase");
  if (!Str(metadata, "deletionTimestamp").empty()) phase = "Terminating (lasts <unknown>)";
  w.Line(0, "Status", phase, kWidth);
  if (!Str(status, "reason").empty()) w.Line(0, "Reason", Str(status, "reason"), kWidth);
  if (!Str(status, "message").empty()) w.Line(0, "Message", Str(status, "message"), kWidth);
  w.Line(0, "IP", Str(status, "podIP"), kWidth);
  w.Line(0, "IPs", Array(status, "podIPs").empty() ? "<none>" : "", kWidth);
  for (const auto& ip : Array(status, "podIPs")) w.Line(2, "IP", Str(ip, "ip"), 5);
  DescribeContainers(w, "Init Containers", Array(spec, "initContainers"),
                     Array(status, "initContainerStatuses"));
  DescribeContainers(w, "Containers", Array(spec, "containers"),
                     Array(status, "containerStatuses"));
  w.Line(0, "Conditions", "");
  std::vector<std::vector<std::string>> conditions = {{"  Type", "Status"}};
  for (const auto& c : Array(status, "conditions")) {
    conditions.push_back({"  " + Str(c, "type"), Str(c, "status")});
  }
  w.Raw(FormatTable(conditions, 2));
  DescribeVolumes(w, Array(spec, "volumes"));
  if (events.empty()) {
    w.Line(0, "Events", "<none>", kWidth);
    return w.str();
  }
  w.Line(0, "Events", "");
  std::vector<std::vector<std::string>> rows = {{"  Type", "Reason", "Age", "From", "Message"},
                                                {"  ----", "------", "----", "----", "-------"}};
  for (const auto& e : events) {
    rows.push_back({"  " + e.type, e.reason, EventAge(e, now_nanos), e.from, e.message});
  }
  w.Raw(FormatTable(rows, 2));
  return w.str();
}

}  // namespace peapod::cli
