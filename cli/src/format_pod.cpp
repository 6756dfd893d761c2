// Ages, the `get pods` columns and table layout, following kubectl 1.28's pod printer.
#include <ctime>
#include <map>
#include <string>

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

std::string Str(const json& obj, const char* key) {
  const json& v = Field(obj, key);
  return v.is_string() ? v.get<std::string>() : std::string();
}

int64_t Int(const json& obj, const char* key) {
  const json& v = Field(obj, key);
  return v.is_number() ? v.get<int64_t>() : 0;
}

bool Bool(const json& obj, const char* key) {
  const json& v = Field(obj, key);
  return v.is_boolean() && v.get<bool>();
}

// A sidecar: an init container with restartPolicy Always (Kubernetes 1.29).
bool IsRestartableInit(const json& container) {
  return Str(container, "restartPolicy") == "Always";
}

bool ConditionTrue(const json& status, const std::string& type) {
  const json& conditions = Field(status, "conditions");
  if (!conditions.is_array()) return false;
  for (const auto& c : conditions) {
    if (Str(c, "type") == type) return Str(c, "status") == "True";
  }
  return false;
}

bool HasCondition(const json& status, const std::string& type) {
  const json& conditions = Field(status, "conditions");
  if (!conditions.is_array()) return false;
  for (const auto& c : conditions) {
    if (Str(c, "type") == type) return true;
  }
  return false;
}

// The finish time of the container's last termination, 0 when none.
int64_t LastTerminationNanos(const json& container_status) {
  const json& terminated = Field(Field(container_status, "lastState"), "terminated");
  if (!terminated.is_object()) return 0;
  return ParseRfc3339(Str(terminated, "finishedAt"));
}

const json& Array(const json& obj, const char* key) {
  static const json kEmpty = json::array();
  const json& v = Field(obj, key);
  return v.is_array() ? v : kEmpty;
}

}  // namespace

std::string HumanDuration(int64_t seconds) {
  if (seconds < -1) return "<invalid>";
  if (seconds < 0) return "0s";
  if (seconds < 60 * 2) return std::to_string(seconds) + "s";
  int64_t minutes = seconds / 60;
  if (minutes < 10) {
    int64_t s = seconds % 60;
    return s == 0 ? std::to_string(minutes) + "m"
                  : std::to_string(minutes) + "m" + std::to_string(s) + "s";
  }
  if (minutes < 60 * 3) return std::to_string(minutes) + "m";
  int64_t hours = seconds / 3600;
  if (hours < 8) {
    int64_t m = minutes % 60;
    return m == 0 ? std::to_string(hours) + "h"
                  : std::to_string(hours) + "h" + std::to_string(m) + "m";
  }
  if (hours < 48) return std::to_string(hours) + "h";
  if (hours < 24 * 8) {
    int64_t h = hours % 24;
    return h == 0 ? std::to_string(hours / 24) + "d"
                  : std::to_string(hours / 24) + "d" + std::to_string(h) + "h";
  }
  if (hours < 24 * 365 * 2) return std::to_string(hours / 24) + "d";
  if (hours < 24 * 365 * 8) {
    int64_t days = (hours / 24) % 365;
    return days == 0 ? std::to_string(hours / 24 / 365) + "y"
                     : std::to_string(hours / 24 / 365) + "y" + std::to_string(days) + "d";
  }
  return std::to_string(hours / 24 / 365) + "y";
}

int64_t ParseRfc3339(const std::string& text) {
  std::tm tm{};
  const char* rest = ::strptime(text.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (rest == nullptr) return 0;
  int64_t nanos = 0;
  if (*rest == '.') {  // fractional seconds, up to nanoseconds
    int64_t scale = kNanos / 10;
    for (++rest; *rest >= '0' && *rest <= '9'; ++rest) {
      nanos += (*rest - '0') * scale;
      scale /= 10;
    }
  }
  if (*rest != 'Z') return 0;  // the API server writes UTC only
  return static_cast<int64_t>(::timegm(&tm)) * kNanos + nanos;
}

std::string AgeSince(const std::string& rfc3339, int64_t now_nanos) {
  int64_t then = ParseRfc3339(rfc3339);
  if (then == 0) return "<unknown>";
  return HumanDuration((now_nanos - then) / kNanos);
}

PodRow ComputePodRow(const json& pod, int64_t now_nanos) {
  const json& metadata = Field(pod, "metadata");
  const json& spec = Field(pod, "spec");
  const json& status = Field(pod, "status");
  PodRow row;
  row.name = Str(metadata, "name");

  std::map<std::string, bool> restartable_init;
  int total = static_cast<int>(Array(spec, "containers").size());
  for (const auto& c : Array(spec, "initContainers")) {
    restartable_init[Str(c, "name")] = IsRestartableInit(c);
    if (IsRestartableInit(c)) ++total;
  }
  const int init_count = static_cast<int>(Array(spec, "initContainers").size());

  std::string reason = Str(status, "phase");
  if (!Str(status, "reason").empty()) reason = Str(status, "reason");

  int ready = 0;
  int64_t restarts = 0, sidecar_restarts = 0;
  int64_t last_restart = 0, last_sidecar_restart = 0;
  bool initializing = false;
  const json& init_statuses = Array(status, "initContainerStatuses");
  for (size_t i = 0; i < init_statuses.size(); ++i) {
    const json& cs = init_statuses[i];
    const bool sidecar = restartable_init[Str(cs, "name")];
    restarts += Int(cs, "restartCount");
    last_restart = std::max(last_restart, LastTerminationNanos(cs));
    if (sidecar) {
      sidecar_restarts += Int(cs, "restartCount");
      last_sidecar_restart = std::max(last_sidecar_restart, LastTerminationNanos(cs));
    }
    const json& state = Field(cs, "state");
    const json& terminated = Field(state, "terminated");
    const json& waiting = Field(state, "waiting");
    if (terminated.is_object() && Int(terminated, "exitCode") == 0) continue;
    if (sidecar && Bool(cs, "started")) {
      if (Bool(cs, "ready")) ++ready;
      continue;
    }
    if (terminated.is_object()) {
      if (!Str(terminated, "reason").empty()) {
        reason = "Init:" + Str(terminated, "reason");
      } else if (Int(terminated, "signal") != 0) {
        reason = "Init:Signal:" + std::to_string(Int(terminated, "signal"));
      } else {
        reason = "Init:ExitCode:" + std::to_string(Int(terminated, "exitCode"));
      }
    } else if (waiting.is_object() && !Str(waiting, "reason").empty() &&
               Str(waiting, "reason") != "PodInitializing") {
      reason = "Init:" + Str(waiting, "reason");
    } else {
      reason = "Init:" + std::to_string(i) + "/" + std::to_string(init_count);
    }
    initializing = true;
    break;
  }

  if (!initializing || ConditionTrue(status, "Initialized")) {
    restarts = sidecar_restarts;
    last_restart = last_sidecar_restart;
    bool has_running = false;
    const json& statuses = Array(status, "containerStatuses");
    for (auto it = statuses.rbegin(); it != statuses.rend(); ++it) {
      const json& cs = *it;
      restarts += Int(cs, "restartCount");
      last_restart = std::max(last_restart, LastTerminationNanos(cs));
      const json& state = Field(cs, "state");
      const json& waiting = Field(state, "waiting");
      const json& terminated = Field(state, "terminated");
      if (waiting.is_object() && !Str(waiting, "reason").empty()) {
        reason = Str(waiting, "reason");
      } else if (terminated.is_object() && !Str(terminated, "reason").empty()) {
        reason = Str(terminated, "reason");
      } else if (terminated.is_object()) {
        reason = Int(terminated, "signal") != 0
                     ? "Signal:" + std::to_string(Int(terminated, "signal"))
                     : "ExitCode:" + std::to_string(Int(terminated, "exitCode"));
      } else if (Bool(cs, "ready") && Field(state, "running").is_object()) {
        has_running = true;
        ++ready;
      }
    }
    // A pod with a container still running is not Completed, whatever its others did.
    if (reason == "Completed" && has_running) {
      reason = HasCondition(status, "Ready") ? "Running" : "NotReady";
    }
  }
  if (!Str(metadata, "deletionTimestamp").empty()) reason = "Terminating";

  row.ready = std::to_string(ready) + "/" + std::to_string(total);
  row.status = reason;
  row.restarts = std::to_string(restarts);
  if (restarts != 0 && last_restart != 0) {
    row.restarts += " (" + HumanDuration((now_nanos - last_restart) / kNanos) + " ago)";
  }
  row.age = AgeSince(Str(metadata, "creationTimestamp"), now_nanos);
  row.ip = Str(status, "podIP").empty() ? "<none>" : Str(status, "podIP");
  row.node = Str(spec, "nodeName").empty() ? "<none>" : Str(spec, "nodeName");
  return row;
}

std::string FormatTable(const std::vector<std::vector<std::string>>& rows, size_t padding) {
  std::vector<size_t> widths;
  for (const auto& row : rows) {
    if (widths.size() < row.size()) widths.resize(row.size(), 0);
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line.append(widths[i] + padding - row[i].size(), ' ');
    }
    out += line;
    out += '\n';
  }
  return out;
}

std::string FormatPodTable(const std::vector<json>& pods, int64_t now_nanos, GetFormat format,
                           bool all_namespaces) {
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> header = {"NAME", "READY", "STATUS", "RESTARTS", "AGE"};
  if (format == GetFormat::kWide) {
    header.push_back("IP");
    header.push_back("NODE");
  }
  if (all_namespaces) header.insert(header.begin(), "NAMESPACE");
  rows.push_back(std::move(header));
  for (const auto& pod : pods) {
    PodRow r = ComputePodRow(pod, now_nanos);
    std::vector<std::string> row = {r.name, r.ready, r.status, r.restarts, r.age};
    if (format == GetFormat::kWide) {
      row.push_back(r.ip);
      row.push_back(r.node);
    }
    if (all_namespaces) row.insert(row.begin(), Str(Field(pod, "metadata"), "namespace"));
    rows.push_back(std::move(row));
  }
  return FormatTable(rows);
}

std::string HumanBytes(uint64_t bytes) {
  const char* units[] = {"B", "kB", "MB", "GB", "TB"};
  double value = static_cast<double>(bytes);
  int unit = 0;
  while (value >= 1000 && unit < 4) {
    value /= 1000;
    ++unit;
  }
  char buf[32];
  if (unit == 0) {
    std::snprintf(buf, sizeof(buf), "%lluB", static_cast<unsigned long long>(bytes));
  } else {
    std::snprintf(buf, sizeof(buf), "%.3g%s", value, units[unit]);
  }
  return buf;
}

std::string ProgressLine(const std::string& digest, uint64_t done, uint64_t total, int width) {
  std::string id = digest;
  if (id.starts_with("sha256:")) id = id.substr(7, 12);
  std::string bar(static_cast<size_t>(width), ' ');
  if (total > 0) {
    size_t filled = static_cast<size_t>(static_cast<double>(std::min(done, total)) /
                                        static_cast<double>(total) * width);
    for (size_t i = 0; i < filled; ++i) bar[i] = '=';
    if (filled < bar.size()) bar[filled] = '>';
  }
  return id + ": [" + bar + "] " + HumanBytes(done) + "/" + (total ? HumanBytes(total) : "?");
}

}  // namespace peapod::cli
