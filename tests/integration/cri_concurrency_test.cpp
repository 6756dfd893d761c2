// Concurrent RunPodSandbox against a real peapodd on a private CNI network: many pods at once
// all get made with distinct addresses, and twins (the same name and attempt, as a kubelet
// retry after a timeout sends) never make a second pod.
#include <set>
#include <thread>

#include "cri_test_fixture.h"

namespace peapod::testing {
namespace {

using CriConcurrency = CriTest;

TEST_F(CriConcurrency, FiftyConcurrentRunPodSandboxCallsAllSucceedWithDistinctIps) {
  constexpr int kPods = 50;
  std::vector<std::string> ids(kPods);
  std::vector<grpc::Status> results(kPods);
  std::vector<std::thread> threads;
  for (int i = 0; i < kPods; ++i) {
    threads.emplace_back(
        [&, i] { results[i] = RunPod(TestPodConfig("many-" + std::to_string(i)), &ids[i]); });
  }
  for (auto& t : threads) t.join();
  std::set<std::string> ips;
  std::string prefix = "10.99." + std::to_string(network_->index()) + ".";
  for (int i = 0; i < kPods; ++i) {
    ASSERT_TRUE(results[i].ok()) << "pod " << i << ": " << Describe(results[i]);
    v1::PodSandboxStatusResponse resp;
    ASSERT_TRUE(PodStatus(ids[i], &resp).ok());
    EXPECT_EQ(resp.status().state(), v1::SANDBOX_READY);
    EXPECT_TRUE(resp.status().network().ip().starts_with(prefix)) << resp.status().network().ip();
    ips.insert(resp.status().network().ip());
  }
  EXPECT_EQ(ips.size(), static_cast<size_t>(kPods));
  EXPECT_EQ(ListPods().size(), static_cast<size_t>(kPods));
  EXPECT_EQ(network_->BridgePorts().size(), static_cast<size_t>(kPods));
}

TEST_F(CriConcurrency, ConcurrentTwinsMakeExactlyOnePod) {
  constexpr int kCalls = 8;
  std::vector<std::string> ids(kCalls);
  std::vector<grpc::Status> results(kCalls);
  std::vector<std::thread> threads;
  for (int i = 0; i < kCalls; ++i) {
    threads.emplace_back([&, i] { results[i] = RunPod(TestPodConfig("twin"), &ids[i]); });
  }
  for (auto& t : threads) t.join();
  int made = 0;
  for (int i = 0; i < kCalls; ++i) {
    if (results[i].ok()) {
      ++made;
      continue;
    }
    EXPECT_EQ(results[i].error_code(), grpc::StatusCode::ALREADY_EXISTS) << Describe(results[i]);
  }
  EXPECT_EQ(made, 1);
  EXPECT_EQ(ListPods().size(), 1u);
  // The refused calls attached nothing: one veth, one lease.
  EXPECT_EQ(network_->BridgePorts().size(), 1u);
  EXPECT_EQ(network_->Leases().size(), 1u);
  // Once removed, the name is free for the next pod.
  ASSERT_TRUE(RemovePod(ListPods()[0].id()).ok());
  std::string again;
  auto status = RunPod(TestPodConfig("twin"), &again);
  EXPECT_TRUE(status.ok()) << Describe(status);
}

}  // namespace
}  // namespace peapod::testing
