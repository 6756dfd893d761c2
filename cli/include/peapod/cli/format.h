// What the `peapod` CLI prints, as small pure functions over Kubernetes v1 Pod JSON (the shape
// the pod API sends): ages, the STATUS/READY/RESTARTS columns computed as kubectl computes them,
// tables laid out as kubectl's tabwriter does, `describe` text and YAML output.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace peapod::cli {

// kubectl's age ("5s", "3m2s", "2d"): HumanDuration of apimachinery.
std::string HumanDuration(int64_t seconds);
// The age of an RFC 3339 timestamp at `now_nanos`; "<unknown>" when empty or unparsable.
std::string AgeSince(const std::string& rfc3339, int64_t now_nanos);
// "2026-11-24T14:54:21Z" -> ns since the epoch; 0 when unparsable.
int64_t ParseRfc3339(const std::string& text);

// The columns of one pod in `get pods`.
struct PodRow {
  std::string name;
  std::string ready;     // "1/2"
  std::string status;    // Running, Completed, Init:0/2, CrashLoopBackOff, Terminating, ...
  std::string restarts;  // "3 (5s ago)"
  std::string age;
  std::string ip;    // wide
  std::string node;  // wide
};
PodRow ComputePodRow(const nlohmann::json& pod, int64_t now_nanos);

// Left-aligned columns separated by at least `padding` spaces, as kubectl's tabwriter (3 for
// `get`, 2 inside `describe`).
std::string FormatTable(const std::vector<std::vector<std::string>>& rows, size_t padding = 3);

enum class GetFormat { kTable, kWide };
// `get pods` with the header; `all_namespaces` adds the NAMESPACE column first.
std::string FormatPodTable(const std::vector<nlohmann::json>& pods, int64_t now_nanos,
                           GetFormat format, bool all_namespaces);

// One event as `describe` lists it.
struct EventRow {
  std::string type;
  std::string reason;
  std::string from;
  std::string message;
  int32_t count = 1;
  int64_t first_seen = 0;  // ns since the epoch
  int64_t last_seen = 0;
};
// kubectl's event age: "10s", or "2m (x5 over 10m)" for a repeated event.
std::string EventAge(const EventRow& event, int64_t now_nanos);
std::string DescribePod(const nlohmann::json& pod, const std::vector<EventRow>& events,
                        int64_t now_nanos);

// JSON as block-style YAML (as `kubectl get -o yaml` prints it).
std::string ToYaml(const nlohmann::json& value);

// "12.3MB" for progress and `images`.
std::string HumanBytes(uint64_t bytes);
// One progress bar line: "sha256:0123456789ab: [=====>      ] 1.2MB/3.4MB".
std::string ProgressLine(const std::string& digest, uint64_t done, uint64_t total, int width);

}  // namespace peapod::cli
