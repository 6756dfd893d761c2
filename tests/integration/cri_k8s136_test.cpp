// The CRI of Kubernetes 1.31-1.36 against a real peapodd with busybox from a local registry:
// ContainerConfig.stop_signal and ContainerStatus.stop_signal (KEP-4960), recursive read-only
// mounts (KEP-3857), SupplementalGroupsPolicy and ContainerStatus.user (KEP-3619), PSI and IO in
// the stats (KEP-4205), the Stream* list verbs (KEP-5825) and the features Status reports.
#include <sys/mount.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "cri_test_fixture.h"
#include "peapod/runtime/cgroup.h"
#include "support/temp_dir.h"

namespace peapod::testing {
namespace {

using Stub = v1::RuntimeService::Stub;

// The enum's values share <signal.h>'s macro names, so tests spell them as strings too.
v1::Signal SignalNamed(const std::string& name) {
  v1::Signal out = static_cast<v1::Signal>(0);
  EXPECT_TRUE(v1::Signal_Parse(name, &out)) << name;
  return out;
}

std::string SignalName(v1::Signal value) { return v1::Signal_Name(value); }

// The cgroup v2 mount point, "" when this host has no v2 hierarchy.
std::string CgroupV2Mount() {
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line)) {
    auto dash = line.find(" - cgroup2 ");
    if (dash == std::string::npos) continue;
    // "id parent major:minor root mount-point ..."
    size_t pos = 0;
    for (int field = 0; field < 4; ++field) pos = line.find(' ', pos) + 1;
    return line.substr(pos, line.find(' ', pos) - pos);
  }
  return "";
}

class CriK8s136 : public CriBusyboxTest {
 protected:
  void SetUp() override {
    CriBusyboxTest::SetUp();
    if (HasFatalFailure()) return;
    pod_config_ = TestPodConfig("k8s136");
    auto status = RunPod(pod_config_, &pod_id_);
    ASSERT_TRUE(status.ok()) << Describe(status);
  }

  v1::ContainerConfig Config(const std::string& name, const std::string& script) {
    v1::ContainerConfig config;
    config.mutable_metadata()->set_name(name);
    config.mutable_image()->set_image(BusyboxRef());
    for (const char* arg : {"sh", "-c"}) config.add_command(arg);
    config.add_command(script);
    (*config.mutable_labels())["container"] = name;
    return config;
  }

  grpc::Status Create(const v1::ContainerConfig& config, std::string* id) {
    v1::CreateContainerRequest req;
    req.set_pod_sandbox_id(pod_id_);
    *req.mutable_config() = config;
    *req.mutable_sandbox_config() = pod_config_;
    v1::CreateContainerResponse resp;
    auto status = CriCall(runtime(), &Stub::CreateContainer, req, &resp);
    if (id != nullptr) *id = resp.container_id();
    return status;
  }

  std::string Run(const v1::ContainerConfig& config) {
    std::string id;
    auto status = Create(config, &id);
    EXPECT_TRUE(status.ok()) << Describe(status);
    if (!status.ok()) return "";
    status = Start(id);
    EXPECT_TRUE(status.ok()) << Describe(status);
    return id;
  }

  // Runs `sh -c script`; "exit N: stderr" when it fails.
  std::string Exec(const std::string& id, const std::string& script) {
    v1::ExecSyncRequest req;
    req.set_container_id(id);
    for (const char* arg : {"sh", "-c"}) req.add_cmd(arg);
    req.add_cmd(script);
    req.set_timeout(10);
    v1::ExecSyncResponse resp;
    auto status = CriCall(runtime(), &Stub::ExecSync, req, &resp);
    if (!status.ok()) return "exec failed: " + Describe(status);
    if (resp.exit_code() != 0) {
      return "exit " + std::to_string(resp.exit_code()) + ": " + resp.stderr();
    }
    return resp.stdout();
  }

  v1::ContainerStatus Status(const std::string& id) {
    v1::ContainerStatusRequest req;
    req.set_container_id(id);
    v1::ContainerStatusResponse resp;
    auto status = CriCall(runtime(), &Stub::ContainerStatus, req, &resp);
    EXPECT_TRUE(status.ok()) << Describe(status);
    return resp.status();
  }

  // Reads a whole Stream* answer: every item of every message, and the final status.
  template <typename Request, typename Response, typename Item>
  grpc::Status ReadStream(std::unique_ptr<grpc::ClientReader<Response>> (Stub::*method)(
                              grpc::ClientContext*, const Request&),
                          const Request& req,
                          const google::protobuf::RepeatedPtrField<Item>& (Response::*items)()
                              const,
                          std::vector<Item>* out, size_t* messages) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    auto reader = (runtime().*method)(&ctx, req);
    Response resp;
    while (reader->Read(&resp)) {
      ++*messages;
      EXPECT_GT((resp.*items)().size(), 0) << "a Stream* message without items";
      out->insert(out->end(), (resp.*items)().begin(), (resp.*items)().end());
    }
    return reader->Finish();
  }

  v1::PodSandboxConfig pod_config_;
  std::string pod_id_;
};

TEST_F(CriK8s136, StopSignalFromTheConfigIsWhatStopContainerSendsAndStatusReports) {
  auto config = Config("usr1", "trap 'exit 42' USR1; while true; do sleep 0.1; done");
  config.set_stop_signal(SignalNamed("SIGUSR1"));
  std::string id = Run(config);
  ASSERT_FALSE(id.empty());
  EXPECT_EQ(SignalName(Status(id).stop_signal()), "SIGUSR1");

  v1::StopContainerRequest stop;
  stop.set_container_id(id);
  stop.set_timeout(30);
  v1::StopContainerResponse stop_resp;
  ASSERT_TRUE(CriCall(runtime(), &Stub::StopContainer, stop, &stop_resp).ok());
  auto status = Status(id);
  EXPECT_EQ(status.state(), v1::CONTAINER_EXITED);
  // 42 is the trap's: SIGTERM would have ended sh with 143, SIGKILL with 137.
  EXPECT_EQ(status.exit_code(), 42);
  EXPECT_EQ(SignalName(status.stop_signal()), "SIGUSR1");
}

TEST_F(CriK8s136, WithoutAStopSignalTheImagesOrSigtermIsReportedAndRealTimeNamesMap) {
  std::string plain = Run(Config("plain", "sleep 3600"));
  ASSERT_FALSE(plain.empty());
  EXPECT_EQ(SignalName(Status(plain).stop_signal()), "SIGTERM");

  auto config = Config("rt", "sleep 3600");
  config.set_stop_signal(SignalNamed("SIGRTMINPLUS3"));
  std::string rt = Run(config);
  ASSERT_FALSE(rt.empty());
  EXPECT_EQ(SignalName(Status(rt).stop_signal()), "SIGRTMINPLUS3");

  auto bad = Config("bad", "sleep 3600");
  bad.set_stop_signal(static_cast<v1::Signal>(500));
  auto status = Create(bad, nullptr);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << Describe(status);
  EXPECT_NE(status.error_message().find("stop signal"), std::string::npos) << Describe(status);
}

// A host directory with a tmpfs mounted below it: what a read-only bind does to the submount.
class CriRecursiveReadOnly : public CriK8s136 {
 protected:
  void SetUp() override {
    CriK8s136::SetUp();
    if (HasFatalFailure()) return;
    source_ = dir_.path() + "/volume";
    std::filesystem::create_directories(source_ + "/sub");
    ASSERT_EQ(::mount("tmpfs", (source_ + "/sub").c_str(), "tmpfs", 0, "size=1m"), 0);
    submounted_ = true;
  }
  void TearDown() override {
    CriK8s136::TearDown();  // the containers (and their copies of the tree) go first
    if (submounted_) ::umount2((source_ + "/sub").c_str(), MNT_DETACH);
  }

  v1::ContainerConfig WithVolume(const std::string& name, bool readonly, bool recursive,
                                 v1::MountPropagation propagation = v1::PROPAGATION_PRIVATE) {
    auto config = Config(name, "sleep 3600");
    auto* m = config.add_mounts();
    m->set_container_path("/data");
    m->set_host_path(source_);
    m->set_readonly(readonly);
    m->set_recursive_read_only(recursive);
    m->set_propagation(propagation);
    return config;
  }

  TempDir dir_;
  std::string source_;
  bool submounted_ = false;
};

TEST_F(CriRecursiveReadOnly, ASubmountUnderARecursiveReadOnlyBindIsReadOnlyInside) {
  std::string id = Run(WithVolume("rro", true, true));
  ASSERT_FALSE(id.empty());
  EXPECT_NE(Exec(id, "touch /data/top").find("Read-only file system"), std::string::npos);
  EXPECT_NE(Exec(id, "touch /data/sub/inner").find("Read-only file system"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(source_ + "/sub/inner"));
  auto status = Status(id);
  ASSERT_EQ(status.mounts_size(), 1);
  EXPECT_TRUE(status.mounts(0).recursive_read_only());
}

TEST_F(CriRecursiveReadOnly, APlainReadOnlyBindLeavesTheSubmountWritableAsKubernetesExpects) {
  std::string id = Run(WithVolume("ro", true, false));
  ASSERT_FALSE(id.empty());
  EXPECT_NE(Exec(id, "touch /data/top").find("Read-only file system"), std::string::npos);
  EXPECT_EQ(Exec(id, "touch /data/sub/inner && echo ok"), "ok\n");
  EXPECT_TRUE(std::filesystem::exists(source_ + "/sub/inner"));
}

TEST_F(CriRecursiveReadOnly, RecursiveReadOnlyNeedsReadOnlyAndPrivatePropagation) {
  auto status = Create(WithVolume("writable", false, true), nullptr);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << Describe(status);
  status = Create(WithVolume("slave", true, true, v1::PROPAGATION_HOST_TO_CONTAINER), nullptr);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << Describe(status);
  EXPECT_TRUE(ListContainers().empty());
}

TEST_F(CriK8s136, StatusReportsRecursiveReadOnlyPerHandlerAndSupplementalGroupsPolicy) {
  v1::StatusRequest req;
  v1::StatusResponse resp;
  auto status = CriCall(runtime(), &Stub::Status, req, &resp);
  ASSERT_TRUE(status.ok()) << Describe(status);
  ASSERT_GE(resp.runtime_handlers_size(), 1);
  EXPECT_EQ(resp.runtime_handlers(0).name(), "");
  for (const auto& handler : resp.runtime_handlers()) {
    EXPECT_TRUE(handler.features().recursive_read_only_mounts()) << handler.name();
  }
  EXPECT_TRUE(resp.features().supplemental_groups_policy());
}

// busybox's /etc/group makes "app" (uid 1000, gid 1000) a member of "users" (100).
TEST_F(CriK8s136, MergeAddsTheImagesGroupsStrictDoesNotAndStatusSaysWhichTheProcessGot) {
  auto with_policy = [&](const std::string& name, v1::SupplementalGroupsPolicy policy) {
    // The first process writes down its own groups, as the kernel gave them.
    auto config = Config(name, "grep '^Groups:' /proc/self/status > /tmp/groups; sleep 3600");
    auto* sc = config.mutable_linux()->mutable_security_context();
    sc->mutable_run_as_user()->set_value(1000);
    sc->add_supplemental_groups(4000);
    sc->set_supplemental_groups_policy(policy);
    return config;
  };
  std::string merge = Run(with_policy("merge", v1::Merge));
  std::string strict = Run(with_policy("strict", v1::Strict));
  ASSERT_FALSE(merge.empty());
  ASSERT_FALSE(strict.empty());

  // What the kernel says the processes have, against what ContainerStatus.user reports.
  auto groups_of = [&](const std::string& id) {
    std::string line;
    for (int i = 0; i < 100 && line.rfind("Groups:", 0) != 0; ++i) {
      line = Exec(id, "cat /tmp/groups 2>/dev/null || sleep 0.1");
    }
    std::set<int64_t> groups;
    std::istringstream in(line.substr(line.find(':') + 1));
    for (int64_t g; in >> g;) groups.insert(g);
    return groups;
  };
  EXPECT_EQ(groups_of(merge), (std::set<int64_t>{100, 1000, 4000}));
  EXPECT_EQ(groups_of(strict), (std::set<int64_t>{1000, 4000}));

  for (const auto& [id, expected] : {std::pair{merge, std::set<int64_t>{100, 1000, 4000}},
                                     std::pair{strict, std::set<int64_t>{1000, 4000}}}) {
    auto status = Status(id);
    ASSERT_TRUE(status.has_user() && status.user().has_linux());
    const auto& user = status.user().linux();
    EXPECT_EQ(user.uid(), 1000);
    EXPECT_EQ(user.gid(), 1000);
    std::set<int64_t> reported(user.supplemental_groups().begin(),
                               user.supplemental_groups().end());
    EXPECT_EQ(reported, expected);
    EXPECT_EQ(reported, groups_of(id));
  }
}

TEST_F(CriK8s136, PressureFiguresArePresentWhereTheKernelGivesThemAndAbsentWhereNot) {
  std::string id = Run(Config("psi", "while true; do sleep 0.1; done"));
  ASSERT_FALSE(id.empty());
  v1::ContainerStatsRequest req;
  req.set_container_id(id);
  v1::ContainerStatsResponse resp;
  auto status = CriCall(runtime(), &Stub::ContainerStats, req, &resp);
  ASSERT_TRUE(status.ok()) << Describe(status);
  const auto& stats = resp.stats();

  std::string v2 = CgroupV2Mount();
  bool kernel_has_psi = !v2.empty() && std::filesystem::exists(v2 + "/io.pressure");
  ASSERT_TRUE(stats.has_cpu());
  ASSERT_TRUE(stats.has_memory());
  EXPECT_EQ(stats.cpu().has_psi(), kernel_has_psi);
  EXPECT_EQ(stats.memory().has_psi(), kernel_has_psi);
  EXPECT_EQ(stats.has_io(), kernel_has_psi);
  if (kernel_has_psi) {
    EXPECT_TRUE(stats.io().psi().has_some());
    EXPECT_GT(stats.io().timestamp(), 0);
    EXPECT_TRUE(stats.memory().psi().has_full());  // memory.pressure always has a full line
    for (double avg : {stats.cpu().psi().some().avg10(), stats.cpu().psi().some().avg300()}) {
      EXPECT_GE(avg, 0.0);
      EXPECT_LE(avg, 100.0);
    }
  }

  v1::PodSandboxStatsRequest pod_req;
  pod_req.set_pod_sandbox_id(pod_id_);
  v1::PodSandboxStatsResponse pod_resp;
  status = CriCall(runtime(), &Stub::PodSandboxStats, pod_req, &pod_resp);
  ASSERT_TRUE(status.ok()) << Describe(status);
  EXPECT_EQ(pod_resp.stats().linux().has_io(), kernel_has_psi);
}

TEST_F(CriK8s136, StreamVerbsAnswerWhatTheirListVerbsAnswerWithTheSameFilters) {
  std::string a = Run(Config("a", "sleep 3600"));
  std::string b = Run(Config("b", "sleep 3600"));
  ASSERT_FALSE(a.empty());
  ASSERT_FALSE(b.empty());

  v1::StreamContainersRequest containers_req;
  std::vector<v1::Container> containers;
  size_t messages = 0;
  auto status = ReadStream(&Stub::StreamContainers, containers_req,
                           &v1::StreamContainersResponse::containers, &containers, &messages);
  ASSERT_TRUE(status.ok()) << Describe(status);
  EXPECT_EQ(containers.size(), ListContainers().size());
  EXPECT_EQ(containers.size(), 2u);

  (*containers_req.mutable_filter()->mutable_label_selector())["container"] = "b";
  containers.clear();
  status = ReadStream(&Stub::StreamContainers, containers_req,
                      &v1::StreamContainersResponse::containers, &containers, &messages);
  ASSERT_TRUE(status.ok()) << Describe(status);
  ASSERT_EQ(containers.size(), 1u);
  EXPECT_EQ(containers[0].id(), b);

  // A filter nothing matches: no message at all, and a clean end.
  containers_req.mutable_filter()->set_id("no-such-container");
  containers.clear();
  size_t empty_messages = 0;
  status = ReadStream(&Stub::StreamContainers, containers_req,
                      &v1::StreamContainersResponse::containers, &containers, &empty_messages);
  ASSERT_TRUE(status.ok()) << Describe(status);
  EXPECT_TRUE(containers.empty());
  EXPECT_EQ(empty_messages, 0u);

  v1::StreamPodSandboxesRequest pods_req;
  pods_req.mutable_filter()->set_id(pod_id_);
  std::vector<v1::PodSandbox> pods;
  status = ReadStream(&Stub::StreamPodSandboxes, pods_req,
                      &v1::StreamPodSandboxesResponse::pod_sandboxes, &pods, &messages);
  ASSERT_TRUE(status.ok()) << Describe(status);
  ASSERT_EQ(pods.size(), 1u);
  EXPECT_EQ(pods[0].id(), pod_id_);

  v1::StreamContainerStatsRequest stats_req;
  stats_req.mutable_filter()->set_id(a);
  std::vector<v1::ContainerStats> stats;
  status = ReadStream(&Stub::StreamContainerStats, stats_req,
                      &v1::StreamContainerStatsResponse::container_stats, &stats, &messages);
  ASSERT_TRUE(status.ok()) << Describe(status);
  ASSERT_EQ(stats.size(), 1u);
  EXPECT_EQ(stats[0].attributes().id(), a);

  v1::StreamPodSandboxStatsRequest pod_stats_req;
  std::vector<v1::PodSandboxStats> pod_stats;
  status = ReadStream(&Stub::StreamPodSandboxStats, pod_stats_req,
                      &v1::StreamPodSandboxStatsResponse::pod_sandbox_stats, &pod_stats, &messages);
  ASSERT_TRUE(status.ok()) << Describe(status);
  ASSERT_EQ(pod_stats.size(), 1u);
  EXPECT_EQ(pod_stats[0].attributes().id(), pod_id_);
  EXPECT_EQ(pod_stats[0].linux().containers_size(), 2);

  v1::StreamPodSandboxMetricsRequest metrics_req;
  std::vector<v1::PodSandboxMetrics> metrics;
  status =
      ReadStream(&Stub::StreamPodSandboxMetrics, metrics_req,
                 &v1::StreamPodSandboxMetricsResponse::pod_sandbox_metrics, &metrics, &messages);
  ASSERT_TRUE(status.ok()) << Describe(status);
  ASSERT_EQ(metrics.size(), 1u);
  EXPECT_EQ(metrics[0].pod_sandbox_id(), pod_id_);

  grpc::ClientContext ctx;
  v1::StreamImagesRequest images_req;
  images_req.mutable_filter()->mutable_image()->set_image(BusyboxRef());
  auto reader = images().StreamImages(&ctx, images_req);
  v1::StreamImagesResponse images_resp;
  std::vector<std::string> ids;
  while (reader->Read(&images_resp)) {
    for (const auto& image : images_resp.images()) ids.push_back(image.id());
  }
  ASSERT_TRUE(reader->Finish().ok());
  ASSERT_EQ(ids.size(), 1u);
  EXPECT_EQ(ids[0].rfind("sha256:", 0), 0u) << ids[0];
}

// In-place resize (KEP-1287) through the CRI, read back from the host's cgroup files.
class CriResize : public CriK8s136 {
 protected:
  void SetUp() override {
    CriK8s136::SetUp();
    if (HasFatalFailure()) return;
    auto driver = runtime::CgroupDriver::Detect();
    ASSERT_TRUE(driver) << driver.error().ToString();
    driver_ = std::make_shared<const runtime::CgroupDriver>(std::move(*driver));
  }

  runtime::Cgroup PodCgroup() const {
    return runtime::Cgroup(driver_, "/" + daemon_->cgroup_parent() + "/pod-" + pod_id_);
  }
  runtime::Cgroup ContainerCgroup(const std::string& id) const {
    return runtime::Cgroup(driver_, PodCgroup().path() + "/" + id);
  }

  // memory.max (v2) or memory.limit_in_bytes (v1), first line.
  static std::string MemoryLimit(const runtime::Cgroup& cgroup) {
    std::string dir = cgroup.DirFor("memory");
    std::string text = ReadFile(dir + "/memory.max");
    if (text.empty()) text = ReadFile(dir + "/memory.limit_in_bytes");
    return text.substr(0, text.find('\n'));
  }
  // "<quota> <period>" from cpu.max (v2) or the two v1 files.
  static std::string CpuMax(const runtime::Cgroup& cgroup) {
    std::string dir = cgroup.DirFor("cpu");
    auto line = [](std::string s) { return s.substr(0, s.find('\n')); };
    std::string v2 = ReadFile(dir + "/cpu.max");
    if (!v2.empty()) return line(v2);
    return line(ReadFile(dir + "/cpu.cfs_quota_us")) + " " +
           line(ReadFile(dir + "/cpu.cfs_period_us"));
  }
  // The container's first process: the lowest pid in its cgroup (its children come later, and
  // a shell may not have forked them yet when this is first read).
  static std::string Procs(const runtime::Cgroup& cgroup) {
    std::istringstream in(ReadFile(cgroup.DirFor("memory") + "/cgroup.procs"));
    long lowest = 0;
    for (long pid = 0; in >> pid;) lowest = lowest == 0 ? pid : std::min(lowest, pid);
    return lowest == 0 ? "" : std::to_string(lowest);
  }

  grpc::Status Update(const std::string& id, const v1::LinuxContainerResources& resources) {
    v1::UpdateContainerResourcesRequest req;
    req.set_container_id(id);
    *req.mutable_linux() = resources;
    v1::UpdateContainerResourcesResponse resp;
    return CriCall(runtime(), &Stub::UpdateContainerResources, req, &resp);
  }

  std::shared_ptr<const runtime::CgroupDriver> driver_;
};

v1::LinuxContainerResources Limits(int64_t memory, int64_t quota) {
  v1::LinuxContainerResources r;
  r.set_memory_limit_in_bytes(memory);
  r.set_cpu_period(100000);
  r.set_cpu_quota(quota);
  r.set_cpu_shares(512);
  return r;
}

constexpr int64_t kMiB = 1024 * 1024;

TEST_F(CriResize, UpdateContainerResourcesChangesTheRunningContainerInPlace) {
  auto config = Config("resized", "trap 'exit 0' TERM; sleep 3600 & wait");
  *config.mutable_linux()->mutable_resources() = Limits(64 * kMiB, 50000);
  std::string id = Run(config);
  ASSERT_FALSE(id.empty());
  auto cgroup = ContainerCgroup(id);
  ASSERT_EQ(MemoryLimit(cgroup), std::to_string(64 * kMiB));
  std::string procs = Procs(cgroup);
  ASSERT_FALSE(procs.empty());

  auto status = Update(id, Limits(96 * kMiB, 150000));
  ASSERT_TRUE(status.ok()) << Describe(status);
  EXPECT_EQ(MemoryLimit(cgroup), std::to_string(96 * kMiB));
  EXPECT_EQ(CpuMax(cgroup), "150000 100000");
  EXPECT_EQ(Procs(cgroup), procs);  // the same process: nothing was restarted
  auto st = Status(id);
  EXPECT_EQ(st.state(), v1::CONTAINER_RUNNING);
  EXPECT_EQ(st.resources().linux().memory_limit_in_bytes(), 96 * kMiB);
  EXPECT_EQ(st.resources().linux().cpu_quota(), 150000);
}

TEST_F(CriResize, MemoryLimitBelowWhatIsInUseIsRefusedAndNothingChanges) {
  // awk holds a 32 MiB string while sleep runs.
  auto config = Config("hungry",
                       "awk 'BEGIN { s = \"x\"; for (i = 0; i < 25; i++) s = s s; "
                       "system(\"sleep 3600\") }'");
  *config.mutable_linux()->mutable_resources() = Limits(160 * kMiB, 50000);
  std::string id = Run(config);
  ASSERT_FALSE(id.empty());
  auto cgroup = ContainerCgroup(id);
  bool filled = false;
  for (int i = 0; i < 300 && !filled; ++i) {  // bounded: 30 s
    auto stats = cgroup.Stats();
    filled = stats && stats->memory_working_set_bytes.value_or(0) > 24 * kMiB;
    if (!filled) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(filled) << "the container never used 24 MiB";
  std::string procs = Procs(cgroup);

  auto status = Update(id, Limits(8 * kMiB, 20000));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << Describe(status);
  EXPECT_NE(status.error_message().find("in use"), std::string::npos) << Describe(status);
  EXPECT_EQ(MemoryLimit(cgroup), std::to_string(160 * kMiB));
  EXPECT_EQ(CpuMax(cgroup), "50000 100000");  // refused before anything was written
  EXPECT_EQ(Procs(cgroup), procs);
  auto st = Status(id);
  EXPECT_EQ(st.state(), v1::CONTAINER_RUNNING);
  EXPECT_EQ(st.resources().linux().memory_limit_in_bytes(), 160 * kMiB);
}

TEST_F(CriResize, UpdateThatTheHostCannotHonourChangesNothing) {
  auto config = Config("strict", "trap 'exit 0' TERM; sleep 3600 & wait");
  *config.mutable_linux()->mutable_resources() = Limits(64 * kMiB, 50000);
  std::string id = Run(config);
  ASSERT_FALSE(id.empty());
  auto cgroup = ContainerCgroup(id);
  // cpu and memory would be written first; the hugepage size fails the update after them.
  auto bad = Limits(96 * kMiB, 150000);
  auto* huge = bad.add_hugepage_limits();
  huge->set_page_size("3MB");
  huge->set_limit(1 << 22);
  auto status = Update(id, bad);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << Describe(status);
  EXPECT_EQ(MemoryLimit(cgroup), std::to_string(64 * kMiB));
  EXPECT_EQ(CpuMax(cgroup), "50000 100000");
  EXPECT_EQ(Status(id).resources().linux().memory_limit_in_bytes(), 64 * kMiB);
}

TEST_F(CriResize, UpdatePodSandboxResourcesSetsThePodCgroupWithItsOverhead) {
  v1::UpdatePodSandboxResourcesRequest req;
  req.set_pod_sandbox_id(pod_id_);
  *req.mutable_resources() = Limits(256 * kMiB, 200000);
  req.mutable_overhead()->set_memory_limit_in_bytes(32 * kMiB);
  req.mutable_overhead()->set_cpu_quota(10000);
  v1::UpdatePodSandboxResourcesResponse resp;
  auto status = CriCall(runtime(), &Stub::UpdatePodSandboxResources, req, &resp);
  ASSERT_TRUE(status.ok()) << Describe(status);
  // kubelet sizes the pod cgroup as the containers plus the overhead.
  EXPECT_EQ(MemoryLimit(PodCgroup()), std::to_string(288 * kMiB));
  EXPECT_EQ(CpuMax(PodCgroup()), "210000 100000");

  // A container without limits of its own is bounded by the pod's.
  std::string id = Run(Config("unbounded", "trap 'exit 0' TERM; sleep 3600 & wait"));
  ASSERT_FALSE(id.empty());
  std::string procs = Procs(ContainerCgroup(id));

  // Shrinking without overhead in the request keeps the overhead the pod had.
  *req.mutable_resources() = Limits(128 * kMiB, 100000);
  req.clear_overhead();
  status = CriCall(runtime(), &Stub::UpdatePodSandboxResources, req, &resp);
  ASSERT_TRUE(status.ok()) << Describe(status);
  EXPECT_EQ(MemoryLimit(PodCgroup()), std::to_string(160 * kMiB));
  EXPECT_EQ(CpuMax(PodCgroup()), "110000 100000");
  EXPECT_EQ(Procs(ContainerCgroup(id)), procs);

  v1::UpdatePodSandboxResourcesRequest unknown;
  unknown.set_pod_sandbox_id("0123456789abcdef0123456789abcdef");
  status = CriCall(runtime(), &Stub::UpdatePodSandboxResources, unknown, &resp);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND) << Describe(status);
  v1::UpdatePodSandboxResourcesRequest empty;
  status = CriCall(runtime(), &Stub::UpdatePodSandboxResources, empty, &resp);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << Describe(status);
}

}  // namespace
}  // namespace peapod::testing
