// ListMetricDescriptors / ListPodSandboxMetrics: the pod stats recast as cadvisor's metrics, with
// the labels kubelet's /metrics/cadvisor carries (container, id, image, name, namespace, pod), so
// dashboards built on cadvisor read them unchanged.
#include <utility>

#include "peapod/agent/stats.h"

namespace peapod::agent {
namespace {

const std::vector<std::string> kBaseLabels = {"container", "id",        "image",
                                              "name",      "namespace", "pod"};

std::vector<std::string> WithInterface() {
  auto keys = kBaseLabels;
  keys.push_back("interface");
  return keys;
}

constexpr uint64_t kNsPerSecond = 1000000000;

// Label values of one object, in kBaseLabels order.
struct Labels {
  std::string container, id, image, name, ns, pod;
  std::vector<std::string> Values() const { return {container, id, image, name, ns, pod}; }
};

class MetricsBuilder {
 public:
  MetricsBuilder(Labels labels, std::vector<Metric>* out) : labels_(std::move(labels)), out_(out) {}

  void Add(const char* name, MetricType type, int64_t timestamp, std::optional<uint64_t> value,
           const std::string* interface = nullptr) {
    if (!value) return;
    Metric m;
    m.name = name;
    m.timestamp = timestamp;
    m.type = type;
    m.label_values = labels_.Values();
    if (interface != nullptr) m.label_values.push_back(*interface);
    m.value = *value;
    out_->push_back(std::move(m));
  }

  void CpuAndMemory(const std::optional<CpuUsage>& cpu, const std::optional<MemoryUsage>& memory) {
    if (cpu && cpu->usage_core_nano_seconds) {
      // CRI values are integers: whole seconds, the unit the metric's name promises.
      Add("container_cpu_usage_seconds_total", MetricType::kCounter, cpu->timestamp,
          *cpu->usage_core_nano_seconds / kNsPerSecond);
    }
    if (memory) {
      Add("container_memory_usage_bytes", MetricType::kGauge, memory->timestamp,
          memory->usage_bytes);
      Add("container_memory_working_set_bytes", MetricType::kGauge, memory->timestamp,
          memory->working_set_bytes);
      Add("container_memory_rss", MetricType::kGauge, memory->timestamp, memory->rss_bytes);
      Add("container_memory_page_faults_total", MetricType::kCounter, memory->timestamp,
          memory->page_faults);
      Add("container_memory_major_page_faults_total", MetricType::kCounter, memory->timestamp,
          memory->major_page_faults);
    }
  }

  void Network(const NetworkUsage& network) {
    auto add = [&](const NetworkInterfaceUsage& i) {
      Add("container_network_receive_bytes_total", MetricType::kCounter, network.timestamp,
          i.rx_bytes, &i.name);
      Add("container_network_receive_errors_total", MetricType::kCounter, network.timestamp,
          i.rx_errors, &i.name);
      Add("container_network_transmit_bytes_total", MetricType::kCounter, network.timestamp,
          i.tx_bytes, &i.name);
      Add("container_network_transmit_errors_total", MetricType::kCounter, network.timestamp,
          i.tx_errors, &i.name);
    };
    if (network.default_interface) add(*network.default_interface);
    for (const auto& i : network.interfaces) add(i);
  }

 private:
  Labels labels_;
  std::vector<Metric>* out_;
};

}  // namespace

const std::vector<MetricDescriptor>& MetricDescriptors() {
  static const std::vector<MetricDescriptor> descriptors = {
      {"container_cpu_usage_seconds_total", "Cumulative cpu time consumed in seconds.",
       kBaseLabels},
      {"container_memory_usage_bytes",
       "Current memory usage in bytes, including all memory regardless of when it was accessed.",
       kBaseLabels},
      {"container_memory_working_set_bytes", "Current working set in bytes.", kBaseLabels},
      {"container_memory_rss", "Size of RSS in bytes.", kBaseLabels},
      {"container_memory_page_faults_total", "Cumulative count of page faults.", kBaseLabels},
      {"container_memory_major_page_faults_total", "Cumulative count of major page faults.",
       kBaseLabels},
      {"container_fs_usage_bytes", "Number of bytes consumed by the container's writable layer.",
       kBaseLabels},
      {"container_processes", "Number of processes running inside the pod.", kBaseLabels},
      {"container_network_receive_bytes_total", "Cumulative count of bytes received.",
       WithInterface()},
      {"container_network_receive_errors_total",
       "Cumulative count of errors encountered while receiving.", WithInterface()},
      {"container_network_transmit_bytes_total", "Cumulative count of bytes transmitted.",
       WithInterface()},
      {"container_network_transmit_errors_total",
       "Cumulative count of errors encountered while transmitting.", WithInterface()},
  };
  return descriptors;
}

PodSandboxMetrics MetricsOf(const PodSandboxStats& stats,
                            const std::map<std::string, std::string>& images) {
  PodSandboxMetrics result;
  const auto& pod = stats.attributes;
  result.pod_sandbox_id = pod.id;

  // The pod cgroup and the pod's network: cadvisor reports them with an empty container label.
  MetricsBuilder pod_metrics(Labels{"", pod.id, "", "", pod.metadata.namespace_, pod.metadata.name},
                             &result.metrics);
  pod_metrics.CpuAndMemory(stats.cpu, stats.memory);
  if (stats.process) {
    pod_metrics.Add("container_processes", MetricType::kGauge, stats.process->timestamp,
                    stats.process->process_count);
  }
  if (stats.network) pod_metrics.Network(*stats.network);

  for (const auto& c : stats.containers) {
    ContainerMetrics cm;
    cm.container_id = c.attributes.id;
    auto image = images.find(c.attributes.id);
    MetricsBuilder builder(
        Labels{c.attributes.metadata.name, c.attributes.id,
               image == images.end() ? "" : image->second, c.attributes.metadata.name,
               pod.metadata.namespace_, pod.metadata.name},
        &cm.metrics);
    builder.CpuAndMemory(c.cpu, c.memory);
    if (c.writable_layer) {
      builder.Add("container_fs_usage_bytes", MetricType::kGauge, c.writable_layer->timestamp,
                  c.writable_layer->used_bytes);
    }
    result.container_metrics.push_back(std::move(cm));
  }
  return result;
}

}  // namespace peapod::agent
