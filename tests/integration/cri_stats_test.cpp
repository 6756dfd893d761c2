// CRI stats, metrics and events against a real peapodd with busybox from a local registry:
// ContainerStats / ListContainerStats, PodSandboxStats / ListPodSandboxStats (with real traffic
// between two pods on the test CNI network), ListMetricDescriptors / ListPodSandboxMetrics and
// the GetContainerEvents stream.
#include <signal.h>

#include <algorithm>
#include <functional>
#include <thread>

#include "cri_test_fixture.h"

namespace peapod::testing {
namespace {

using Stub = v1::RuntimeService::Stub;
constexpr uint64_t kMiB = 1024 * 1024;

class CriStats : public CriBusyboxTest {
 protected:
  void SetUp() override {
    CriBusyboxTest::SetUp();
    if (HasFatalFailure()) return;
    pod_config_ = TestPodConfig("stats");
    auto status = RunPod(pod_config_, &pod_id_);
    ASSERT_TRUE(status.ok()) << Describe(status);
  }

  v1::ContainerConfig Config(const std::string& name, const std::string& script) {
    v1::ContainerConfig config;
    config.mutable_metadata()->set_name(name);
    config.mutable_image()->set_image(BusyboxRef());
    config.add_command("sh");
    config.add_command("-c");
    config.add_command(script);
    (*config.mutable_labels())["container"] = name;
    return config;
  }

  grpc::Status Create(const v1::ContainerConfig& config, std::string* id,
                      const std::string& pod_id = "",
                      const v1::PodSandboxConfig* pod_config = nullptr) {
    v1::CreateContainerRequest req;
    req.set_pod_sandbox_id(pod_id.empty() ? pod_id_ : pod_id);
    *req.mutable_config() = config;
    *req.mutable_sandbox_config() = pod_config ? *pod_config : pod_config_;
    v1::CreateContainerResponse resp;
    auto status = CriCall(runtime(), &Stub::CreateContainer, req, &resp);
    if (id != nullptr) *id = resp.container_id();
    return status;
  }

  // Creates and starts `script` in the pod (the test's own pod unless given).
  std::string Run(const std::string& name, const std::string& script,
                  const std::string& pod_id = "",
                  const v1::PodSandboxConfig* pod_config = nullptr) {
    std::string id;
    auto status = Create(Config(name, script), &id, pod_id, pod_config);
    EXPECT_TRUE(status.ok()) << Describe(status);
    status = Start(id);
    EXPECT_TRUE(status.ok()) << Describe(status);
    return id;
  }

  grpc::Status Stats(const std::string& id, v1::ContainerStats* out) {
    v1::ContainerStatsRequest req;
    req.set_container_id(id);
    v1::ContainerStatsResponse resp;
    auto status = CriCall(runtime(), &Stub::ContainerStats, req, &resp);
    *out = resp.stats();
    return status;
  }

  grpc::Status PodStats(const std::string& id, v1::PodSandboxStats* out) {
    v1::PodSandboxStatsRequest req;
    req.set_pod_sandbox_id(id);
    v1::PodSandboxStatsResponse resp;
    auto status = CriCall(runtime(), &Stub::PodSandboxStats, req, &resp);
    *out = resp.stats();
    return status;
  }

  std::vector<v1::ContainerStats> ListStats(const v1::ContainerStatsFilter& filter) {
    v1::ListContainerStatsRequest req;
    *req.mutable_filter() = filter;
    v1::ListContainerStatsResponse resp;
    auto status = CriCall(runtime(), &Stub::ListContainerStats, req, &resp);
    EXPECT_TRUE(status.ok()) << Describe(status);
    return {resp.stats().begin(), resp.stats().end()};
  }

  // Samples the container's stats until `done` holds for them (60 s at most); the last sample.
  v1::ContainerStats StatsUntil(const std::string& id,
                                const std::function<bool(const v1::ContainerStats&)>& done) {
    v1::ContainerStats stats;
    for (int i = 0; i < 300; ++i) {
      auto status = Stats(id, &stats);
      EXPECT_TRUE(status.ok()) << Describe(status);
      if (!status.ok() || done(stats)) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    return stats;
  }

  v1::PodSandboxStats PodStatsUntil(const std::string& id,
                                    const std::function<bool(const v1::PodSandboxStats&)>& done) {
    v1::PodSandboxStats stats;
    for (int i = 0; i < 300; ++i) {
      auto status = PodStats(id, &stats);
      EXPECT_TRUE(status.ok()) << Describe(status);
      if (!status.ok() || done(stats)) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    return stats;
  }

  std::string PodIp(const std::string& id) {
    v1::PodSandboxStatusResponse resp;
    EXPECT_TRUE(PodStatus(id, &resp).ok());
    return resp.status().network().ip();
  }

  v1::PodSandboxConfig pod_config_;
  std::string pod_id_;
};

TEST_F(CriStats, WorkingSetGrowsWithMemoryHeldInTmpfs) {
  std::string id = Run("mem", "head -c 41943040 /dev/zero > /dev/shm/blob && exec sleep 3600");
  auto stats = StatsUntil(id, [](const v1::ContainerStats& s) {
    return s.memory().working_set_bytes().value() >= 40 * kMiB;
  });
  EXPECT_EQ(stats.attributes().id(), id);
  EXPECT_EQ(stats.attributes().metadata().name(), "mem");
  EXPECT_EQ(stats.attributes().labels().at("container"), "mem");
  ASSERT_TRUE(stats.has_memory());
  EXPECT_GE(stats.memory().working_set_bytes().value(), 40 * kMiB);
  EXPECT_GE(stats.memory().usage_bytes().value(), stats.memory().working_set_bytes().value());
  EXPECT_GT(stats.memory().page_faults().value(), 0u);
  EXPECT_GT(stats.memory().timestamp(), 0);
  // No limit was set, so nothing is "available" to report.
  EXPECT_FALSE(stats.memory().has_available_bytes());
}

TEST_F(CriStats, AvailableBytesFollowTheMemoryLimit) {
  auto config = Config("limited", "exec sleep 3600");
  config.mutable_linux()->mutable_resources()->set_memory_limit_in_bytes(256 * kMiB);
  std::string id;
  ASSERT_TRUE(Create(config, &id).ok());
  ASSERT_TRUE(Start(id).ok());
  v1::ContainerStats stats;
  ASSERT_TRUE(Stats(id, &stats).ok());
  ASSERT_TRUE(stats.memory().has_available_bytes());
  EXPECT_GT(stats.memory().available_bytes().value(), 200 * kMiB);
  EXPECT_LE(stats.memory().available_bytes().value(), 256 * kMiB);
}

TEST_F(CriStats, WritableLayerGrowsWithAFileWrittenIntoTheRootfs) {
  std::string id = Run("disk", "head -c 8388608 /dev/zero > /big && exec sleep 3600");
  auto stats = StatsUntil(id, [](const v1::ContainerStats& s) {
    return s.writable_layer().used_bytes().value() >= 8 * kMiB;
  });
  ASSERT_TRUE(stats.has_writable_layer());
  EXPECT_GE(stats.writable_layer().used_bytes().value(), 8 * kMiB);
  EXPECT_LT(stats.writable_layer().used_bytes().value(), 64 * kMiB);
  EXPECT_GE(stats.writable_layer().inodes_used().value(), 2u);
  // The same filesystem ImageFsInfo reports, so kubelet can match them.
  v1::ImageFsInfoRequest req;
  v1::ImageFsInfoResponse resp;
  ASSERT_TRUE(CriCall(images(), &v1::ImageService::Stub::ImageFsInfo, req, &resp).ok());
  ASSERT_GT(resp.image_filesystems_size(), 0);
  EXPECT_EQ(stats.writable_layer().fs_id().mountpoint(),
            resp.image_filesystems(0).fs_id().mountpoint());
}

TEST_F(CriStats, CpuUsageAccumulatesAndTheRateShowsABusyLoop) {
  std::string id = Run("burn", "while :; do :; done");
  auto stats = StatsUntil(id, [](const v1::ContainerStats& s) {
    return s.cpu().usage_core_nano_seconds().value() >= 300'000'000 &&
           s.cpu().usage_nano_cores().value() > 0;
  });
  ASSERT_TRUE(stats.has_cpu());
  EXPECT_GE(stats.cpu().usage_core_nano_seconds().value(), 300'000'000u);
  EXPECT_GT(stats.cpu().usage_nano_cores().value(), 0u);
  // One busy thread cannot use more than one core.
  EXPECT_LE(stats.cpu().usage_nano_cores().value(), 1'100'000'000u);
  v1::ContainerStats later;
  ASSERT_TRUE(Stats(id, &later).ok());
  EXPECT_GE(later.cpu().usage_core_nano_seconds().value(),
            stats.cpu().usage_core_nano_seconds().value());
}

TEST_F(CriStats, PodStatsCoverItsCgroupProcessesAndContainers) {
  std::string id = Run("mem", "head -c 20971520 /dev/zero > /dev/shm/blob && exec sleep 3600");
  auto stats = PodStatsUntil(pod_id_, [](const v1::PodSandboxStats& s) {
    return s.linux().memory().working_set_bytes().value() >= 20 * kMiB;
  });
  EXPECT_EQ(stats.attributes().id(), pod_id_);
  EXPECT_EQ(stats.attributes().metadata().name(), "stats");
  EXPECT_EQ(stats.attributes().labels().at("app"), "stats");
  EXPECT_GE(stats.linux().memory().working_set_bytes().value(), 20 * kMiB);
  EXPECT_GT(stats.linux().cpu().usage_core_nano_seconds().value(), 0u);
  // pause and the container's sleep.
  EXPECT_GE(stats.linux().process().process_count().value(), 2u);
  ASSERT_EQ(stats.linux().containers_size(), 1);
  EXPECT_EQ(stats.linux().containers(0).attributes().id(), id);
  EXPECT_GE(stats.linux().containers(0).memory().working_set_bytes().value(), 20 * kMiB);
  ASSERT_TRUE(stats.linux().network().has_default_interface());
  EXPECT_EQ(stats.linux().network().default_interface().name(), "eth0");

  // PodSandboxStatus carries the container statuses too (kubelet's evented PLEG reads them).
  v1::PodSandboxStatusResponse status;
  ASSERT_TRUE(PodStatus(pod_id_, &status).ok());
  ASSERT_EQ(status.containers_statuses_size(), 1);
  EXPECT_EQ(status.containers_statuses(0).id(), id);
  EXPECT_EQ(status.containers_statuses(0).state(), v1::CONTAINER_RUNNING);
}

TEST_F(CriStats, PodNetworkCountersGrowWithTrafficBetweenTwoPods) {
  auto server_config = TestPodConfig("web");
  std::string server_pod;
  ASSERT_TRUE(RunPod(server_config, &server_pod).ok());
  std::string ip = PodIp(server_pod);
  ASSERT_FALSE(ip.empty());

  v1::PodSandboxStats server_before, client_before;
  ASSERT_TRUE(PodStats(server_pod, &server_before).ok());
  ASSERT_TRUE(PodStats(pod_id_, &client_before).ok());
  ASSERT_TRUE(server_before.linux().network().has_default_interface());

  Run("httpd", "head -c 4194304 /dev/zero > /var/www/blob && exec httpd -f -p 8080 -h /var/www",
      server_pod, &server_config);
  Run("fetch", "until wget -q -O /dev/null http://" + ip +
                   ":8080/blob; do sleep 0.2; done; "
                   "exec sleep 3600");

  auto tx = [](const v1::PodSandboxStats& s) {
    return s.linux().network().default_interface().tx_bytes().value();
  };
  auto rx = [](const v1::PodSandboxStats& s) {
    return s.linux().network().default_interface().rx_bytes().value();
  };
  auto server_after = PodStatsUntil(server_pod, [&](const v1::PodSandboxStats& s) {
    return tx(s) >= tx(server_before) + 4 * kMiB;
  });
  auto client_after = PodStatsUntil(
      pod_id_, [&](const v1::PodSandboxStats& s) { return rx(s) >= rx(client_before) + 4 * kMiB; });
  EXPECT_GE(tx(server_after), tx(server_before) + 4 * kMiB);
  EXPECT_GE(rx(client_after), rx(client_before) + 4 * kMiB);
  // The request went the other way, and much less of it.
  EXPECT_GT(rx(server_after), rx(server_before));
  EXPECT_LT(rx(server_after) - rx(server_before), 1 * kMiB);
  EXPECT_EQ(server_after.linux().network().default_interface().rx_errors().value(), 0u);
}

TEST_F(CriStats, ListContainerStatsFiltersByIdSandboxAndLabels) {
  std::string a = Run("alpha", "exec sleep 3600");
  std::string b = Run("beta", "exec sleep 3600");
  auto other_config = TestPodConfig("other");
  std::string other_pod;
  ASSERT_TRUE(RunPod(other_config, &other_pod).ok());
  std::string c = Run("gamma", "exec sleep 3600", other_pod, &other_config);

  auto ids = [](const std::vector<v1::ContainerStats>& stats) {
    std::vector<std::string> out;
    for (const auto& s : stats) out.push_back(s.attributes().id());
    std::sort(out.begin(), out.end());
    return out;
  };
  auto sorted = [](std::vector<std::string> v) {
    std::sort(v.begin(), v.end());
    return v;
  };
  EXPECT_EQ(ids(ListStats({})), sorted({a, b, c}));
  v1::ContainerStatsFilter filter;
  filter.set_id(a.substr(0, 12));
  EXPECT_EQ(ids(ListStats(filter)), sorted({a}));
  filter.Clear();
  filter.set_pod_sandbox_id(other_pod);
  EXPECT_EQ(ids(ListStats(filter)), sorted({c}));
  filter.Clear();
  (*filter.mutable_label_selector())["container"] = "beta";
  EXPECT_EQ(ids(ListStats(filter)), sorted({b}));
  filter.Clear();
  filter.set_pod_sandbox_id(pod_id_);
  (*filter.mutable_label_selector())["container"] = "gamma";
  EXPECT_TRUE(ListStats(filter).empty());
  for (const auto& s : ListStats({})) {
    EXPECT_TRUE(s.has_cpu()) << s.attributes().id();
    EXPECT_TRUE(s.has_writable_layer()) << s.attributes().id();
  }

  v1::ListPodSandboxStatsRequest pods_req;
  (*pods_req.mutable_filter()->mutable_label_selector())["app"] = "other";
  v1::ListPodSandboxStatsResponse pods_resp;
  ASSERT_TRUE(CriCall(runtime(), &Stub::ListPodSandboxStats, pods_req, &pods_resp).ok());
  ASSERT_EQ(pods_resp.stats_size(), 1);
  EXPECT_EQ(pods_resp.stats(0).attributes().id(), other_pod);
  ASSERT_EQ(pods_resp.stats(0).linux().containers_size(), 1);
  EXPECT_EQ(pods_resp.stats(0).linux().containers(0).attributes().id(), c);

  // A stopped pod is left out of the list and has no stats.
  ASSERT_TRUE(StopPod(other_pod).ok());
  pods_req.Clear();
  pods_resp.Clear();
  ASSERT_TRUE(CriCall(runtime(), &Stub::ListPodSandboxStats, pods_req, &pods_resp).ok());
  ASSERT_EQ(pods_resp.stats_size(), 1);
  EXPECT_EQ(pods_resp.stats(0).attributes().id(), pod_id_);
  v1::PodSandboxStats stopped;
  EXPECT_EQ(PodStats(other_pod, &stopped).error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(CriStats, UnknownIdsAreNotFound) {
  v1::ContainerStats stats;
  EXPECT_EQ(Stats("no-such-container", &stats).error_code(), grpc::StatusCode::NOT_FOUND);
  v1::PodSandboxStats pod;
  EXPECT_EQ(PodStats("no-such-pod", &pod).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Stats("", &stats).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  v1::ContainerStatsFilter filter;
  filter.set_id("no-such-container");
  EXPECT_TRUE(ListStats(filter).empty());
}

TEST_F(CriStats, MetricsDescribeThemselvesAndCarryValuesForARunningPod) {
  std::string id = Run("mem", "head -c 20971520 /dev/zero > /dev/shm/blob && exec sleep 3600");
  v1::ListMetricDescriptorsRequest desc_req;
  v1::ListMetricDescriptorsResponse desc_resp;
  ASSERT_TRUE(CriCall(runtime(), &Stub::ListMetricDescriptors, desc_req, &desc_resp).ok());
  std::map<std::string, v1::MetricDescriptor> descriptors;
  for (const auto& d : desc_resp.descriptors()) descriptors[d.name()] = d;
  for (const char* name :
       {"container_cpu_usage_seconds_total", "container_memory_usage_bytes",
        "container_memory_working_set_bytes", "container_network_receive_bytes_total",
        "container_network_transmit_bytes_total", "container_processes"}) {
    ASSERT_TRUE(descriptors.contains(name)) << name;
    EXPECT_FALSE(descriptors[name].help().empty()) << name;
  }

  // The tmpfs blob may take a moment to be written.
  v1::ListPodSandboxMetricsResponse resp;
  uint64_t working_set = 0;
  for (int i = 0; i < 300 && working_set < 20 * kMiB; ++i) {
    resp.Clear();
    v1::ListPodSandboxMetricsRequest req;
    ASSERT_TRUE(CriCall(runtime(), &Stub::ListPodSandboxMetrics, req, &resp).ok());
    for (const auto& pod : resp.pod_metrics()) {
      for (const auto& c : pod.container_metrics()) {
        for (const auto& m : c.metrics()) {
          if (c.container_id() == id && m.name() == "container_memory_working_set_bytes") {
            working_set = m.value().value();
          }
        }
      }
    }
    if (working_set < 20 * kMiB) std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  EXPECT_GE(working_set, 20 * kMiB);
  ASSERT_EQ(resp.pod_metrics_size(), 1);
  const auto& pod = resp.pod_metrics(0);
  EXPECT_EQ(pod.pod_sandbox_id(), pod_id_);
  bool saw_processes = false, saw_rx = false;
  for (const auto& m : pod.metrics()) {
    ASSERT_TRUE(descriptors.contains(m.name())) << m.name();
    EXPECT_EQ(m.label_values_size(), descriptors[m.name()].label_keys_size()) << m.name();
    if (m.name() == "container_processes") {
      saw_processes = true;
      EXPECT_EQ(m.metric_type(), v1::GAUGE);
      EXPECT_GE(m.value().value(), 2u);
    }
    if (m.name() == "container_network_receive_bytes_total") {
      saw_rx = true;
      EXPECT_EQ(m.metric_type(), v1::COUNTER);
    }
  }
  EXPECT_TRUE(saw_processes);
  EXPECT_TRUE(saw_rx);
  ASSERT_EQ(pod.container_metrics_size(), 1);
  for (const auto& m : pod.container_metrics(0).metrics()) {
    const auto& keys = descriptors[m.name()].label_keys();
    ASSERT_EQ(m.label_values_size(), keys.size()) << m.name();
    for (int i = 0; i < keys.size(); ++i) {
      if (keys[i] == "container") {
        EXPECT_EQ(m.label_values(i), "mem");
      }
      if (keys[i] == "pod") {
        EXPECT_EQ(m.label_values(i), "stats");
      }
      if (keys[i] == "namespace") {
        EXPECT_EQ(m.label_values(i), "cri-test");
      }
      if (keys[i] == "image") {
        EXPECT_EQ(m.label_values(i), BusyboxRef());
      }
    }
  }
}

// ---- GetContainerEvents ------------------------------------------------------------------------

class EventStream {
 public:
  explicit EventStream(Stub& stub) {
    v1::GetEventsRequest req;
    // A stream that never delivers ends the test with a failure, not a hang.
    ctx_.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    reader_ = stub.GetContainerEvents(&ctx_, req);
    reader_->WaitForInitialMetadata();  // the server sends it once subscribed
    ready_ = true;
  }
  ~EventStream() {
    ctx_.TryCancel();
    v1::ContainerEventResponse ignored;
    while (reader_->Read(&ignored)) {
    }
    (void)reader_->Finish();
  }
  bool ready() const { return ready_; }

  // Reads until an event of `type` for `id` arrives; every event for `id` on the way is kept.
  bool ReadUntil(const std::string& id, v1::ContainerEventType type,
                 std::vector<v1::ContainerEventResponse>* seen) {
    v1::ContainerEventResponse event;
    while (reader_->Read(&event)) {
      if (event.container_id() != id) continue;
      seen->push_back(event);
      if (event.container_event_type() == type) return true;
    }
    return false;
  }

 private:
  grpc::ClientContext ctx_;
  std::unique_ptr<grpc::ClientReader<v1::ContainerEventResponse>> reader_;
  bool ready_ = false;
};

std::vector<v1::ContainerEventType> Types(const std::vector<v1::ContainerEventResponse>& events) {
  std::vector<v1::ContainerEventType> types;
  for (const auto& e : events) types.push_back(e.container_event_type());
  return types;
}

TEST_F(CriStats, EventsStreamCreatedStartedStoppedDeletedInOrder) {
  EventStream stream(runtime());
  ASSERT_TRUE(stream.ready());
  std::string id;
  ASSERT_TRUE(Create(Config("life", "exec sleep 3600"), &id).ok());
  ASSERT_TRUE(Start(id).ok());
  v1::StopContainerRequest stop;
  stop.set_container_id(id);
  stop.set_timeout(0);
  v1::StopContainerResponse stop_resp;
  ASSERT_TRUE(CriCall(runtime(), &Stub::StopContainer, stop, &stop_resp).ok());
  v1::RemoveContainerRequest remove;
  remove.set_container_id(id);
  v1::RemoveContainerResponse remove_resp;
  ASSERT_TRUE(CriCall(runtime(), &Stub::RemoveContainer, remove, &remove_resp).ok());

  std::vector<v1::ContainerEventResponse> events;
  ASSERT_TRUE(stream.ReadUntil(id, v1::CONTAINER_DELETED_EVENT, &events));
  EXPECT_EQ(Types(events), (std::vector<v1::ContainerEventType>{
                               v1::CONTAINER_CREATED_EVENT, v1::CONTAINER_STARTED_EVENT,
                               v1::CONTAINER_STOPPED_EVENT, v1::CONTAINER_DELETED_EVENT}));
  int64_t previous = 0;
  for (const auto& e : events) {
    EXPECT_EQ(e.pod_sandbox_status().id(), pod_id_);
    EXPECT_EQ(e.pod_sandbox_status().state(), v1::SANDBOX_READY);
    EXPECT_GE(e.created_at(), previous);
    previous = e.created_at();
  }
  auto state_in = [&](const v1::ContainerEventResponse& e) {
    for (const auto& s : e.containers_statuses()) {
      if (s.id() == id) return s.state();
    }
    return v1::CONTAINER_UNKNOWN;
  };
  EXPECT_EQ(state_in(events[0]), v1::CONTAINER_CREATED);
  EXPECT_EQ(state_in(events[1]), v1::CONTAINER_RUNNING);
  EXPECT_EQ(state_in(events[2]), v1::CONTAINER_EXITED);
  EXPECT_EQ(events[3].containers_statuses_size(), 0);  // it is gone
}

TEST_F(CriStats, AnExitNoticedByTheMonitorIsAStoppedEventWithTheExitCode) {
  EventStream stream(runtime());
  ASSERT_TRUE(stream.ready());
  std::string id = Run("quits", "exit 3");
  std::vector<v1::ContainerEventResponse> events;
  ASSERT_TRUE(stream.ReadUntil(id, v1::CONTAINER_STOPPED_EVENT, &events));
  ASSERT_FALSE(events.empty());
  bool found = false;
  for (const auto& s : events.back().containers_statuses()) {
    if (s.id() != id) continue;
    found = true;
    EXPECT_EQ(s.state(), v1::CONTAINER_EXITED);
    EXPECT_EQ(s.exit_code(), 3);
  }
  EXPECT_TRUE(found);
}

TEST_F(CriStats, SandboxLifecycleIsStreamedUnderTheSandboxId) {
  EventStream stream(runtime());
  ASSERT_TRUE(stream.ready());
  std::string pod;
  ASSERT_TRUE(RunPod(TestPodConfig("evented"), &pod).ok());
  ASSERT_TRUE(StopPod(pod).ok());
  ASSERT_TRUE(RemovePod(pod).ok());
  std::vector<v1::ContainerEventResponse> events;
  ASSERT_TRUE(stream.ReadUntil(pod, v1::CONTAINER_DELETED_EVENT, &events));
  EXPECT_EQ(Types(events), (std::vector<v1::ContainerEventType>{
                               v1::CONTAINER_CREATED_EVENT, v1::CONTAINER_STARTED_EVENT,
                               v1::CONTAINER_STOPPED_EVENT, v1::CONTAINER_DELETED_EVENT}));
  EXPECT_EQ(events[0].pod_sandbox_status().metadata().name(), "evented");
  EXPECT_EQ(events[2].pod_sandbox_status().state(), v1::SANDBOX_NOTREADY);
}

TEST_F(CriStats, APodWhosePauseDiesIsAStoppedEvent) {
  EventStream stream(runtime());
  ASSERT_TRUE(stream.ready());
  v1::PodSandboxStatusRequest req;
  req.set_pod_sandbox_id(pod_id_);
  req.set_verbose(true);
  v1::PodSandboxStatusResponse resp;
  ASSERT_TRUE(CriCall(runtime(), &Stub::PodSandboxStatus, req, &resp).ok());
  pid_t pause = std::stoi(resp.info().at("pid"));
  ASSERT_GT(pause, 1);
  // The pod's own pause, started by this test's daemon: the exit monitor must notice it.
  ASSERT_EQ(::kill(pause, SIGKILL), 0);
  std::vector<v1::ContainerEventResponse> events;
  ASSERT_TRUE(stream.ReadUntil(pod_id_, v1::CONTAINER_STOPPED_EVENT, &events));
  EXPECT_EQ(events.back().pod_sandbox_status().state(), v1::SANDBOX_NOTREADY);
}

}  // namespace
}  // namespace peapod::testing
