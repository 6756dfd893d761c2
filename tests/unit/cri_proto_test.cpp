// Checks that cri/proto/api.proto describes the CRI v1 API of Kubernetes 1.30 on the wire:
// service and method names, streaming, message/field names, numbers and types, enum values.
// The expected values were read from the published k8s.io/cri-api v1 definition.

#include <gtest/gtest.h>

#include <google/protobuf/descriptor.h>
#include <google/protobuf/util/message_differencer.h>

#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "cri/proto/api.grpc.pb.h"
#include "cri/proto/api.pb.h"

namespace {

namespace v1 = ::runtime::v1;
using google::protobuf::Descriptor;
using google::protobuf::DescriptorPool;
using google::protobuf::EnumDescriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::MethodDescriptor;
using google::protobuf::ServiceDescriptor;

const DescriptorPool& Pool() { return *DescriptorPool::generated_pool(); }

const Descriptor* Message(std::string_view name) {
  const Descriptor* d = Pool().FindMessageTypeByName("runtime.v1." + std::string(name));
  EXPECT_NE(d, nullptr) << "message runtime.v1." << name << " is missing";
  return d;
}

const EnumDescriptor* Enum(std::string_view name) {
  const EnumDescriptor* e = Pool().FindEnumTypeByName("runtime.v1." + std::string(name));
  EXPECT_NE(e, nullptr) << "enum runtime.v1." << name << " is missing";
  return e;
}

enum class Card { kSingle, kRepeated };

// One field: its number, wire type and cardinality, and for message/enum fields the full type name.
struct FieldSpec {
  std::string_view name;
  int number;
  FieldDescriptor::Type type;
  Card card = Card::kSingle;
  std::string_view type_name = {};  // without the "runtime.v1." prefix
};

// Asserts every listed field, and that the message has no other fields (so nothing newer than 1.36
// and nothing misnumbered slipped in).
void ExpectExactFields(std::string_view message, const std::vector<FieldSpec>& fields) {
  const Descriptor* d = Message(message);
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->field_count(), static_cast<int>(fields.size())) << message << ": field count";
  for (const FieldSpec& f : fields) {
    const FieldDescriptor* fd = d->FindFieldByName(std::string(f.name));
    ASSERT_NE(fd, nullptr) << message << "." << f.name << " is missing";
    EXPECT_EQ(fd->number(), f.number) << message << "." << f.name;
    EXPECT_EQ(fd->type(), f.type) << message << "." << f.name;
    EXPECT_EQ(fd->is_repeated(), f.card == Card::kRepeated) << message << "." << f.name;
    if (!f.type_name.empty()) {
      const std::string full = fd->message_type() != nullptr ? fd->message_type()->full_name()
                               : fd->enum_type() != nullptr  ? fd->enum_type()->full_name()
                                                              : std::string();
      EXPECT_EQ(full, "runtime.v1." + std::string(f.type_name)) << message << "." << f.name;
    }
  }
}

// Asserts a map<string,string> field with the given number.
void ExpectStringMap(std::string_view message, std::string_view field, int number) {
  const Descriptor* d = Message(message);
  ASSERT_NE(d, nullptr);
  const FieldDescriptor* fd = d->FindFieldByName(std::string(field));
  ASSERT_NE(fd, nullptr) << message << "." << field;
  EXPECT_EQ(fd->number(), number) << message << "." << field;
  ASSERT_TRUE(fd->is_map()) << message << "." << field;
  EXPECT_EQ(fd->message_type()->map_key()->type(), FieldDescriptor::TYPE_STRING);
  EXPECT_EQ(fd->message_type()->map_value()->type(), FieldDescriptor::TYPE_STRING);
}

void ExpectEnum(std::string_view name, const std::vector<std::pair<std::string_view, int>>& values) {
  const EnumDescriptor* e = Enum(name);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->value_count(), static_cast<int>(values.size())) << name;
  for (const auto& [value_name, number] : values) {
    const auto* v = e->FindValueByName(std::string(value_name));
    ASSERT_NE(v, nullptr) << name << "." << value_name;
    EXPECT_EQ(v->number(), number) << name << "." << value_name;
  }
}

// Bytes of a string literal, embedded NULs included, without the terminating one.
template <size_t N>
std::string Bytes(const char (&literal)[N]) {
  return std::string(literal, N - 1);
}

constexpr auto kString = FieldDescriptor::TYPE_STRING;
constexpr auto kBool = FieldDescriptor::TYPE_BOOL;
constexpr auto kInt32 = FieldDescriptor::TYPE_INT32;
constexpr auto kInt64 = FieldDescriptor::TYPE_INT64;
constexpr auto kUint32 = FieldDescriptor::TYPE_UINT32;
constexpr auto kUint64 = FieldDescriptor::TYPE_UINT64;
constexpr auto kBytes = FieldDescriptor::TYPE_BYTES;
constexpr auto kMsg = FieldDescriptor::TYPE_MESSAGE;
constexpr auto kEnum = FieldDescriptor::TYPE_ENUM;
constexpr auto kRep = Card::kRepeated;
constexpr auto kOne = Card::kSingle;

// ---------------------------------------------------------------------------------------------
// File and services
// ---------------------------------------------------------------------------------------------

TEST(CriProto, FileIsProto3PackageRuntimeV1) {
  const auto* file = v1::RunPodSandboxRequest::descriptor()->file();
  EXPECT_EQ(file->package(), "runtime.v1");
  EXPECT_EQ(file->syntax(), google::protobuf::FileDescriptor::SYNTAX_PROTO3);
  EXPECT_EQ(file->service_count(), 2);
  EXPECT_EQ(file->dependency_count(), 0) << "no gogoproto or other imports";
}

TEST(CriProto, RuntimeServiceHasThe136MethodsInOrder) {
  const ServiceDescriptor* s = Pool().FindServiceByName("runtime.v1.RuntimeService");
  ASSERT_NE(s, nullptr);
  const std::vector<std::string_view> expected = {"Version",
                                                  "RunPodSandbox",
                                                  "StopPodSandbox",
                                                  "RemovePodSandbox",
                                                  "PodSandboxStatus",
                                                  "ListPodSandbox",
                                                  "StreamPodSandboxes",
                                                  "CreateContainer",
                                                  "StartContainer",
                                                  "StopContainer",
                                                  "RemoveContainer",
                                                  "ListContainers",
                                                  "StreamContainers",
                                                  "ContainerStatus",
                                                  "UpdateContainerResources",
                                                  "ReopenContainerLog",
                                                  "ExecSync",
                                                  "Exec",
                                                  "Attach",
                                                  "PortForward",
                                                  "ContainerStats",
                                                  "ListContainerStats",
                                                  "StreamContainerStats",
                                                  "PodSandboxStats",
                                                  "ListPodSandboxStats",
                                                  "StreamPodSandboxStats",
                                                  "UpdateRuntimeConfig",
                                                  "Status",
                                                  "CheckpointContainer",
                                                  "GetContainerEvents",
                                                  "ListMetricDescriptors",
                                                  "ListPodSandboxMetrics",
                                                  "StreamPodSandboxMetrics",
                                                  "RuntimeConfig",
                                                  "UpdatePodSandboxResources"};
  ASSERT_EQ(s->method_count(), 35);
  for (int i = 0; i < s->method_count(); ++i) {
    EXPECT_EQ(s->method(i)->name(), expected[static_cast<size_t>(i)]) << "method #" << i;
  }
}

TEST(CriProto, ImageServiceHasSixMethods) {
  const ServiceDescriptor* s = Pool().FindServiceByName("runtime.v1.ImageService");
  ASSERT_NE(s, nullptr);
  const std::vector<std::string_view> expected = {"ListImages", "StreamImages", "ImageStatus",
                                                  "PullImage",  "RemoveImage",  "ImageFsInfo"};
  ASSERT_EQ(s->method_count(), 6);
  for (int i = 0; i < s->method_count(); ++i) {
    EXPECT_EQ(s->method(i)->name(), expected[static_cast<size_t>(i)]);
    EXPECT_EQ(s->method(i)->server_streaming(), s->method(i)->name() == "StreamImages");
    EXPECT_FALSE(s->method(i)->client_streaming());
  }
}

// The gRPC path (/package.Service/Method) is what goes on the wire, so the request and
// response types of each method matter as much as its name.
TEST(CriProto, MethodSignatures) {
  const ServiceDescriptor* s = Pool().FindServiceByName("runtime.v1.RuntimeService");
  ASSERT_NE(s, nullptr);
  const struct {
    std::string_view method, in, out;
  } sigs[] = {
      {"RunPodSandbox", "RunPodSandboxRequest", "RunPodSandboxResponse"},
      {"ContainerStatus", "ContainerStatusRequest", "ContainerStatusResponse"},
      {"GetContainerEvents", "GetEventsRequest", "ContainerEventResponse"},
      {"ListMetricDescriptors", "ListMetricDescriptorsRequest", "ListMetricDescriptorsResponse"},
      {"ListPodSandboxMetrics", "ListPodSandboxMetricsRequest", "ListPodSandboxMetricsResponse"},
      {"RuntimeConfig", "RuntimeConfigRequest", "RuntimeConfigResponse"},
      {"CheckpointContainer", "CheckpointContainerRequest", "CheckpointContainerResponse"},
      {"PodSandboxStats", "PodSandboxStatsRequest", "PodSandboxStatsResponse"},
      {"UpdateRuntimeConfig", "UpdateRuntimeConfigRequest", "UpdateRuntimeConfigResponse"},
      {"StreamPodSandboxes", "StreamPodSandboxesRequest", "StreamPodSandboxesResponse"},
      {"StreamContainers", "StreamContainersRequest", "StreamContainersResponse"},
      {"StreamContainerStats", "StreamContainerStatsRequest", "StreamContainerStatsResponse"},
      {"StreamPodSandboxStats", "StreamPodSandboxStatsRequest", "StreamPodSandboxStatsResponse"},
      {"StreamPodSandboxMetrics", "StreamPodSandboxMetricsRequest",
       "StreamPodSandboxMetricsResponse"},
      {"UpdatePodSandboxResources", "UpdatePodSandboxResourcesRequest",
       "UpdatePodSandboxResourcesResponse"},
  };
  for (const auto& sig : sigs) {
    const MethodDescriptor* m = s->FindMethodByName(std::string(sig.method));
    ASSERT_NE(m, nullptr) << sig.method;
    EXPECT_EQ(m->input_type()->full_name(), "runtime.v1." + std::string(sig.in)) << sig.method;
    EXPECT_EQ(m->output_type()->full_name(), "runtime.v1." + std::string(sig.out)) << sig.method;
  }
}

TEST(CriProto, OnlyGetContainerEventsAndTheStreamVerbsStream) {
  const ServiceDescriptor* s = Pool().FindServiceByName("runtime.v1.RuntimeService");
  ASSERT_NE(s, nullptr);
  for (int i = 0; i < s->method_count(); ++i) {
    const MethodDescriptor* m = s->method(i);
    EXPECT_FALSE(m->client_streaming()) << m->name();
    EXPECT_EQ(m->server_streaming(),
              m->name() == "GetContainerEvents" || m->name().rfind("Stream", 0) == 0)
        << m->name();
  }
}

TEST(CriProto, StreamMessagesCarryListsOfTheListItems) {
  ExpectExactFields("StreamPodSandboxesRequest", {{"filter", 1, kMsg, kOne, "PodSandboxFilter"}});
  ExpectExactFields("StreamPodSandboxesResponse", {{"pod_sandboxes", 1, kMsg, kRep, "PodSandbox"}});
  ExpectExactFields("StreamContainersRequest", {{"filter", 1, kMsg, kOne, "ContainerFilter"}});
  ExpectExactFields("StreamContainersResponse", {{"containers", 1, kMsg, kRep, "Container"}});
  ExpectExactFields("StreamContainerStatsRequest",
                    {{"filter", 1, kMsg, kOne, "ContainerStatsFilter"}});
  ExpectExactFields("StreamContainerStatsResponse",
                    {{"container_stats", 1, kMsg, kRep, "ContainerStats"}});
  ExpectExactFields("StreamPodSandboxStatsRequest",
                    {{"filter", 1, kMsg, kOne, "PodSandboxStatsFilter"}});
  ExpectExactFields("StreamPodSandboxStatsResponse",
                    {{"pod_sandbox_stats", 1, kMsg, kRep, "PodSandboxStats"}});
  ExpectExactFields("StreamPodSandboxMetricsRequest", {});
  ExpectExactFields("StreamPodSandboxMetricsResponse",
                    {{"pod_sandbox_metrics", 1, kMsg, kRep, "PodSandboxMetrics"}});
  ExpectExactFields("StreamImagesRequest", {{"filter", 1, kMsg, kOne, "ImageFilter"}});
  ExpectExactFields("StreamImagesResponse", {{"images", 1, kMsg, kRep, "Image"}});
  ExpectExactFields("UpdatePodSandboxResourcesRequest",
                    {{"pod_sandbox_id", 1, kString},
                     {"overhead", 2, kMsg, kOne, "LinuxContainerResources"},
                     {"resources", 3, kMsg, kOne, "LinuxContainerResources"}});
  ExpectExactFields("UpdatePodSandboxResourcesResponse", {});
}

TEST(CriProto, UsersStopSignalsAndPressure) {
  ExpectExactFields("ContainerUser", {{"linux", 1, kMsg, kOne, "LinuxContainerUser"}});
  ExpectExactFields(
      "LinuxContainerUser",
      {{"uid", 1, kInt64}, {"gid", 2, kInt64}, {"supplemental_groups", 3, kInt64, kRep}});
  ExpectExactFields("RuntimeFeatures", {{"supplemental_groups_policy", 1, kBool},
                                        {"user_namespaces_host_network", 2, kBool}});
  ExpectExactFields("PsiStats",
                    {{"Full", 1, kMsg, kOne, "PsiData"}, {"Some", 2, kMsg, kOne, "PsiData"}});
  ExpectExactFields("PsiData", {{"Total", 1, kUint64},
                                {"Avg10", 2, FieldDescriptor::TYPE_DOUBLE},
                                {"Avg60", 3, FieldDescriptor::TYPE_DOUBLE},
                                {"Avg300", 4, FieldDescriptor::TYPE_DOUBLE}});
  ExpectExactFields("IoUsage", {{"timestamp", 1, kInt64}, {"psi", 2, kMsg, kOne, "PsiStats"}});
  ExpectExactFields("CpuUsage", {{"timestamp", 1, kInt64},
                                 {"usage_core_nano_seconds", 2, kMsg, kOne, "UInt64Value"},
                                 {"usage_nano_cores", 3, kMsg, kOne, "UInt64Value"},
                                 {"psi", 4, kMsg, kOne, "PsiStats"}});
  const Descriptor* memory = Message("MemoryUsage");
  ASSERT_NE(memory, nullptr);
  EXPECT_EQ(memory->FindFieldByName("psi")->number(), 8);
  ExpectExactFields("LinuxPodSandboxStats", {{"cpu", 1, kMsg, kOne, "CpuUsage"},
                                             {"memory", 2, kMsg, kOne, "MemoryUsage"},
                                             {"network", 3, kMsg, kOne, "NetworkUsage"},
                                             {"process", 4, kMsg, kOne, "ProcessUsage"},
                                             {"containers", 5, kMsg, kRep, "ContainerStats"},
                                             {"io", 6, kMsg, kOne, "IoUsage"}});
  ExpectExactFields("WindowsCpuGroupAffinity",
                    {{"cpu_mask", 1, kUint64}, {"cpu_group", 2, kUint32}});
  const Descriptor* exec = Message("ExecRequest");
  ASSERT_NE(exec, nullptr);
  EXPECT_EQ(exec->FindFieldByName("audit_request_id")->number(), 7);
  const Descriptor* attach = Message("AttachRequest");
  ASSERT_NE(attach, nullptr);
  EXPECT_EQ(attach->FindFieldByName("audit_request_id")->number(), 6);
}

TEST(CriProto, GrpcStubsMatchTheDescriptors) {
  EXPECT_STREQ(v1::RuntimeService::service_full_name(), "runtime.v1.RuntimeService");
  EXPECT_STREQ(v1::ImageService::service_full_name(), "runtime.v1.ImageService");
  // Server streaming shows up in the generated stub as a ClientReader.
  using Stub = v1::RuntimeService::Stub;
  using EventsReader = decltype(std::declval<Stub&>().GetContainerEvents(
      std::declval<grpc::ClientContext*>(), std::declval<const v1::GetEventsRequest&>()));
  static_assert(std::is_same_v<EventsReader,
                               std::unique_ptr<grpc::ClientReader<v1::ContainerEventResponse>>>);
  using VersionStatus = decltype(std::declval<Stub&>().Version(
      std::declval<grpc::ClientContext*>(), std::declval<const v1::VersionRequest&>(),
      std::declval<v1::VersionResponse*>()));
  static_assert(std::is_same_v<VersionStatus, grpc::Status>);
}

// ---------------------------------------------------------------------------------------------
// Messages
// ---------------------------------------------------------------------------------------------

TEST(CriProto, PodSandboxConfig) {
  const Descriptor* d = Message("PodSandboxConfig");
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->field_count(), 9);
  const std::pair<std::string_view, int> numbers[] = {
      {"metadata", 1}, {"hostname", 2}, {"log_directory", 3}, {"dns_config", 4},
      {"port_mappings", 5}, {"labels", 6}, {"annotations", 7}, {"linux", 8}, {"windows", 9}};
  for (const auto& [name, number] : numbers) {
    const FieldDescriptor* fd = d->FindFieldByName(std::string(name));
    ASSERT_NE(fd, nullptr) << name;
    EXPECT_EQ(fd->number(), number) << name;
  }
  EXPECT_TRUE(d->FindFieldByName("port_mappings")->is_repeated());
  EXPECT_EQ(d->FindFieldByName("linux")->message_type()->full_name(),
            "runtime.v1.LinuxPodSandboxConfig");
  ExpectStringMap("PodSandboxConfig", "labels", 6);
  ExpectStringMap("PodSandboxConfig", "annotations", 7);
}

TEST(CriProto, PodSandboxMetadataAndRunRequest) {
  ExpectExactFields("PodSandboxMetadata", {{"name", 1, kString},
                                           {"uid", 2, kString},
                                           {"namespace", 3, kString},
                                           {"attempt", 4, kUint32}});
  ExpectExactFields("RunPodSandboxRequest", {{"config", 1, kMsg, kOne, "PodSandboxConfig"},
                                             {"runtime_handler", 2, kString}});
}

TEST(CriProto, ContainerConfig) {
  const Descriptor* d = Message("ContainerConfig");
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->field_count(), 18);
  const std::pair<std::string_view, int> numbers[] = {
      {"metadata", 1},  {"image", 2},        {"command", 3},     {"args", 4},   {"working_dir", 5},
      {"envs", 6},      {"mounts", 7},       {"devices", 8},     {"labels", 9}, {"annotations", 10},
      {"log_path", 11}, {"stdin", 12},       {"stdin_once", 13}, {"tty", 14},   {"linux", 15},
      {"windows", 16},  {"CDI_devices", 17}, {"stop_signal", 18}};
  for (const auto& [name, number] : numbers) {
    const FieldDescriptor* fd = d->FindFieldByName(std::string(name));
    ASSERT_NE(fd, nullptr) << name;
    EXPECT_EQ(fd->number(), number) << name;
  }
  EXPECT_TRUE(d->FindFieldByName("command")->is_repeated());
  EXPECT_EQ(d->FindFieldByName("envs")->message_type()->full_name(), "runtime.v1.KeyValue");
  EXPECT_EQ(d->FindFieldByName("CDI_devices")->message_type()->full_name(),
            "runtime.v1.CDIDevice");
}

TEST(CriProto, ContainerStatus) {
  ExpectExactFields("ContainerStatus", {{"id", 1, kString},
                                        {"metadata", 2, kMsg, kOne, "ContainerMetadata"},
                                        {"state", 3, kEnum, kOne, "ContainerState"},
                                        {"created_at", 4, kInt64},
                                        {"started_at", 5, kInt64},
                                        {"finished_at", 6, kInt64},
                                        {"exit_code", 7, kInt32},
                                        {"image", 8, kMsg, kOne, "ImageSpec"},
                                        {"image_ref", 9, kString},
                                        {"reason", 10, kString},
                                        {"message", 11, kString},
                                        {"labels", 12, kMsg, kRep},
                                        {"annotations", 13, kMsg, kRep},
                                        {"mounts", 14, kMsg, kRep, "Mount"},
                                        {"log_path", 15, kString},
                                        {"resources", 16, kMsg, kOne, "ContainerResources"},
                                        {"image_id", 17, kString},
                                        {"user", 18, kMsg, kOne, "ContainerUser"},
                                        {"stop_signal", 19, kEnum, kOne, "Signal"}});
}

TEST(CriProto, ContainerHasImageId) {
  ExpectExactFields("Container", {{"id", 1, kString},
                                  {"pod_sandbox_id", 2, kString},
                                  {"metadata", 3, kMsg, kOne, "ContainerMetadata"},
                                  {"image", 4, kMsg, kOne, "ImageSpec"},
                                  {"image_ref", 5, kString},
                                  {"state", 6, kEnum, kOne, "ContainerState"},
                                  {"created_at", 7, kInt64},
                                  {"labels", 8, kMsg, kRep},
                                  {"annotations", 9, kMsg, kRep},
                                  {"image_id", 10, kString}});
}

TEST(CriProto, MountUserNamespaceAndIdMapping) {
  ExpectExactFields("Mount", {{"container_path", 1, kString},
                              {"host_path", 2, kString},
                              {"readonly", 3, kBool},
                              {"selinux_relabel", 4, kBool},
                              {"propagation", 5, kEnum, kOne, "MountPropagation"},
                              {"uidMappings", 6, kMsg, kRep, "IDMapping"},
                              {"gidMappings", 7, kMsg, kRep, "IDMapping"},
                              {"recursive_read_only", 8, kBool},
                              {"image", 9, kMsg, kOne, "ImageSpec"},
                              {"image_sub_path", 10, kString}});
  ExpectExactFields("IDMapping",
                    {{"host_id", 1, kUint32}, {"container_id", 2, kUint32}, {"length", 3, kUint32}});
  ExpectExactFields("UserNamespace", {{"mode", 1, kEnum, kOne, "NamespaceMode"},
                                      {"uids", 2, kMsg, kRep, "IDMapping"},
                                      {"gids", 3, kMsg, kRep, "IDMapping"}});
  ExpectExactFields("NamespaceOption", {{"network", 1, kEnum, kOne, "NamespaceMode"},
                                        {"pid", 2, kEnum, kOne, "NamespaceMode"},
                                        {"ipc", 3, kEnum, kOne, "NamespaceMode"},
                                        {"target_id", 4, kString},
                                        {"userns_options", 5, kMsg, kOne, "UserNamespace"}});
}

TEST(CriProto, SecurityContexts) {
  ExpectExactFields("LinuxSandboxSecurityContext",
                    {{"namespace_options", 1, kMsg, kOne, "NamespaceOption"},
                     {"selinux_options", 2, kMsg, kOne, "SELinuxOption"},
                     {"run_as_user", 3, kMsg, kOne, "Int64Value"},
                     {"readonly_rootfs", 4, kBool},
                     {"supplemental_groups", 5, kInt64, kRep},
                     {"privileged", 6, kBool},
                     {"seccomp_profile_path", 7, kString},
                     {"run_as_group", 8, kMsg, kOne, "Int64Value"},
                     {"seccomp", 9, kMsg, kOne, "SecurityProfile"},
                     {"apparmor", 10, kMsg, kOne, "SecurityProfile"},
                     {"supplemental_groups_policy", 11, kEnum, kOne, "SupplementalGroupsPolicy"}});
  ExpectExactFields("LinuxContainerSecurityContext",
                    {{"capabilities", 1, kMsg, kOne, "Capability"},
                     {"privileged", 2, kBool},
                     {"namespace_options", 3, kMsg, kOne, "NamespaceOption"},
                     {"selinux_options", 4, kMsg, kOne, "SELinuxOption"},
                     {"run_as_user", 5, kMsg, kOne, "Int64Value"},
                     {"run_as_username", 6, kString},
                     {"readonly_rootfs", 7, kBool},
                     {"supplemental_groups", 8, kInt64, kRep},
                     {"apparmor_profile", 9, kString},
                     {"seccomp_profile_path", 10, kString},
                     {"no_new_privs", 11, kBool},
                     {"run_as_group", 12, kMsg, kOne, "Int64Value"},
                     {"masked_paths", 13, kString, kRep},
                     {"readonly_paths", 14, kString, kRep},
                     {"seccomp", 15, kMsg, kOne, "SecurityProfile"},
                     {"apparmor", 16, kMsg, kOne, "SecurityProfile"},
                     {"supplemental_groups_policy", 17, kEnum, kOne, "SupplementalGroupsPolicy"}});
  const Descriptor* lcsc = Message("LinuxContainerSecurityContext");
  ASSERT_NE(lcsc, nullptr);
  EXPECT_TRUE(lcsc->FindFieldByName("apparmor_profile")->options().deprecated());
  EXPECT_TRUE(lcsc->FindFieldByName("seccomp_profile_path")->options().deprecated());
  ExpectExactFields("Capability", {{"add_capabilities", 1, kString, kRep},
                                   {"drop_capabilities", 2, kString, kRep},
                                   {"add_ambient_capabilities", 3, kString, kRep}});
  ExpectExactFields("SecurityProfile",
                    {{"profile_type", 1, kEnum, kOne, "SecurityProfile.ProfileType"},
                     {"localhost_ref", 2, kString}});
}

TEST(CriProto, ResourcesAndImageSpec) {
  ExpectExactFields("LinuxContainerResources", {{"cpu_period", 1, kInt64},
                                                {"cpu_quota", 2, kInt64},
                                                {"cpu_shares", 3, kInt64},
                                                {"memory_limit_in_bytes", 4, kInt64},
                                                {"oom_score_adj", 5, kInt64},
                                                {"cpuset_cpus", 6, kString},
                                                {"cpuset_mems", 7, kString},
                                                {"hugepage_limits", 8, kMsg, kRep, "HugepageLimit"},
                                                {"unified", 9, kMsg, kRep},
                                                {"memory_swap_limit_in_bytes", 10, kInt64}});
  ExpectStringMap("LinuxContainerResources", "unified", 9);
  ExpectExactFields("WindowsContainerResources",
                    {{"cpu_shares", 1, kInt64},
                     {"cpu_count", 2, kInt64},
                     {"cpu_maximum", 3, kInt64},
                     {"memory_limit_in_bytes", 4, kInt64},
                     {"rootfs_size_in_bytes", 5, kInt64},
                     {"affinity_cpus", 6, kMsg, kRep, "WindowsCpuGroupAffinity"}});
  ExpectExactFields("ImageSpec", {{"image", 1, kString},
                                  {"annotations", 2, kMsg, kRep},
                                  {"user_specified_image", 18, kString},
                                  {"runtime_handler", 19, kString},
                                  {"image_ref", 20, kString}});
}

TEST(CriProto, StatusAndRuntimeHandlers) {
  ExpectExactFields("StatusResponse", {{"status", 1, kMsg, kOne, "RuntimeStatus"},
                                       {"info", 2, kMsg, kRep},
                                       {"runtime_handlers", 3, kMsg, kRep, "RuntimeHandler"},
                                       {"features", 4, kMsg, kOne, "RuntimeFeatures"}});
  ExpectExactFields("RuntimeHandler", {{"name", 1, kString},
                                       {"features", 2, kMsg, kOne, "RuntimeHandlerFeatures"}});
  ExpectExactFields("RuntimeHandlerFeatures",
                    {{"recursive_read_only_mounts", 1, kBool}, {"user_namespaces", 2, kBool}});
  ExpectExactFields("RuntimeCondition", {{"type", 1, kString},
                                         {"status", 2, kBool},
                                         {"reason", 3, kString},
                                         {"message", 4, kString}});
}

TEST(CriProto, RuntimeConfigRpcAndUpdateRuntimeConfig) {
  ExpectExactFields("RuntimeConfigResponse",
                    {{"linux", 1, kMsg, kOne, "LinuxRuntimeConfiguration"}});
  ExpectExactFields("LinuxRuntimeConfiguration",
                    {{"cgroup_driver", 1, kEnum, kOne, "CgroupDriver"}});
  // The message named RuntimeConfig is the kubelet->runtime one, not the rpc's response.
  ExpectExactFields("RuntimeConfig", {{"network_config", 1, kMsg, kOne, "NetworkConfig"}});
  ExpectExactFields("UpdateRuntimeConfigRequest",
                    {{"runtime_config", 1, kMsg, kOne, "RuntimeConfig"}});
}

TEST(CriProto, EventsCheckpointAndMetrics) {
  ExpectExactFields("ContainerEventResponse",
                    {{"container_id", 1, kString},
                     {"container_event_type", 2, kEnum, kOne, "ContainerEventType"},
                     {"created_at", 3, kInt64},
                     {"pod_sandbox_status", 4, kMsg, kOne, "PodSandboxStatus"},
                     {"containers_statuses", 5, kMsg, kRep, "ContainerStatus"}});
  ExpectExactFields("GetEventsRequest", {});
  ExpectExactFields("CheckpointContainerRequest",
                    {{"container_id", 1, kString}, {"location", 2, kString}, {"timeout", 3, kInt64}});
  ExpectExactFields("Metric", {{"name", 1, kString},
                               {"timestamp", 2, kInt64},
                               {"metric_type", 3, kEnum, kOne, "MetricType"},
                               {"label_values", 4, kString, kRep},
                               {"value", 5, kMsg, kOne, "UInt64Value"}});
  ExpectExactFields("MetricDescriptor",
                    {{"name", 1, kString}, {"help", 2, kString}, {"label_keys", 3, kString, kRep}});
  ExpectExactFields("PodSandboxMetrics",
                    {{"pod_sandbox_id", 1, kString},
                     {"metrics", 2, kMsg, kRep, "Metric"},
                     {"container_metrics", 3, kMsg, kRep, "ContainerMetrics"}});
  ExpectExactFields("ListPodSandboxMetricsResponse",
                    {{"pod_metrics", 1, kMsg, kRep, "PodSandboxMetrics"}});
}

TEST(CriProto, PodSandboxStatusAndStats) {
  ExpectExactFields("PodSandboxStatusResponse",
                    {{"status", 1, kMsg, kOne, "PodSandboxStatus"},
                     {"info", 2, kMsg, kRep},
                     {"containers_statuses", 3, kMsg, kRep, "ContainerStatus"},
                     {"timestamp", 4, kInt64}});
  ExpectExactFields("PodSandboxStats", {{"attributes", 1, kMsg, kOne, "PodSandboxAttributes"},
                                        {"linux", 2, kMsg, kOne, "LinuxPodSandboxStats"},
                                        {"windows", 3, kMsg, kOne, "WindowsPodSandboxStats"}});
  ExpectExactFields("WindowsPodSandboxStats",
                    {{"cpu", 1, kMsg, kOne, "WindowsCpuUsage"},
                     {"memory", 2, kMsg, kOne, "WindowsMemoryUsage"},
                     {"network", 3, kMsg, kOne, "WindowsNetworkUsage"},
                     {"process", 4, kMsg, kOne, "WindowsProcessUsage"},
                     {"containers", 5, kMsg, kRep, "WindowsContainerStats"}});
  ExpectExactFields("ContainerStats", {{"attributes", 1, kMsg, kOne, "ContainerAttributes"},
                                       {"cpu", 2, kMsg, kOne, "CpuUsage"},
                                       {"memory", 3, kMsg, kOne, "MemoryUsage"},
                                       {"writable_layer", 4, kMsg, kOne, "FilesystemUsage"},
                                       {"swap", 5, kMsg, kOne, "SwapUsage"},
                                       {"io", 6, kMsg, kOne, "IoUsage"}});
  ExpectExactFields("ImageFsInfoResponse",
                    {{"image_filesystems", 1, kMsg, kRep, "FilesystemUsage"},
                     {"container_filesystems", 2, kMsg, kRep, "FilesystemUsage"}});
  ExpectExactFields("ExecSyncResponse",
                    {{"stdout", 1, kBytes}, {"stderr", 2, kBytes}, {"exit_code", 3, kInt32}});
  ExpectExactFields("Image", {{"id", 1, kString},
                              {"repo_tags", 2, kString, kRep},
                              {"repo_digests", 3, kString, kRep},
                              {"size", 4, kUint64},
                              {"uid", 5, kMsg, kOne, "Int64Value"},
                              {"username", 6, kString},
                              {"spec", 7, kMsg, kOne, "ImageSpec"},
                              {"pinned", 8, kBool}});
}

// ---------------------------------------------------------------------------------------------
// Enums
// ---------------------------------------------------------------------------------------------

TEST(CriProto, Enums) {
  ExpectEnum("PodSandboxState", {{"SANDBOX_READY", 0}, {"SANDBOX_NOTREADY", 1}});
  ExpectEnum("ContainerState", {{"CONTAINER_CREATED", 0},
                                {"CONTAINER_RUNNING", 1},
                                {"CONTAINER_EXITED", 2},
                                {"CONTAINER_UNKNOWN", 3}});
  ExpectEnum("Protocol", {{"TCP", 0}, {"UDP", 1}, {"SCTP", 2}});
  ExpectEnum("NamespaceMode", {{"POD", 0}, {"CONTAINER", 1}, {"NODE", 2}, {"TARGET", 3}});
  ExpectEnum("MountPropagation", {{"PROPAGATION_PRIVATE", 0},
                                  {"PROPAGATION_HOST_TO_CONTAINER", 1},
                                  {"PROPAGATION_BIDIRECTIONAL", 2}});
  ExpectEnum("ContainerEventType", {{"CONTAINER_CREATED_EVENT", 0},
                                    {"CONTAINER_STARTED_EVENT", 1},
                                    {"CONTAINER_STOPPED_EVENT", 2},
                                    {"CONTAINER_DELETED_EVENT", 3}});
  ExpectEnum("MetricType", {{"COUNTER", 0}, {"GAUGE", 1}});
  ExpectEnum("CgroupDriver", {{"SYSTEMD", 0}, {"CGROUPFS", 1}});
  ExpectEnum("SecurityProfile.ProfileType",
             {{"RuntimeDefault", 0}, {"Unconfined", 1}, {"Localhost", 2}});
  ExpectEnum("SupplementalGroupsPolicy", {{"Merge", 0}, {"Strict", 1}});
  // Signal: 66 values, RUNTIME_DEFAULT, the classic names alphabetically, then the real-time ones.
  const EnumDescriptor* signal = Enum("Signal");
  ASSERT_NE(signal, nullptr);
  EXPECT_EQ(signal->value_count(), 66);
  for (const auto& [name, number] :
       std::vector<std::pair<std::string, int>>{{"RUNTIME_DEFAULT", 0},
                                                {"SIGABRT", 1},
                                                {"SIGKILL", 13},
                                                {"SIGSTKFLT", 20},
                                                {"SIGTERM", 23},
                                                {"SIGXFSZ", 34},
                                                {"SIGRTMIN", 35},
                                                {"SIGRTMINPLUS15", 50},
                                                {"SIGRTMAXMINUS14", 51},
                                                {"SIGRTMAXMINUS1", 64},
                                                {"SIGRTMAX", 65}}) {
    const auto* v = signal->FindValueByName(name);
    ASSERT_NE(v, nullptr) << name;
    EXPECT_EQ(v->number(), number) << name;
  }
  // The generated C++ enumerators carry the same values.
  EXPECT_EQ(v1::CONTAINER_EXITED, 2);
  EXPECT_EQ(v1::TARGET, 3);
  EXPECT_EQ(v1::SecurityProfile::Localhost, 2);
}

// ---------------------------------------------------------------------------------------------
// Wire bytes
// ---------------------------------------------------------------------------------------------

// Hand-encoded bytes, independent of our descriptors: tag = (number << 3) | wire type.
TEST(CriProto, KnownWireBytes) {
  v1::RunPodSandboxRequest req;
  req.mutable_config()->mutable_metadata()->set_name("p");
  req.mutable_config()->mutable_metadata()->set_attempt(3);
  req.set_runtime_handler("r");
  // config(1,LEN){ metadata(1,LEN){ name(1,LEN)"p", attempt(4,VARINT)3 } }, runtime_handler(2,LEN)"r"
  const std::string expected = Bytes("\x0a\x07\x0a\x05\x0a\x01p\x20\x03\x12\x01r");
  EXPECT_EQ(req.SerializeAsString(), expected);

  // ContainerStatus{state=CONTAINER_EXITED(3,VARINT), exit_code=137(7,VARINT), image_id(17,LEN)"i"}
  v1::ContainerStatus status;
  ASSERT_TRUE(status.ParseFromString(Bytes("\x18\x02\x38\x89\x01\x8a\x01\x01i")));
  EXPECT_EQ(status.state(), v1::CONTAINER_EXITED);
  EXPECT_EQ(status.exit_code(), 137);
  EXPECT_EQ(status.image_id(), "i");
}

TEST(CriProto, RunPodSandboxRequestRoundTrip) {
  v1::RunPodSandboxRequest req;
  req.set_runtime_handler("runc");
  v1::PodSandboxConfig* cfg = req.mutable_config();
  cfg->mutable_metadata()->set_name("web");
  cfg->mutable_metadata()->set_uid("0f1e2d3c-0000-4000-8000-000000000001");
  cfg->mutable_metadata()->set_namespace_("default");
  cfg->mutable_metadata()->set_attempt(2);
  cfg->set_hostname("web");
  cfg->set_log_directory("/var/log/pods/default_web_0f1e2d3c");
  cfg->mutable_dns_config()->add_servers("10.96.0.10");
  cfg->mutable_dns_config()->add_searches("default.svc.cluster.local");
  cfg->mutable_dns_config()->add_options("ndots:5");
  v1::PortMapping* pm = cfg->add_port_mappings();
  pm->set_protocol(v1::SCTP);
  pm->set_container_port(8080);
  pm->set_host_port(30080);
  pm->set_host_ip("127.0.0.1");
  (*cfg->mutable_labels())["app"] = "web";
  (*cfg->mutable_annotations())["peapod.io/note"] = "{\"json\":true}";
  v1::LinuxPodSandboxConfig* linux_cfg = cfg->mutable_linux();
  linux_cfg->set_cgroup_parent("/kubepods/burstable/pod0f1e2d3c");
  (*linux_cfg->mutable_sysctls())["net.ipv4.ip_unprivileged_port_start"] = "0";
  linux_cfg->mutable_resources()->set_memory_limit_in_bytes(256LL << 20);
  (*linux_cfg->mutable_resources()->mutable_unified())["memory.high"] = "200000000";
  v1::LinuxSandboxSecurityContext* sc = linux_cfg->mutable_security_context();
  sc->mutable_namespace_options()->set_pid(v1::CONTAINER);
  sc->mutable_namespace_options()->set_network(v1::NODE);
  v1::UserNamespace* userns = sc->mutable_namespace_options()->mutable_userns_options();
  userns->set_mode(v1::POD);
  v1::IDMapping* uid = userns->add_uids();
  uid->set_host_id(100000);
  uid->set_container_id(0);
  uid->set_length(65536);
  sc->mutable_run_as_user()->set_value(0);
  sc->add_supplemental_groups(1000);
  sc->mutable_seccomp()->set_profile_type(v1::SecurityProfile::RuntimeDefault);
  sc->mutable_apparmor()->set_profile_type(v1::SecurityProfile::Localhost);
  sc->mutable_apparmor()->set_localhost_ref("peapod-default");
  cfg->mutable_windows()->mutable_security_context()->set_host_process(false);

  const std::string wire = req.SerializeAsString();
  ASSERT_FALSE(wire.empty());

  v1::RunPodSandboxRequest back;
  ASSERT_TRUE(back.ParseFromString(wire));
  std::string diff;
  google::protobuf::util::MessageDifferencer differ;
  differ.ReportDifferencesToString(&diff);
  EXPECT_TRUE(differ.Compare(req, back)) << diff;
  EXPECT_EQ(back.config().metadata().namespace_(), "default");
  EXPECT_EQ(back.config().port_mappings(0).protocol(), v1::SCTP);
  EXPECT_EQ(back.config().linux().security_context().namespace_options().userns_options().uids(0).length(),
            65536u);
  EXPECT_TRUE(back.config().linux().security_context().has_run_as_user());
  EXPECT_EQ(back.config().labels().at("app"), "web");
  EXPECT_EQ(back.runtime_handler(), "runc");
}

// A newer peer (e.g. a 1.31 kubelet setting Mount.image = 9) must not break parsing, and the
// unknown field must survive a re-serialization.
TEST(CriProto, UnknownNewerFieldsArePreserved) {
  // Mount{container_path(1)"/c", field 15 (LEN, unknown to 1.36){ "x" }}
  const std::string newer = Bytes("\x0a\x02/c\x7a\x03\x0a\x01x");
  v1::Mount mount;
  ASSERT_TRUE(mount.ParseFromString(newer));
  EXPECT_EQ(mount.container_path(), "/c");
  EXPECT_EQ(mount.SerializeAsString(), newer);
}

}  // namespace
