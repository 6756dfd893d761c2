// What RunPodSandbox and CreateContainer make of the configs kubelet and critest send, against a
// real peapodd: the hostname a pod gets without one, the user/group pairs the CRI refuses, and
// mount propagation between the host and a container in both directions.
#include <sys/mount.h>
#include <sys/utsname.h>

#include <filesystem>
#include <thread>

#include "cri_test_fixture.h"
#include "support/temp_dir.h"

namespace peapod::testing {
namespace {

using Stub = v1::RuntimeService::Stub;

std::string NodeHostname() {
  utsname u{};
  return ::uname(&u) == 0 ? u.nodename : "";
}

class CriPodConfig : public CriBusyboxTest {
 protected:
  // Runs a pod from `config` and keeps it (and the config) for the container calls.
  void RunTestPod(v1::PodSandboxConfig config) {
    pod_config_ = std::move(config);
    auto status = RunPod(pod_config_, &pod_id_);
    ASSERT_TRUE(status.ok()) << Describe(status);
  }

  v1::ContainerConfig Config(const std::string& name, std::vector<std::string> command) {
    v1::ContainerConfig config;
    config.mutable_metadata()->set_name(name);
    config.mutable_image()->set_image(BusyboxRef());
    for (auto& c : command) config.add_command(c);
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

  // Creates and starts a container that sleeps; fails the test when either step fails.
  std::string RunSleeper(v1::ContainerConfig config) {
    std::string id;
    auto status = Create(config, &id);
    EXPECT_TRUE(status.ok()) << Describe(status);
    if (!status.ok()) return "";
    status = Start(id);
    EXPECT_TRUE(status.ok()) << Describe(status);
    return id;
  }

  // Runs `sh -c script` in the container; its stdout, or the failure in words.
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

  v1::PodSandboxConfig pod_config_;
  std::string pod_id_;
};

TEST_F(CriPodConfig, APodWithoutAHostnameGetsTheNodesEvenWithANameTooLongForOne) {
  // critest's pod names look like this: longer than the 64 bytes a hostname may have.
  auto config = TestPodConfig("podsandbox-for-create-container-" + std::string(40, 'x'));
  config.clear_hostname();
  ASSERT_NO_FATAL_FAILURE(RunTestPod(config));
  std::string id = RunSleeper(Config("sleeper", {"sleep", "3600"}));
  ASSERT_FALSE(id.empty());
  std::string node = NodeHostname();
  EXPECT_EQ(Exec(id, "hostname"), node + "\n");
  EXPECT_EQ(Exec(id, "cat /etc/hostname"), node + "\n");
  EXPECT_EQ(Exec(id, "echo $HOSTNAME"), node + "\n");
}

TEST_F(CriPodConfig, AHostnameLongerThan64BytesIsAnInvalidArgumentAndMakesNoPod) {
  auto config = TestPodConfig("long");
  config.set_hostname(std::string(65, 'h'));
  auto status = RunPod(config, nullptr);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << Describe(status);
  EXPECT_NE(status.error_message().find("64 bytes"), std::string::npos) << Describe(status);
  EXPECT_TRUE(ListPods().empty());
  EXPECT_TRUE(network_->BridgePorts().empty());

  config.set_hostname(std::string(64, 'h'));  // the longest the kernel takes
  ASSERT_NO_FATAL_FAILURE(RunTestPod(config));
  std::string id = RunSleeper(Config("sleeper", {"sleep", "3600"}));
  ASSERT_FALSE(id.empty());
  EXPECT_EQ(Exec(id, "hostname"), std::string(64, 'h') + "\n");
}

TEST_F(CriPodConfig, AContainerGroupWithoutAUserIsRefusedAsTheCriRequires) {
  ASSERT_NO_FATAL_FAILURE(RunTestPod(TestPodConfig("groups")));
  auto group_only = Config("group-only", {"sleep", "3600"});
  group_only.mutable_linux()->mutable_security_context()->mutable_run_as_group()->set_value(3000);
  auto status = Create(group_only, nullptr);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << Describe(status);
  EXPECT_NE(status.error_message().find("run_as_group"), std::string::npos) << Describe(status);
  EXPECT_TRUE(ListContainers().empty());

  auto with_uid = group_only;
  with_uid.mutable_metadata()->set_name("with-uid");
  with_uid.mutable_linux()->mutable_security_context()->mutable_run_as_user()->set_value(1000);
  std::string id = RunSleeper(with_uid);
  ASSERT_FALSE(id.empty());
  EXPECT_EQ(Exec(id, "id -u; id -g"), "1000\n3000\n");

  auto with_name = group_only;
  with_name.mutable_metadata()->set_name("with-name");
  with_name.mutable_linux()->mutable_security_context()->set_run_as_username("nobody");
  id = RunSleeper(with_name);
  ASSERT_FALSE(id.empty());
  EXPECT_EQ(Exec(id, "id -u; id -g"), "65534\n3000\n");
}

TEST_F(CriPodConfig, AUserNameWinsOverAUidAsInContainerd) {
  ASSERT_NO_FATAL_FAILURE(RunTestPod(TestPodConfig("users")));
  auto both = Config("both", {"sleep", "3600"});
  both.mutable_linux()->mutable_security_context()->mutable_run_as_user()->set_value(1000);
  both.mutable_linux()->mutable_security_context()->set_run_as_username("nobody");
  std::string id = RunSleeper(both);
  ASSERT_FALSE(id.empty());
  EXPECT_EQ(Exec(id, "id -u; id -g"), "65534\n65534\n");
}

TEST_F(CriPodConfig, ASandboxGroupWithoutAUserIsRefusedAndMakesNoPod) {
  auto config = TestPodConfig("group-only");
  config.mutable_linux()->mutable_security_context()->mutable_run_as_group()->set_value(3000);
  auto status = RunPod(config, nullptr);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << Describe(status);
  EXPECT_NE(status.error_message().find("run_as_group"), std::string::npos) << Describe(status);
  EXPECT_TRUE(ListPods().empty());
  EXPECT_TRUE(network_->BridgePorts().empty());

  config.mutable_linux()->mutable_security_context()->mutable_run_as_user()->set_value(1000);
  std::string id;
  status = RunPod(config, &id);
  EXPECT_TRUE(status.ok()) << Describe(status);
}

// A host directory that is a mount of its own, with the propagation a test asks for, as
// critest makes one (bind it onto itself, then --make-rshared or --make-private).
class PropagationSource {
 public:
  explicit PropagationSource(unsigned long propagation) {
    mounted_ = ::mount(dir_.path().c_str(), dir_.path().c_str(), nullptr, MS_BIND | MS_REC,
                       nullptr) == 0 &&
               ::mount(nullptr, dir_.path().c_str(), nullptr, propagation | MS_REC, nullptr) == 0;
  }
  bool mounted() const { return mounted_; }
  const std::string& path() const { return dir_.path(); }
  std::string operator/(const std::string& name) const { return dir_ / name; }

 private:
  TempDir dir_{"peapod-propagation"};  // its destructor detaches every mount below it
  bool mounted_ = false;
};

v1::ContainerConfig WithMount(v1::ContainerConfig config, const std::string& host_path,
                              v1::MountPropagation propagation) {
  config.mutable_linux()->mutable_security_context()->set_privileged(true);  // to mount inside
  auto* mount = config.add_mounts();
  mount->set_host_path(host_path);
  mount->set_container_path("/shared");
  mount->set_propagation(propagation);
  return config;
}

TEST_F(CriPodConfig, ABidirectionalMountPropagatesFromTheHostAndBackToIt) {
  PropagationSource source(MS_SHARED);
  ASSERT_TRUE(source.mounted());
  ASSERT_NO_FATAL_FAILURE(RunTestPod(TestPodConfig("propagation")));
  std::string id = RunSleeper(WithMount(Config("both-ways", {"sleep", "3600"}), source.path(),
                                        v1::PROPAGATION_BIDIRECTIONAL));
  ASSERT_FALSE(id.empty());

  // Host to container: a bind mount made on the host after the container started.
  std::filesystem::create_directories(source / "from-host");
  std::filesystem::create_directories(source / "host-content");
  WriteFile(source / "host-content/flag", "from the host\n");
  ASSERT_EQ(::mount((source / "host-content").c_str(), (source / "from-host").c_str(), nullptr,
                    MS_BIND, nullptr),
            0);
  EXPECT_EQ(Exec(id, "cat /shared/from-host/flag"), "from the host\n");

  // Container to host: a tmpfs the container mounts inside the volume.
  EXPECT_EQ(Exec(id,
                 "mkdir /shared/from-container && mount -t tmpfs none /shared/from-container"
                 " && echo from the container > /shared/from-container/flag"),
            "");
  EXPECT_EQ(ReadFile(source / "from-container/flag"), "from the container\n");
}

TEST_F(CriPodConfig, PropagationFromAPrivateSourceIsRefusedAsContainerdRefusesIt) {
  PropagationSource source(MS_PRIVATE);
  ASSERT_TRUE(source.mounted());
  ASSERT_NO_FATAL_FAILURE(RunTestPod(TestPodConfig("private-source")));
  for (auto propagation : {v1::PROPAGATION_BIDIRECTIONAL, v1::PROPAGATION_HOST_TO_CONTAINER}) {
    auto status = Create(
        WithMount(Config("refused", {"sleep", "3600"}), source.path(), propagation), nullptr);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << Describe(status);
    EXPECT_NE(status.error_message().find("not a shared"), std::string::npos) << Describe(status);
  }
  EXPECT_TRUE(ListContainers().empty());

  // The default (private) needs nothing of the source, and shares nothing either way.
  std::string id = RunSleeper(
      WithMount(Config("private", {"sleep", "3600"}), source.path(), v1::PROPAGATION_PRIVATE));
  ASSERT_FALSE(id.empty());
  EXPECT_EQ(Exec(id,
                 "mkdir /shared/inside && mount -t tmpfs none /shared/inside"
                 " && echo x > /shared/inside/flag"),
            "");
  EXPECT_EQ(ReadFile(source / "inside/flag"), "");
}

}  // namespace
}  // namespace peapod::testing
