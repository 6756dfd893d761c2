// Shared by the cri_*_test.cpp files: a fixture running a real peapodd on a private CNI test
// network, and small helpers that make CRI calls with a deadline.
#pragma once

#include <grpcpp/client_context.h>
#include <gtest/gtest.h>

#include <chrono>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "cri/proto/api.grpc.pb.h"
#include "support/cni_test_network.h"
#include "support/peapodd_process.h"
#include "support/registry.h"

namespace peapod::testing {

namespace v1 = ::runtime::v1;

// Calls stub.*method(req) with a deadline; the response lands in *resp.
template <typename Stub, typename Req, typename Resp>
grpc::Status CriCall(Stub& stub,
                     grpc::Status (Stub::*method)(grpc::ClientContext*, const Req&, Resp*),
                     const Req& req, Resp* resp,
                     std::chrono::seconds timeout = std::chrono::seconds(90)) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + timeout);
  return (stub.*method)(&ctx, req, resp);
}

inline std::string Describe(const grpc::Status& status) {
  return std::to_string(static_cast<int>(status.error_code())) + ": " + status.error_message();
}

inline v1::PodSandboxConfig TestPodConfig(const std::string& name, uint32_t attempt = 0) {
  v1::PodSandboxConfig config;
  auto* m = config.mutable_metadata();
  m->set_name(name);
  m->set_uid("uid-" + name);
  m->set_namespace_("cri-test");
  m->set_attempt(attempt);
  config.set_hostname(name);
  (*config.mutable_labels())["app"] = name;
  (*config.mutable_labels())["suite"] = "cri";
  (*config.mutable_annotations())["peapod.test/note"] = "opaque value, echoed back";
  return config;
}

class CriTest : public ::testing::Test {
 protected:
  void SetUp() override {
    network_ = std::make_unique<CniTestNetwork>();
    TestConflistOptions conflist;
    conflist.portmap = false;
    if (WriteTestConflist()) network_->WriteConflist(network_->Conflist(conflist));
    StartDaemon(ExtraDaemonArgs());
  }

  void TearDown() override {
    if (daemon_) {
      daemon_->Stop();
      if (HasFailure()) std::cerr << "---- peapodd log ----\n" << daemon_->Log() << "\n";
    }
    daemon_.reset();
    network_.reset();
  }

  virtual bool WriteTestConflist() const { return true; }
  virtual std::vector<std::string> ExtraDaemonArgs() const { return {}; }

  void StartDaemon(const std::vector<std::string>& extra_args) {
    PeapoddOptions options;
    options.cni_conf_dir = network_->conf_dir();
    options.cni_plugin_dirs = {network_->plugin_dir(), "/usr/lib/cni"};
    options.extra_args = extra_args;
    auto started = PeapoddProcess::Start(options);
    ASSERT_TRUE(started) << started.error().ToString();
    daemon_ = std::move(*started);
  }

  v1::RuntimeService::Stub& runtime() { return daemon_->runtime(); }
  v1::ImageService::Stub& images() { return daemon_->images(); }

  grpc::Status RunPod(const v1::PodSandboxConfig& config, std::string* id,
                      const std::string& handler = "") {
    v1::RunPodSandboxRequest req;
    *req.mutable_config() = config;
    req.set_runtime_handler(handler);
    v1::RunPodSandboxResponse resp;
    auto status = CriCall(runtime(), &v1::RuntimeService::Stub::RunPodSandbox, req, &resp);
    if (id != nullptr) *id = resp.pod_sandbox_id();
    return status;
  }

  grpc::Status PodStatus(const std::string& id, v1::PodSandboxStatusResponse* resp) {
    v1::PodSandboxStatusRequest req;
    req.set_pod_sandbox_id(id);
    return CriCall(runtime(), &v1::RuntimeService::Stub::PodSandboxStatus, req, resp);
  }

  grpc::Status StopPod(const std::string& id) {
    v1::StopPodSandboxRequest req;
    req.set_pod_sandbox_id(id);
    v1::StopPodSandboxResponse resp;
    return CriCall(runtime(), &v1::RuntimeService::Stub::StopPodSandbox, req, &resp);
  }

  grpc::Status RemovePod(const std::string& id) {
    v1::RemovePodSandboxRequest req;
    req.set_pod_sandbox_id(id);
    v1::RemovePodSandboxResponse resp;
    return CriCall(runtime(), &v1::RuntimeService::Stub::RemovePodSandbox, req, &resp);
  }

  std::vector<v1::PodSandbox> ListPods(const v1::PodSandboxFilter* filter = nullptr) {
    v1::ListPodSandboxRequest req;
    if (filter != nullptr) *req.mutable_filter() = *filter;
    v1::ListPodSandboxResponse resp;
    auto status = CriCall(runtime(), &v1::RuntimeService::Stub::ListPodSandbox, req, &resp);
    EXPECT_TRUE(status.ok()) << Describe(status);
    return {resp.items().begin(), resp.items().end()};
  }

  std::unique_ptr<CniTestNetwork> network_;
  std::unique_ptr<PeapoddProcess> daemon_;
};

// A CriTest whose suite runs a local registry holding busybox, and whose every test starts with
// busybox pulled through CRI (unless PullsBusybox() says no). Also the container verbs that the
// busybox suites share.
class CriBusyboxTest : public CriTest {
 protected:
  static void SetUpTestSuite() {
    auto registry = LocalRegistry::Start();
    ASSERT_TRUE(registry) << registry.error().ToString();
    registry_ = std::move(*registry);
    PushBusybox("busybox:latest");
  }
  static void TearDownTestSuite() { registry_.reset(); }

  // Pushes the busybox test image to the suite's registry as `name` ("repo:tag").
  static void PushBusybox(const std::string& name) {
    auto pushed = registry_->Push(TestImagesDir() + "/busybox", name);
    ASSERT_TRUE(pushed) << pushed.error().ToString();
  }

  void SetUp() override {
    ASSERT_NE(registry_, nullptr) << "the local registry did not start";
    CriTest::SetUp();
    if (HasFatalFailure() || !PullsBusybox()) return;
    v1::PullImageRequest req;
    req.mutable_image()->set_image(BusyboxRef());
    v1::PullImageResponse resp;
    auto status = CriCall(images(), &v1::ImageService::Stub::PullImage, req, &resp);
    ASSERT_TRUE(status.ok()) << Describe(status);
  }

  virtual bool PullsBusybox() const { return true; }

  static std::string BusyboxRef() { return registry_->HostPort() + "/busybox:latest"; }

  grpc::Status Start(const std::string& id) {
    v1::StartContainerRequest req;
    req.set_container_id(id);
    v1::StartContainerResponse resp;
    return CriCall(runtime(), &v1::RuntimeService::Stub::StartContainer, req, &resp);
  }

  std::vector<v1::Container> ListContainers(const v1::ContainerFilter* filter = nullptr) {
    v1::ListContainersRequest req;
    if (filter != nullptr) *req.mutable_filter() = *filter;
    v1::ListContainersResponse resp;
    auto status = CriCall(runtime(), &v1::RuntimeService::Stub::ListContainers, req, &resp);
    EXPECT_TRUE(status.ok()) << Describe(status);
    return {resp.containers().begin(), resp.containers().end()};
  }

  static inline std::unique_ptr<LocalRegistry> registry_;
};

}  // namespace peapod::testing
