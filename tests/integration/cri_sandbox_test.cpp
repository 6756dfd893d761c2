// CRI sandbox verbs against a real peapodd on a private CNI network: RunPodSandbox,
// PodSandboxStatus, ListPodSandbox, StopPodSandbox, RemovePodSandbox, and their error cases.
#include <set>
#include <thread>

#include "cri_test_fixture.h"

namespace peapod::testing {
namespace {

using Stub = v1::RuntimeService::Stub;
using CriSandbox = CriTest;

std::string SubnetPrefix(const CniTestNetwork& network) {
  return "10.99." + std::to_string(network.index()) + ".";
}

TEST_F(CriSandbox, RunPodSandboxMakesAReadyPodWithAnIpInTheNetwork) {
  auto config = TestPodConfig("web");
  config.set_log_directory(daemon_->log_dir() + "/web");
  int64_t before = std::chrono::duration_cast<std::chrono::nanoseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  std::string id;
  auto status = RunPod(config, &id);
  ASSERT_TRUE(status.ok()) << Describe(status);
  ASSERT_FALSE(id.empty());

  v1::PodSandboxStatusResponse resp;
  status = PodStatus(id, &resp);
  ASSERT_TRUE(status.ok()) << Describe(status);
  const auto& s = resp.status();
  EXPECT_EQ(s.id(), id);
  EXPECT_EQ(s.state(), v1::SANDBOX_READY);
  EXPECT_EQ(s.metadata().name(), "web");
  EXPECT_EQ(s.metadata().uid(), "uid-web");
  EXPECT_EQ(s.metadata().namespace_(), "cri-test");
  EXPECT_GE(s.created_at(), before);
  EXPECT_TRUE(s.network().ip().starts_with(SubnetPrefix(*network_)))
      << s.network().ip() << " is not in " << network_->subnet();
  EXPECT_EQ(s.labels().at("app"), "web");
  EXPECT_EQ(s.labels().at("suite"), "cri");
  EXPECT_EQ(s.annotations().at("peapod.test/note"), "opaque value, echoed back");
  EXPECT_EQ(s.runtime_handler(), "");
  EXPECT_GT(resp.timestamp(), 0);
}

TEST_F(CriSandbox, ListPodSandboxFiltersByIdPrefixStateAndLabels) {
  std::string a, b;
  ASSERT_TRUE(RunPod(TestPodConfig("alpha"), &a).ok());
  ASSERT_TRUE(RunPod(TestPodConfig("beta"), &b).ok());
  ASSERT_TRUE(StopPod(b).ok());

  EXPECT_EQ(ListPods().size(), 2u);

  v1::PodSandboxFilter by_id;
  by_id.set_id(a.substr(0, 12));
  auto found = ListPods(&by_id);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].id(), a);
  EXPECT_EQ(found[0].metadata().name(), "alpha");
  EXPECT_EQ(found[0].labels().at("app"), "alpha");
  EXPECT_EQ(found[0].annotations().at("peapod.test/note"), "opaque value, echoed back");

  v1::PodSandboxFilter ready;
  ready.mutable_state()->set_state(v1::SANDBOX_READY);
  found = ListPods(&ready);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].id(), a);

  v1::PodSandboxFilter not_ready;
  not_ready.mutable_state()->set_state(v1::SANDBOX_NOTREADY);
  found = ListPods(&not_ready);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].id(), b);

  v1::PodSandboxFilter by_label;
  (*by_label.mutable_label_selector())["app"] = "beta";
  found = ListPods(&by_label);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].id(), b);

  (*by_label.mutable_label_selector())["suite"] = "cri";
  EXPECT_EQ(ListPods(&by_label).size(), 1u);
  (*by_label.mutable_label_selector())["suite"] = "other";
  EXPECT_TRUE(ListPods(&by_label).empty());

  v1::PodSandboxFilter nothing;
  nothing.set_id("ffffffffffff-no-such-id");
  EXPECT_TRUE(ListPods(&nothing).empty());
}

TEST_F(CriSandbox, StopPodSandboxMakesItNotReadyAndIsIdempotent) {
  std::string id;
  ASSERT_TRUE(RunPod(TestPodConfig("stopper"), &id).ok());
  auto status = StopPod(id);
  ASSERT_TRUE(status.ok()) << Describe(status);
  v1::PodSandboxStatusResponse resp;
  ASSERT_TRUE(PodStatus(id, &resp).ok());
  EXPECT_EQ(resp.status().state(), v1::SANDBOX_NOTREADY);
  status = StopPod(id);
  EXPECT_TRUE(status.ok()) << "second stop: " << Describe(status);
}

TEST_F(CriSandbox, RemovePodSandboxForgetsItAndIsIdempotent) {
  std::string id;
  ASSERT_TRUE(RunPod(TestPodConfig("remover"), &id).ok());
  auto status = RemovePod(id);
  ASSERT_TRUE(status.ok()) << Describe(status);
  v1::PodSandboxStatusResponse resp;
  EXPECT_EQ(PodStatus(id, &resp).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_TRUE(ListPods().empty());
  status = RemovePod(id);
  EXPECT_TRUE(status.ok()) << "second remove: " << Describe(status);
}

TEST_F(CriSandbox, SameNameAndAttemptIsRefusedOrAnswersTheSamePod) {
  std::string first, second;
  ASSERT_TRUE(RunPod(TestPodConfig("twin"), &first).ok());
  auto status = RunPod(TestPodConfig("twin"), &second);
  if (status.ok()) {
    EXPECT_EQ(second, first);
  } else {
    EXPECT_EQ(status.error_code(), grpc::StatusCode::ALREADY_EXISTS) << Describe(status);
  }
  EXPECT_EQ(ListPods().size(), 1u);
  // The next attempt is a new pod.
  std::string next;
  status = RunPod(TestPodConfig("twin", 1), &next);
  ASSERT_TRUE(status.ok()) << Describe(status);
  EXPECT_NE(next, first);
}

TEST_F(CriSandbox, BadInputIsInvalidArgumentAndChangesNothing) {
  v1::RunPodSandboxRequest no_config;
  v1::RunPodSandboxResponse resp;
  EXPECT_EQ(CriCall(runtime(), &Stub::RunPodSandbox, no_config, &resp).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);

  auto no_metadata = TestPodConfig("x");
  no_metadata.clear_metadata();
  EXPECT_EQ(RunPod(no_metadata, nullptr).error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  auto empty_name = TestPodConfig("");
  auto status = RunPod(empty_name, nullptr);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_FALSE(status.error_message().empty());

  status = RunPod(TestPodConfig("handled"), nullptr, "no-such-handler");
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("no-such-handler"), std::string::npos);

  EXPECT_TRUE(ListPods().empty());
  EXPECT_TRUE(network_->BridgePorts().empty());
}

TEST_F(CriSandbox, UnknownIdsAreNotFoundExceptForRemove) {
  v1::PodSandboxStatusResponse resp;
  EXPECT_EQ(PodStatus("0123456789abcdef", &resp).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(StopPod("0123456789abcdef").error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_TRUE(RemovePod("0123456789abcdef").ok());
  EXPECT_EQ(StopPod("").error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(CriSandbox, ConcurrentRunPodSandboxCallsAllSucceedWithDistinctIps) {
  constexpr int kPods = 16;
  std::vector<std::string> ids(kPods);
  std::vector<grpc::Status> results(kPods);
  std::vector<std::thread> threads;
  for (int i = 0; i < kPods; ++i) {
    threads.emplace_back(
        [&, i] { results[i] = RunPod(TestPodConfig("crowd-" + std::to_string(i)), &ids[i]); });
  }
  for (auto& t : threads) t.join();
  std::set<std::string> ips;
  for (int i = 0; i < kPods; ++i) {
    ASSERT_TRUE(results[i].ok()) << "pod " << i << ": " << Describe(results[i]);
    v1::PodSandboxStatusResponse resp;
    ASSERT_TRUE(PodStatus(ids[i], &resp).ok());
    EXPECT_EQ(resp.status().state(), v1::SANDBOX_READY);
    EXPECT_TRUE(resp.status().network().ip().starts_with(SubnetPrefix(*network_)));
    ips.insert(resp.status().network().ip());
  }
  EXPECT_EQ(ips.size(), static_cast<size_t>(kPods));
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()).size(), static_cast<size_t>(kPods));
}

class CriSandboxWithHandler : public CriTest {
 protected:
  std::vector<std::string> ExtraDaemonArgs() const override {
    return {"--runtime-handler", "fast"};
  }
};

TEST_F(CriSandboxWithHandler, AConfiguredRuntimeHandlerIsAcceptedAndReported) {
  std::string id;
  auto status = RunPod(TestPodConfig("handled"), &id, "fast");
  ASSERT_TRUE(status.ok()) << Describe(status);
  v1::PodSandboxStatusResponse resp;
  ASSERT_TRUE(PodStatus(id, &resp).ok());
  EXPECT_EQ(resp.status().runtime_handler(), "fast");
  v1::StatusRequest req;
  v1::StatusResponse status_resp;
  ASSERT_TRUE(CriCall(runtime(), &Stub::Status, req, &status_resp).ok());
  ASSERT_EQ(status_resp.runtime_handlers_size(), 2);
  EXPECT_EQ(status_resp.runtime_handlers(1).name(), "fast");
}

}  // namespace
}  // namespace peapod::testing
