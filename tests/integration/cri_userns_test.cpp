// User namespaces (KEP-127, hostUsers: false) through CRI against a real peapodd: a pod with
// userns mode POD runs as the mappings say (uid 0 inside is an unprivileged host uid), its root
// filesystem and volumes are idmapped (a host file shows its real owner, what the container
// writes to its root filesystem lands on the node as the mapped uid), its capabilities are its
// own, what kubelet must not combine with a user namespace is refused, and a killed agent
// re-adopts the pod and leaves nothing behind once it is removed.
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "cri_test_fixture.h"
#include "peapod/parse.h"
#include "support/temp_dir.h"

namespace peapod::testing {
namespace {

using Stub = v1::RuntimeService::Stub;

// A range far from what other suites or the node use: range 40 of kubelet's scheme.
constexpr uint32_t kHostBase = 40 * 65536;
constexpr uint32_t kRangeLength = 65536;

void SetMappings(v1::UserNamespace* userns, uint32_t host_id) {
  userns->set_mode(v1::POD);
  for (auto* m : {userns->add_uids(), userns->add_gids()}) {
    m->set_host_id(host_id);
    m->set_container_id(0);
    m->set_length(kRangeLength);
  }
}

struct ExecResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

class CriUserNamespace : public CriBusyboxTest {
 protected:
  v1::PodSandboxConfig PodConfig(const std::string& name) {
    auto config = TestPodConfig(name);
    SetMappings(config.mutable_linux()
                    ->mutable_security_context()
                    ->mutable_namespace_options()
                    ->mutable_userns_options(),
                kHostBase);
    return config;
  }

  v1::ContainerConfig Config(const std::string& name, const v1::PodSandboxConfig& pod) {
    v1::ContainerConfig config;
    config.mutable_metadata()->set_name(name);
    config.mutable_image()->set_image(BusyboxRef());
    config.add_command("sleep");
    config.add_command("600");
    // As kubelet: the pod's user namespace options again.
    *config.mutable_linux()->mutable_security_context()->mutable_namespace_options() =
        pod.linux().security_context().namespace_options();
    return config;
  }

  grpc::Status Create(const std::string& pod_id, const v1::PodSandboxConfig& pod,
                      const v1::ContainerConfig& config, std::string* id) {
    v1::CreateContainerRequest req;
    req.set_pod_sandbox_id(pod_id);
    *req.mutable_config() = config;
    *req.mutable_sandbox_config() = pod;
    v1::CreateContainerResponse resp;
    auto status = CriCall(runtime(), &Stub::CreateContainer, req, &resp);
    if (id != nullptr) *id = resp.container_id();
    return status;
  }

  ExecResult Exec(const std::string& id, const std::string& script) {
    v1::ExecSyncRequest req;
    req.set_container_id(id);
    req.add_cmd("sh");
    req.add_cmd("-c");
    req.add_cmd(script);
    req.set_timeout(30);
    v1::ExecSyncResponse resp;
    auto status = CriCall(runtime(), &Stub::ExecSync, req, &resp);
    EXPECT_TRUE(status.ok()) << script << ": " << Describe(status);
    return {resp.exit_code(), resp.stdout(), resp.stderr()};
  }

  pid_t ContainerPid(const std::string& id) {
    v1::ContainerStatusRequest req;
    req.set_container_id(id);
    req.set_verbose(true);
    v1::ContainerStatusResponse resp;
    auto status = CriCall(runtime(), &Stub::ContainerStatus, req, &resp);
    EXPECT_TRUE(status.ok()) << Describe(status);
    auto it = resp.info().find("pid");
    auto pid = it == resp.info().end() ? std::nullopt : peapod::ParseSigned(it->second);
    EXPECT_TRUE(pid.has_value()) << "no numeric pid in the verbose status";
    return static_cast<int>(pid.value_or(0));
  }

  std::string UpperDir(const std::string& id) {
    return daemon_->state_root() + "/image/containers/" + id + "/upper";
  }

  void RemoveAllAndExpectNoLeftovers() {
    for (const auto& pod : ListPods()) {
      auto status = RemovePod(pod.id());
      EXPECT_TRUE(status.ok()) << Describe(status);
    }
    EXPECT_TRUE(ListPods().empty());
    auto left = daemon_->Leftovers();
    EXPECT_TRUE(left.empty()) << ::testing::PrintToString(left);
  }

  TempDir volume_{"peapod-userns-volume"};
};

TEST_F(CriUserNamespace, StatusSaysUserNamespacesWork) {
  v1::StatusRequest req;
  v1::StatusResponse resp;
  auto status = CriCall(runtime(), &Stub::Status, req, &resp);
  ASSERT_TRUE(status.ok()) << Describe(status);
  ASSERT_FALSE(resp.runtime_handlers().empty());
  for (const auto& handler : resp.runtime_handlers()) {
    EXPECT_TRUE(handler.features().user_namespaces()) << "handler \"" << handler.name() << "\"";
  }
}

TEST_F(CriUserNamespace, RootInThePodIsAnUnprivilegedUidOnTheNode) {
  // A host file owned by uid 1234, and one owned by a uid outside what the pod maps.
  std::string owned = volume_ / "owned";
  std::string foreign = volume_ / "foreign";
  WriteFile(owned, "owned by 1234\n");
  WriteFile(foreign, "not the pod's\n");
  ASSERT_EQ(::chown(owned.c_str(), 1234, 1234), 0);
  ASSERT_EQ(::chown(foreign.c_str(), 70000, 70000), 0);
  ASSERT_EQ(::chmod(foreign.c_str(), 0600), 0);

  auto pod = PodConfig("mapped");
  std::string pod_id;
  auto run = RunPod(pod, &pod_id);
  ASSERT_TRUE(run.ok()) << Describe(run);
  auto config = Config("app", pod);
  auto* m = config.add_mounts();
  m->set_container_path("/data");
  m->set_host_path(volume_.path());
  std::string id;
  auto created = Create(pod_id, pod, config, &id);
  ASSERT_TRUE(created.ok()) << Describe(created);
  auto started = Start(id);
  ASSERT_TRUE(started.ok()) << Describe(started);

  // The node sees the container's process in the pod's user namespace with kubelet's mapping.
  pid_t pid = ContainerPid(id);
  ASSERT_GT(pid, 0);
  std::string uid_map = ReadFile("/proc/" + std::to_string(pid) + "/uid_map");
  std::istringstream fields(uid_map);  // "%10u %10u %10u"
  uint64_t inside = 1, outside = 0, length = 0;
  fields >> inside >> outside >> length;
  EXPECT_EQ(inside, 0u) << uid_map;
  EXPECT_EQ(outside, kHostBase) << uid_map;
  EXPECT_EQ(length, kRangeLength) << uid_map;
  struct stat st {};
  ASSERT_EQ(::stat(("/proc/" + std::to_string(pid)).c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, kHostBase) << "the process runs as the mapped uid on the node";

  // Inside it is root, and so are the image's files and its root directory.
  auto ids = Exec(id, "id -u; id -g; stat -c %u:%g / /bin/sh /etc/hosts");
  EXPECT_EQ(ids.exit_code, 0) << ids.err;
  EXPECT_EQ(ids.out, "0\n0\n0:0\n0:0\n0:0\n");

  // What it writes to its root filesystem lands on the node as the mapped uid.
  auto wrote = Exec(id, "echo hi > /written && mkdir -p /made/deep");
  EXPECT_EQ(wrote.exit_code, 0) << wrote.err;
  ASSERT_EQ(::stat((UpperDir(id) + "/written").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, kHostBase);
  EXPECT_EQ(st.st_gid, kHostBase);
  ASSERT_EQ(::stat((UpperDir(id) + "/made/deep").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, kHostBase);

  // The bind-mounted host file shows its real owner (not nobody); a file the pod does not map
  // stays the overflow id, and root of the pod has no power over it: its capabilities are the
  // pod's, not the node's.
  auto owners = Exec(id, "stat -c %u:%g /data/owned /data/foreign");
  EXPECT_EQ(owners.out, "1234:1234\n65534:65534\n") << owners.err;
  auto read_foreign = Exec(id, "cat /data/foreign");
  EXPECT_NE(read_foreign.exit_code, 0) << "root of the pod read a file it does not map";
  auto touch_owned = Exec(id, "echo more >> /data/owned");
  EXPECT_EQ(touch_owned.exit_code, 0) << touch_owned.err;
  EXPECT_EQ(ReadFile(owned), "owned by 1234\nmore\n");

  // Through the idmapped volume, root of the pod writes as the node's root would: the mapping
  // is the identity on the volume's own ids (kubelet's and containerd's semantics).
  auto create_in_volume = Exec(id, "touch /data/new");
  EXPECT_EQ(create_in_volume.exit_code, 0) << create_in_volume.err;
  ASSERT_EQ(::stat((volume_ / "new").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 0u);

  RemoveAllAndExpectNoLeftovers();
}

TEST_F(CriUserNamespace, WhatCannotBeCombinedWithAUserNamespaceIsRefused) {
  struct Case {
    const char* what;
    std::function<void(v1::PodSandboxConfig&)> change;
    const char* field;
  };
  std::vector<Case> cases = {
      {"host network",
       [](auto& c) {
         c.mutable_linux()->mutable_security_context()->mutable_namespace_options()->set_network(
             v1::NODE);
       },
       "hostNetwork"},
      {"host PID",
       [](auto& c) {
         c.mutable_linux()->mutable_security_context()->mutable_namespace_options()->set_pid(
             v1::NODE);
       },
       "hostPID"},
      {"a privileged pod",
       [](auto& c) { c.mutable_linux()->mutable_security_context()->set_privileged(true); },
       "privileged"},
      {"a range with the node's root in it",
       [](auto& c) {
         c.mutable_linux()
             ->mutable_security_context()
             ->mutable_namespace_options()
             ->mutable_userns_options()
             ->mutable_uids(0)
             ->set_host_id(0);
       },
       "the node's root"},
      {"a range shorter than 65536",
       [](auto& c) {
         c.mutable_linux()
             ->mutable_security_context()
             ->mutable_namespace_options()
             ->mutable_userns_options()
             ->mutable_gids(0)
             ->set_length(1000);
       },
       "at least 65536"},
      {"a range that does not start at container id 0",
       [](auto& c) {
         c.mutable_linux()
             ->mutable_security_context()
             ->mutable_namespace_options()
             ->mutable_userns_options()
             ->mutable_uids(0)
             ->set_container_id(1);
       },
       "container id 0"},
      {"mode CONTAINER",
       [](auto& c) {
         c.mutable_linux()
             ->mutable_security_context()
             ->mutable_namespace_options()
             ->mutable_userns_options()
             ->set_mode(v1::CONTAINER);
       },
       "POD or NODE"},
      {"two ranges",
       [](auto& c) {
         auto* extra = c.mutable_linux()
                           ->mutable_security_context()
                           ->mutable_namespace_options()
                           ->mutable_userns_options()
                           ->add_uids();
         extra->set_host_id(kHostBase + kRangeLength);
         extra->set_container_id(kRangeLength);
         extra->set_length(kRangeLength);
       },
       "exactly one mapping"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    auto config = PodConfig("refused");
    c.change(config);
    std::string id;
    auto status = RunPod(config, &id);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << Describe(status);
    EXPECT_NE(status.error_message().find(c.field), std::string::npos) << Describe(status);
    EXPECT_TRUE(ListPods().empty());
  }

  // A privileged container, and a container asking for another user namespace than its pod's.
  auto pod = PodConfig("box");
  std::string pod_id;
  auto run = RunPod(pod, &pod_id);
  ASSERT_TRUE(run.ok()) << Describe(run);
  auto privileged = Config("privileged", pod);
  privileged.mutable_linux()->mutable_security_context()->set_privileged(true);
  std::string id;
  auto status = Create(pod_id, pod, privileged, &id);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << Describe(status);
  EXPECT_NE(status.error_message().find("privileged"), std::string::npos) << Describe(status);
  auto other = Config("other-range", pod);
  SetMappings(other.mutable_linux()
                  ->mutable_security_context()
                  ->mutable_namespace_options()
                  ->mutable_userns_options(),
              kHostBase + kRangeLength);
  other.mutable_linux()
      ->mutable_security_context()
      ->mutable_namespace_options()
      ->mutable_userns_options()
      ->mutable_uids()
      ->DeleteSubrange(0, 1);
  other.mutable_linux()
      ->mutable_security_context()
      ->mutable_namespace_options()
      ->mutable_userns_options()
      ->mutable_gids()
      ->DeleteSubrange(0, 1);
  status = Create(pod_id, pod, other, &id);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << Describe(status);
  EXPECT_NE(status.error_message().find("userns_options"), std::string::npos) << Describe(status);
  EXPECT_TRUE(ListContainers().empty());
  RemoveAllAndExpectNoLeftovers();
}

TEST_F(CriUserNamespace, KillNineAndRestartReadoptsThePodInItsUserNamespace) {
  auto pod = PodConfig("survivor");
  std::string pod_id;
  auto run = RunPod(pod, &pod_id);
  ASSERT_TRUE(run.ok()) << Describe(run);
  std::string id;
  auto created = Create(pod_id, pod, Config("app", pod), &id);
  ASSERT_TRUE(created.ok()) << Describe(created);
  ASSERT_TRUE(Start(id).ok());
  pid_t before = ContainerPid(id);

  int wait_status = daemon_->Terminate(SIGKILL);
  ASSERT_TRUE(WIFSIGNALED(wait_status) && WTERMSIG(wait_status) == SIGKILL) << wait_status;
  auto restarted = daemon_->Restart();
  ASSERT_TRUE(restarted) << restarted.error().ToString();

  EXPECT_EQ(ContainerPid(id), before) << "the same process, re-adopted";
  // An exec after the restart still joins the pod's user namespace.
  auto ids = Exec(id, "id -u; cat /proc/self/uid_map");
  EXPECT_EQ(ids.exit_code, 0) << ids.err;
  EXPECT_NE(ids.out.find(std::to_string(kHostBase)), std::string::npos) << ids.out;
  EXPECT_TRUE(ids.out.starts_with("0\n")) << ids.out;
  RemoveAllAndExpectNoLeftovers();
}

}  // namespace
}  // namespace peapod::testing
