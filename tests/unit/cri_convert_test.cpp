// The CRI layer's protobuf <-> agent struct translation and its error-code mapping.
#include <gtest/gtest.h>

#include "peapod/cri/convert_container.h"
#include "peapod/cri/convert_image.h"
#include "peapod/cri/convert_sandbox.h"
#include "peapod/cri/grpc_status.h"
#include "peapod/runtime/signal_name.h"

namespace peapod::cri {
namespace {

TEST(CriConvert, PodSandboxConfigKeepsEveryFieldTheAgentActsOn) {
  v1::PodSandboxConfig in;
  in.mutable_metadata()->set_name("web");
  in.mutable_metadata()->set_uid("u1");
  in.mutable_metadata()->set_namespace_("default");
  in.mutable_metadata()->set_attempt(2);
  in.set_hostname("web-0");
  in.set_log_directory("/var/log/pods/x");
  in.mutable_dns_config()->add_servers("10.0.0.10");
  in.mutable_dns_config()->add_searches("svc.cluster.local");
  auto* pm = in.add_port_mappings();
  pm->set_protocol(v1::UDP);
  pm->set_container_port(53);
  pm->set_host_port(5353);
  (*in.mutable_labels())["app"] = "web";
  (*in.mutable_annotations())["a"] = "b";
  auto* sc = in.mutable_linux()->mutable_security_context();
  sc->mutable_namespace_options()->set_network(v1::NODE);
  sc->mutable_namespace_options()->set_pid(v1::POD);
  sc->mutable_run_as_user()->set_value(0);
  sc->mutable_seccomp()->set_profile_type(v1::SecurityProfile::RuntimeDefault);
  (*in.mutable_linux()->mutable_sysctls())["net.ipv4.ip_forward"] = "1";
  in.mutable_linux()->set_cgroup_parent("/kubepods/pod1");

  agent::PodSandboxConfig out = FromProto(in);
  EXPECT_EQ(out.metadata.name, "web");
  EXPECT_EQ(out.metadata.uid, "u1");
  EXPECT_EQ(out.metadata.namespace_, "default");
  EXPECT_EQ(out.metadata.attempt, 2u);
  EXPECT_EQ(out.hostname, "web-0");
  EXPECT_EQ(out.log_directory, "/var/log/pods/x");
  ASSERT_TRUE(out.dns_config);
  EXPECT_EQ(out.dns_config->servers, std::vector<std::string>{"10.0.0.10"});
  ASSERT_EQ(out.port_mappings.size(), 1u);
  EXPECT_EQ(out.port_mappings[0].protocol, agent::Protocol::kUdp);
  EXPECT_EQ(out.port_mappings[0].host_port, 5353);
  EXPECT_EQ(out.labels.at("app"), "web");
  EXPECT_EQ(out.annotations.at("a"), "b");
  const auto& osc = out.linux.security_context;
  EXPECT_EQ(osc.namespace_options.network, agent::NamespaceMode::kNode);
  EXPECT_EQ(osc.namespace_options.pid, agent::NamespaceMode::kPod);
  ASSERT_TRUE(osc.run_as_user);  // set to 0 is not the same as unset
  EXPECT_EQ(*osc.run_as_user, 0);
  EXPECT_FALSE(osc.run_as_group);
  ASSERT_TRUE(osc.seccomp);
  EXPECT_EQ(osc.seccomp->profile_type, 0);
  EXPECT_FALSE(osc.apparmor);
  EXPECT_EQ(out.linux.sysctls.at("net.ipv4.ip_forward"), "1");
  EXPECT_EQ(out.linux.cgroup_parent, "/kubepods/pod1");
  EXPECT_FALSE(out.linux.resources);
}

TEST(CriConvert, UnsetMessagesStayUnset) {
  v1::PodSandboxConfig in;
  agent::PodSandboxConfig out = FromProto(in);
  EXPECT_FALSE(out.dns_config);
  EXPECT_FALSE(out.linux.security_context.run_as_user);
  EXPECT_FALSE(out.linux.security_context.seccomp);
  EXPECT_FALSE(out.linux.overhead);

  v1::PodSandboxFilter filter;
  EXPECT_FALSE(FromProto(filter).state);
  filter.mutable_state()->set_state(v1::SANDBOX_READY);  // READY is 0: presence matters
  ASSERT_TRUE(FromProto(filter).state);
  EXPECT_EQ(*FromProto(filter).state, agent::PodSandboxState::kReady);
}

TEST(CriConvert, ContainerConfigKeepsCommandEnvMountsAndSecurity) {
  v1::ContainerConfig in;
  in.mutable_metadata()->set_name("c");
  in.mutable_metadata()->set_attempt(1);
  in.mutable_image()->set_image("busybox");
  in.add_command("sh");
  in.add_args("-c");
  in.add_args("true");
  auto* env = in.add_envs();
  env->set_key("A");
  env->set_value("1");
  auto* mount = in.add_mounts();
  mount->set_container_path("/data");
  mount->set_host_path("/srv/data");
  mount->set_readonly(true);
  mount->set_propagation(v1::PROPAGATION_HOST_TO_CONTAINER);
  in.set_log_path("c/0.log");
  in.set_tty(true);
  auto* sc = in.mutable_linux()->mutable_security_context();
  sc->mutable_capabilities()->add_add_capabilities("NET_ADMIN");
  sc->set_no_new_privs(true);
  sc->mutable_run_as_group()->set_value(1000);
  in.mutable_linux()->mutable_resources()->set_memory_limit_in_bytes(64 << 20);

  agent::ContainerConfig out = FromProto(in);
  EXPECT_EQ(out.metadata.name, "c");
  EXPECT_EQ(out.metadata.attempt, 1u);
  EXPECT_EQ(out.image.image, "busybox");
  EXPECT_EQ(out.command, std::vector<std::string>{"sh"});
  EXPECT_EQ(out.args, (std::vector<std::string>{"-c", "true"}));
  ASSERT_EQ(out.envs.size(), 1u);
  EXPECT_EQ(out.envs[0].key, "A");
  ASSERT_EQ(out.mounts.size(), 1u);
  EXPECT_TRUE(out.mounts[0].readonly);
  EXPECT_EQ(out.mounts[0].propagation, agent::MountPropagation::kHostToContainer);
  EXPECT_EQ(out.log_path, "c/0.log");
  EXPECT_TRUE(out.tty);
  const auto& osc = out.linux.security_context;
  ASSERT_TRUE(osc.capabilities);
  EXPECT_EQ(osc.capabilities->add_capabilities, std::vector<std::string>{"NET_ADMIN"});
  EXPECT_TRUE(osc.no_new_privs);
  EXPECT_FALSE(osc.run_as_user);
  ASSERT_TRUE(osc.run_as_group);
  EXPECT_EQ(*osc.run_as_group, 1000);
  ASSERT_TRUE(out.linux.resources);
  EXPECT_EQ(out.linux.resources->memory_limit_in_bytes, 64 << 20);
}

TEST(CriConvert, ContainerStatusReportsTheImageIdAsImageRefAndImageId) {
  agent::ContainerStatus in;
  in.id = "abc";
  in.state = agent::ContainerState::kExited;
  in.exit_code = 3;
  in.reason = "Error";
  in.image.image = "busybox";
  in.image_ref = "sha256:1234";
  in.log_path = "/var/log/pods/x/c.log";
  v1::ContainerStatus out;
  ToProto(in, &out);
  EXPECT_EQ(out.state(), v1::CONTAINER_EXITED);
  EXPECT_EQ(out.exit_code(), 3);
  EXPECT_EQ(out.reason(), "Error");
  EXPECT_EQ(out.image().image(), "busybox");
  EXPECT_EQ(out.image_ref(), "sha256:1234");
  EXPECT_EQ(out.image_id(), "sha256:1234");
  EXPECT_FALSE(out.has_resources());
}

TEST(CriConvert, StopSignalsMapByNameIncludingRealTimeOnes) {
  // Spelled as strings: the enum's names are <signal.h>'s macros.
  auto named = [](const std::string& name) {
    v1::Signal out = static_cast<v1::Signal>(0);
    EXPECT_TRUE(v1::Signal_Parse(name, &out)) << name;
    return static_cast<int>(out);
  };
  EXPECT_EQ(SignalFromProto(0), std::string());
  EXPECT_EQ(SignalFromProto(named("SIGUSR1")), "SIGUSR1");
  EXPECT_EQ(SignalFromProto(named("SIGRTMINPLUS3")), "SIGRTMIN+3");
  EXPECT_EQ(SignalFromProto(named("SIGRTMAXMINUS2")), "SIGRTMAX-2");
  EXPECT_FALSE(SignalFromProto(500));
  for (const char* name : {"SIGTERM", "SIGQUIT", "SIGWINCH", "SIGRTMIN", "SIGRTMINPLUS15",
                           "SIGRTMAXMINUS14", "SIGRTMAX", "SIGKILL"}) {
    auto text = SignalFromProto(named(name));
    ASSERT_TRUE(text) << name;
    auto number = runtime::ParseSignal(*text);
    ASSERT_TRUE(number) << *text;
    EXPECT_EQ(v1::Signal_Name(SignalToProto(*number)), name);
  }
  EXPECT_EQ(static_cast<int>(SignalToProto(0)), 0);
}

TEST(CriConvert, NewFieldsOf131To136RoundTrip) {
  v1::ContainerConfig in;
  in.mutable_metadata()->set_name("c");
  in.mutable_image()->set_image_ref("sha256:ab");
  in.mutable_linux()->mutable_security_context()->set_supplemental_groups_policy(v1::Strict);
  auto* m = in.add_mounts();
  m->set_container_path("/v");
  m->mutable_image()->set_image("sha256:cd");
  m->set_image_sub_path("dir");
  auto out = FromProto(in);
  EXPECT_EQ(out.image.image_ref, "sha256:ab");
  EXPECT_EQ(out.linux.security_context.supplemental_groups_policy,
            agent::SupplementalGroupsPolicy::kStrict);
  ASSERT_EQ(out.mounts.size(), 1u);
  ASSERT_TRUE(out.mounts[0].image);
  EXPECT_EQ(out.mounts[0].image->image, "sha256:cd");
  EXPECT_EQ(out.mounts[0].image_sub_path, "dir");
  EXPECT_EQ(out.stop_signal, "");

  agent::ContainerStatus status;
  status.mounts = out.mounts;
  status.user = agent::LinuxContainerUser{1000, 1000, {1000, 4000}};
  status.stop_signal = 15;
  v1::ContainerStatus proto;
  ToProto(status, &proto);
  EXPECT_EQ(proto.mounts(0).image().image(), "sha256:cd");
  EXPECT_EQ(proto.mounts(0).image_sub_path(), "dir");
  EXPECT_EQ(proto.user().linux().uid(), 1000);
  EXPECT_EQ(proto.user().linux().supplemental_groups_size(), 2);
  EXPECT_EQ(v1::Signal_Name(proto.stop_signal()), "SIGTERM");
}

TEST(CriConvert, ImageUserBecomesUidOrUsername) {
  image::ImageRecord record;
  record.id = "sha256:aa";
  record.repo_tags = {"docker.io/library/busybox:latest"};
  record.size = 42;
  v1::Image numeric;
  ToProto(record, std::string("1000:1000"), &numeric);
  ASSERT_TRUE(numeric.has_uid());
  EXPECT_EQ(numeric.uid().value(), 1000);
  EXPECT_EQ(numeric.username(), "");
  EXPECT_EQ(numeric.size(), 42u);
  EXPECT_EQ(numeric.repo_tags(0), "docker.io/library/busybox:latest");

  v1::Image named;
  ToProto(record, std::string("nginx:nginx"), &named);
  EXPECT_FALSE(named.has_uid());
  EXPECT_EQ(named.username(), "nginx");

  v1::Image root_by_default;
  ToProto(record, std::string(""), &root_by_default);
  EXPECT_FALSE(root_by_default.has_uid());
  EXPECT_EQ(root_by_default.username(), "");
}

TEST(CriConvert, ErrorCodesMapOneToOneOntoGrpcCodes) {
  EXPECT_EQ(ToGrpcCode(ErrorCode::kInvalidArgument), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(ToGrpcCode(ErrorCode::kNotFound), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(ToGrpcCode(ErrorCode::kAlreadyExists), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_EQ(ToGrpcCode(ErrorCode::kFailedPrecondition), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(ToGrpcCode(ErrorCode::kDeadlineExceeded), grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_EQ(ToGrpcCode(ErrorCode::kPermissionDenied), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(ToGrpcCode(ErrorCode::kResourceExhausted), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(ToGrpcCode(ErrorCode::kUnavailable), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(ToGrpcCode(ErrorCode::kUnimplemented), grpc::StatusCode::UNIMPLEMENTED);
  EXPECT_EQ(ToGrpcCode(ErrorCode::kInternal), grpc::StatusCode::INTERNAL);

  // NOT_FOUND is the CRI's "no such id": an error from a syscall never answers it.
  grpc::Status status = ToGrpcStatus(Error{ErrorCode::kNotFound, ENOENT, "open /x"});
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(status.error_message().find("open /x"), std::string::npos);
  EXPECT_EQ(ToGrpcStatus(FailErrno("open pin /run/x/ns/net", ENOENT).error()).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(
      ToGrpcStatus(Error{ErrorCode::kNotFound, 0, "pod sandbox \"x\" not found"}).error_code(),
      grpc::StatusCode::NOT_FOUND);
  EXPECT_TRUE(ToGrpcStatus(peapod::Status{}).ok());
}

}  // namespace
}  // namespace peapod::cri
