// Never weaker than asked, through CRI against a real peapodd: a RunPodSandbox or CreateContainer
// that asks for isolation peapod cannot give (a malformed user namespace, SELinux labels, an
// AppArmor profile, a seccomp profile that does not load, an ID-mapped or impossible read-only
// mount, a Windows config, a runtime handler the node lacks) fails with INVALID_ARGUMENT naming the
// field, and leaves nothing behind: no sandbox, no container, no record, no mount, no cgroup.
#include <filesystem>
#include <functional>

#include "cri_test_fixture.h"
#include "support/temp_dir.h"

namespace peapod::testing {
namespace {

using Stub = v1::RuntimeService::Stub;

struct SandboxCase {
  const char* what;
  std::function<void(v1::PodSandboxConfig&)> ask;
  const char* field;  // part of the message
  std::string handler;
};

struct ContainerCase {
  const char* what;
  std::function<void(v1::ContainerConfig&)> ask;
  const char* field;  // part of the message
};

class CriRefusals : public CriBusyboxTest {
 protected:
  std::vector<std::string> ExtraDaemonArgs() const override {
    return {"--runtime-handler", "fast"};
  }

  v1::ContainerConfig Config(const std::string& name) {
    v1::ContainerConfig config;
    config.mutable_metadata()->set_name(name);
    config.mutable_image()->set_image(BusyboxRef());
    config.add_command("sleep");
    config.add_command("60");
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

  std::vector<std::string> ContainerDirs() {
    std::vector<std::string> out;
    std::error_code ec;
    for (auto it =
             std::filesystem::directory_iterator(daemon_->state_root() + "/image/containers", ec);
         !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
      out.push_back(it->path().filename());
    }
    return out;
  }

  TempDir profiles_{"peapod-cri-profiles"};
};

TEST_F(CriRefusals, SandboxFieldsPeapodCannotHonourAreRefusedAndLeaveNothing) {
  WriteFile(profiles_ / "broken.json", "{ this is not a seccomp profile");
  std::vector<SandboxCase> cases = {
      {"a user namespace without gid mappings",
       [](auto& c) {
         auto* userns = c.mutable_linux()
                            ->mutable_security_context()
                            ->mutable_namespace_options()
                            ->mutable_userns_options();
         userns->set_mode(v1::POD);
         auto* uid = userns->add_uids();
         uid->set_host_id(100000);
         uid->set_length(65536);
       },
       "userns_options"},
      {"SELinux labels",
       [](auto& c) {
         c.mutable_linux()->mutable_security_context()->mutable_selinux_options()->set_level(
             "s0:c1,c2");
       },
       "selinux_options"},
      {"an AppArmor profile",
       [](auto& c) {
         c.mutable_linux()->mutable_security_context()->mutable_apparmor()->set_profile_type(
             v1::SecurityProfile::RuntimeDefault);
       },
       "apparmor"},
      {"a missing seccomp profile",
       [](auto& c) {
         auto* seccomp = c.mutable_linux()->mutable_security_context()->mutable_seccomp();
         seccomp->set_profile_type(v1::SecurityProfile::Localhost);
         seccomp->set_localhost_ref("/nonexistent/peapod/profile.json");
       },
       "seccomp"},
      {"a seccomp profile that does not parse",
       [this](auto& c) {
         auto* seccomp = c.mutable_linux()->mutable_security_context()->mutable_seccomp();
         seccomp->set_profile_type(v1::SecurityProfile::Localhost);
         seccomp->set_localhost_ref(profiles_ / "broken.json");
       },
       "seccomp"},
      {"a Windows config",
       [](auto& c) {
         c.mutable_windows()->mutable_security_context()->set_run_as_username("ContainerUser");
       },
       "windows"},
      {"a sysctl of the whole node",
       [](auto& c) { (*c.mutable_linux()->mutable_sysctls())["kernel.panic"] = "1"; },
       "kernel.panic"},
      {"a runtime handler the node lacks", [](auto&) {}, "gvisor", "gvisor"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    auto config = TestPodConfig("refused");
    c.ask(config);
    std::string id;
    auto status = RunPod(config, &id, c.handler);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << Describe(status);
    EXPECT_NE(status.error_message().find(c.field), std::string::npos) << Describe(status);
    EXPECT_TRUE(id.empty());
    EXPECT_TRUE(ListPods().empty());
    EXPECT_TRUE(daemon_->Leftovers().empty()) << ::testing::PrintToString(daemon_->Leftovers());
  }

  // What peapod does anyway is accepted: the node's user namespace, Unconfined AppArmor, a
  // handler it has.
  auto config = TestPodConfig("accepted");
  auto* sc = config.mutable_linux()->mutable_security_context();
  sc->mutable_namespace_options()->mutable_userns_options()->set_mode(v1::NODE);
  sc->mutable_apparmor()->set_profile_type(v1::SecurityProfile::Unconfined);
  std::string id;
  auto status = RunPod(config, &id, "fast");
  ASSERT_TRUE(status.ok()) << Describe(status);
  EXPECT_EQ(ListPods().size(), 1u);
}

TEST_F(CriRefusals, ContainerFieldsPeapodCannotHonourAreRefusedAndLeaveNothing) {
  auto pod = TestPodConfig("box");
  std::string pod_id;
  auto run = RunPod(pod, &pod_id);
  ASSERT_TRUE(run.ok()) << Describe(run);
  WriteFile(profiles_ / "broken.json", R"({"defaultAction": "SCMP_ACT_NOPE"})");
  std::string volume = profiles_ / "volume";
  std::filesystem::create_directories(volume);

  std::vector<ContainerCase> cases = {
      {"a user namespace the pod does not have",
       [](auto& c) {
         c.mutable_linux()
             ->mutable_security_context()
             ->mutable_namespace_options()
             ->mutable_userns_options()
             ->set_mode(v1::POD);
       },
       "userns_options"},
      {"SELinux labels",
       [](auto& c) {
         c.mutable_linux()->mutable_security_context()->mutable_selinux_options()->set_type(
             "spc_t");
       },
       "selinux_options"},
      {"a RuntimeDefault AppArmor profile",
       [](auto& c) {
         c.mutable_linux()->mutable_security_context()->mutable_apparmor()->set_profile_type(
             v1::SecurityProfile::RuntimeDefault);
       },
       "apparmor"},
      {"a Localhost AppArmor profile in the deprecated field",
       [](auto& c) {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
         c.mutable_linux()->mutable_security_context()->set_apparmor_profile("localhost/k8s-nginx");
#pragma GCC diagnostic pop
       },
       "apparmor"},
      {"a missing seccomp profile",
       [](auto& c) {
         auto* seccomp = c.mutable_linux()->mutable_security_context()->mutable_seccomp();
         seccomp->set_profile_type(v1::SecurityProfile::Localhost);
         seccomp->set_localhost_ref("/nonexistent/peapod/profile.json");
       },
       "seccomp"},
      {"a seccomp profile that does not parse",
       [this](auto& c) {
         auto* seccomp = c.mutable_linux()->mutable_security_context()->mutable_seccomp();
         seccomp->set_profile_type(v1::SecurityProfile::Localhost);
         seccomp->set_localhost_ref(profiles_ / "broken.json");
       },
       "seccomp"},
      {"an unknown capability",
       [](auto& c) {
         c.mutable_linux()
             ->mutable_security_context()
             ->mutable_capabilities()
             ->add_drop_capabilities("CAP_NOT_A_CAP");
       },
       "capabilities"},
      {"an ID-mapped mount",
       [volume](auto& c) {
         auto* m = c.add_mounts();
         m->set_container_path("/data");
         m->set_host_path(volume);
         auto* uid = m->add_uidmappings();
         uid->set_host_id(100000);
         uid->set_length(65536);
       },
       "ID-mapped"},
      {"a recursive read-only mount that is writable",
       [volume](auto& c) {
         auto* m = c.add_mounts();
         m->set_container_path("/data");
         m->set_host_path(volume);
         m->set_recursive_read_only(true);
       },
       "recursive_read_only"},
      {"a recursive read-only mount with propagation",
       [volume](auto& c) {
         auto* m = c.add_mounts();
         m->set_container_path("/data");
         m->set_host_path(volume);
         m->set_readonly(true);
         m->set_recursive_read_only(true);
         m->set_propagation(v1::PROPAGATION_HOST_TO_CONTAINER);
       },
       "recursive_read_only"},
      {"a Windows config",
       [](auto& c) { c.mutable_windows()->mutable_security_context()->set_host_process(true); },
       "windows"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    auto config = Config("refused");
    c.ask(config);
    std::string id;
    auto status = Create(pod_id, pod, config, &id);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << Describe(status);
    EXPECT_NE(status.error_message().find(c.field), std::string::npos) << Describe(status);
    EXPECT_TRUE(id.empty());
    EXPECT_TRUE(ListContainers().empty());
    EXPECT_TRUE(ContainerDirs().empty()) << ::testing::PrintToString(ContainerDirs());
  }

  // Unconfined AppArmor and a recursive read-only mount peapod can make are accepted, under the
  // name the refusals never took.
  auto config = Config("refused");
  config.mutable_linux()->mutable_security_context()->mutable_apparmor()->set_profile_type(
      v1::SecurityProfile::Unconfined);
  auto* m = config.add_mounts();
  m->set_container_path("/data");
  m->set_host_path(volume);
  m->set_readonly(true);
  m->set_recursive_read_only(true);
  std::string id;
  auto status = Create(pod_id, pod, config, &id);
  ASSERT_TRUE(status.ok()) << Describe(status);
  EXPECT_EQ(ListContainers().size(), 1u);
}

}  // namespace
}  // namespace peapod::testing
