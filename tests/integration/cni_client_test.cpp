// CniClient against the real plugins in /usr/lib/cni, in network namespaces the tests make.
#include "peapod/cni/cni_client.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <future>
#include <set>
#include <thread>

#include "support/cni_test_network.h"
#include "support/temp_dir.h"

namespace peapod::cni {
namespace {

using peapod::testing::CaptureShellOutput;
using peapod::testing::CniTestNetwork;
using peapod::testing::NetnsProcess;
using peapod::testing::ReadFile;
using peapod::testing::RunShell;
using peapod::testing::TempDir;
using peapod::testing::TestConflistOptions;
using peapod::testing::WriteFile;

std::string Ipv4Of(const AddResult& r) {
  for (const auto& ip : r.ips) {
    if (ip.family == 4) return ip.address.substr(0, ip.address.find('/'));
  }
  return "";
}

bool ProcessGone(pid_t pid) {
  std::string stat = ReadFile("/proc/" + std::to_string(pid) + "/stat");
  return stat.empty() || stat.find(") Z") != std::string::npos;
}

std::string Fetch(const std::string& url) {
  return CaptureShellOutput("timeout 5 /bin/busybox wget -q -O - " + url + " 2>/dev/null");
}

// Retries while the server starts; returns the last body seen.
std::string FetchWhenUp(const std::string& url, const std::string& expect) {
  std::string body;
  for (int i = 0; i < 100 && body.find(expect) == std::string::npos; ++i) {
    body = Fetch(url);
    if (body.find(expect) == std::string::npos) ::usleep(100 * 1000);
  }
  return body;
}

std::string HostGlobalIpv4() {
  std::string out = CaptureShellOutput(
      "ip -4 -o addr show scope global | awk '{print $4}' | cut -d/ -f1 | grep -v '^10\\.99\\.' | "
      "head -n1");
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

class CniClientTest : public ::testing::Test {
 protected:
  std::unique_ptr<CniClient> NewClient(CniOptions options) {
    auto client = CniClient::Create(std::move(options));
    EXPECT_TRUE(client) << client.error().ToString();
    return client ? std::move(*client) : nullptr;
  }
  std::unique_ptr<CniClient> NewClient() { return NewClient(net.Options()); }
  size_t CacheFiles() const {
    size_t n = 0;
    std::error_code ec;
    for (auto it = std::filesystem::directory_iterator(net.cache_dir(), ec);
         it != std::filesystem::directory_iterator(); ++it) {
      ++n;
    }
    return n;
  }

  CniTestNetwork net;
};

TEST_F(CniClientTest, TwoPodsGetDistinctIpsAndReachEachOtherOverTheBridge) {
  net.WriteConflist(net.Conflist());
  auto client = NewClient();
  auto ns1 = net.NewNetns();
  auto ns2 = net.NewNetns();
  auto pod1 = net.Pod(net.NewSandboxId(), *ns1);
  auto pod2 = net.Pod(net.NewSandboxId(), *ns2);

  auto r1 = client->Add(pod1);
  ASSERT_TRUE(r1) << r1.error().ToString();
  auto r2 = client->Add(pod2);
  ASSERT_TRUE(r2) << r2.error().ToString();
  EXPECT_EQ(r1->network_name, net.network_name());
  std::string ip1 = Ipv4Of(*r1), ip2 = Ipv4Of(*r2);
  ASSERT_FALSE(ip1.empty());
  ASSERT_FALSE(ip2.empty());
  EXPECT_NE(ip1, ip2);
  EXPECT_TRUE(ip1.starts_with("10.99." + std::to_string(net.index()) + "."));
  EXPECT_EQ(r1->ips[0].gateway, "10.99." + std::to_string(net.index()) + ".1");
  EXPECT_EQ(net.Leases().size(), 2u);
  EXPECT_EQ(net.BridgePorts().size(), 2u);
  // The interface inside the pod carries the address the result reported.
  EXPECT_NE(CaptureShellOutput("ip netns exec " + ns1->name() + " ip -4 -o addr show eth0")
                .find(ip1 + "/24"),
            std::string::npos);

  EXPECT_EQ(ns1->Exec("/bin/busybox ping -c1 -W2 " + ip2 + " >/dev/null"), 0);
  EXPECT_EQ(ns2->Exec("/bin/busybox ping -c1 -W2 " + ip1 + " >/dev/null"), 0);

  ASSERT_TRUE(client->Check(pod1)) << client->Check(pod1).error().ToString();
  ASSERT_TRUE(client->Del(pod1));
  ASSERT_TRUE(client->Del(pod2));
  EXPECT_TRUE(net.Leases().empty());
  EXPECT_TRUE(net.BridgePorts().empty());
  EXPECT_EQ(CacheFiles(), 0u);
}

TEST_F(CniClientTest, HostPortIsReachableFromTheHostAndItsRulesAreGoneAfterDel) {
  net.WriteConflist(net.Conflist());
  auto client = NewClient();
  auto ns = net.NewNetns();
  auto pod = net.Pod(net.NewSandboxId(), *ns);
  pod.port_mappings.push_back({"tcp", 18080, 8080, ""});
  auto r = client->Add(pod);
  ASSERT_TRUE(r) << r.error().ToString();

  TempDir www;
  std::string marker = "hello from " + pod.sandbox_id;
  WriteFile(www / "index.html", marker + "\n");
  NetnsProcess httpd(*ns, {"/bin/busybox", "httpd", "-f", "-p", "8080", "-h", www.path()});
  // Direct to the pod first, so a hostPort failure is not mistaken for a server not yet up.
  ASSERT_NE(FetchWhenUp("http://" + Ipv4Of(*r) + ":8080/", marker).find(marker), std::string::npos);
  EXPECT_NE(Fetch("http://127.0.0.1:18080/").find(marker), std::string::npos);
  std::string host_ip = HostGlobalIpv4();
  if (!host_ip.empty()) {
    EXPECT_NE(Fetch("http://" + host_ip + ":18080/").find(marker), std::string::npos) << host_ip;
  }
  EXPECT_NE(CaptureShellOutput("iptables-save -t nat").find(pod.sandbox_id), std::string::npos);

  ASSERT_TRUE(client->Del(pod));
  std::string rules = CaptureShellOutput("iptables-save");
  EXPECT_EQ(rules.find(pod.sandbox_id), std::string::npos);
  EXPECT_EQ(rules.find("--dport 18080"), std::string::npos);
  EXPECT_TRUE(Fetch("http://127.0.0.1:18080/").empty());
  EXPECT_TRUE(net.Leases().empty());
}

TEST_F(CniClientTest, MissingPluginFailsAddNamingItAndAddsNothing) {
  net.WriteConflist(net.Conflist({.extra_plugins = {"no-such-plugin"}}));
  auto client = NewClient();
  auto ns = net.NewNetns();
  auto pod = net.Pod(net.NewSandboxId(), *ns);
  auto r = client->Add(pod);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(r.error().message.find("\"no-such-plugin\" not found"), std::string::npos)
      << r.error().message;
  EXPECT_TRUE(net.Leases().empty());
  EXPECT_TRUE(net.BridgePorts().empty());
  EXPECT_EQ(CacheFiles(), 0u);
}

TEST_F(CniClientTest, FailingPluginFailsAddWithItsErrorAndRollsBackWhatWasAdded) {
  net.AddFakePlugin("failer", R"(cat >/dev/null
if [ "$CNI_COMMAND" = ADD ]; then
  echo '{"cniVersion":"1.0.0","code":7,"msg":"bad config","details":"field x is wrong"}'
  exit 1
fi
exit 0)");
  net.WriteConflist(net.Conflist({.extra_plugins = {"failer"}}));
  auto client = NewClient();
  auto ns = net.NewNetns();
  auto pod = net.Pod(net.NewSandboxId(), *ns);
  pod.port_mappings.push_back({"tcp", 18081, 8080, ""});
  auto r = client->Add(pod);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kInternal);
  EXPECT_NE(r.error().message.find(
                "cni plugin \"failer\" ADD failed (code 7): bad config: field x is wrong"),
            std::string::npos)
      << r.error().message;
  EXPECT_TRUE(net.Leases().empty());
  EXPECT_TRUE(net.BridgePorts().empty());
  EXPECT_EQ(CaptureShellOutput("ip netns exec " + ns->name() + " ip link show eth0 2>/dev/null"),
            "");
  EXPECT_EQ(CaptureShellOutput("iptables-save").find(pod.sandbox_id), std::string::npos);
  EXPECT_EQ(CacheFiles(), 0u);
  // DEL after a failed ADD is fine too.
  EXPECT_TRUE(client->Del(pod));
}

TEST_F(CniClientTest, HangingPluginIsKilledAfterTheTimeoutAndAddIsRolledBack) {
  TempDir scratch;
  std::string pidfile = scratch / "pids";
  net.AddFakePlugin("hanger",
                    "cat >/dev/null\n[ \"$CNI_COMMAND\" = ADD ] || exit 0\n"
                    "sleep 1000 & echo $! > " +
                        pidfile + "\necho $$ >> " + pidfile + "\nwait");
  net.WriteConflist(net.Conflist({.extra_plugins = {"hanger"}}));
  auto options = net.Options();
  options.plugin_timeout = std::chrono::seconds(2);
  auto client = NewClient(options);
  auto ns = net.NewNetns();
  auto pod = net.Pod(net.NewSandboxId(), *ns);
  auto r = client->Add(pod);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kDeadlineExceeded);
  EXPECT_NE(r.error().message.find("cni plugin \"hanger\" ADD timed out"), std::string::npos)
      << r.error().message;
  std::string pids = ReadFile(pidfile);
  ASSERT_NE(pids.find('\n'), std::string::npos);
  pid_t sleeper = std::stoi(pids.substr(0, pids.find('\n')));
  pid_t plugin = std::stoi(pids.substr(pids.find('\n') + 1));
  EXPECT_TRUE(ProcessGone(plugin));
  EXPECT_TRUE(ProcessGone(sleeper));
  EXPECT_TRUE(net.Leases().empty());
  EXPECT_TRUE(net.BridgePorts().empty());
  EXPECT_EQ(CacheFiles(), 0u);
}

TEST_F(CniClientTest, DelAfterTheConfDirWasEmptiedTearsDownFromTheCache) {
  net.WriteConflist(net.Conflist());
  auto client = NewClient();
  auto ns = net.NewNetns();
  auto pod = net.Pod(net.NewSandboxId(), *ns);
  ASSERT_TRUE(client->Add(pod));
  ASSERT_EQ(net.Leases().size(), 1u);
  net.ClearConfDir();
  EXPECT_FALSE(client->GetNetworkStatus().ready);

  // A fresh client, as after an agent restart.
  auto restarted = NewClient();
  ASSERT_TRUE(restarted->Del(pod)) << restarted->Del(pod).error().ToString();
  EXPECT_TRUE(net.Leases().empty());
  EXPECT_TRUE(net.BridgePorts().empty());
  EXPECT_EQ(CacheFiles(), 0u);
}

TEST_F(CniClientTest, SecondDelSucceeds) {
  net.WriteConflist(net.Conflist());
  auto client = NewClient();
  auto ns = net.NewNetns();
  auto pod = net.Pod(net.NewSandboxId(), *ns);
  ASSERT_TRUE(client->Add(pod));
  ASSERT_TRUE(client->Del(pod));
  auto again = client->Del(pod);
  EXPECT_TRUE(again) << again.error().ToString();
  EXPECT_TRUE(net.Leases().empty());
}

TEST_F(CniClientTest, DelAfterTheNetnsWasDeletedSucceedsAndReleasesTheIp) {
  net.WriteConflist(net.Conflist());
  auto client = NewClient();
  auto ns = net.NewNetns();
  auto pod = net.Pod(net.NewSandboxId(), *ns);
  pod.port_mappings.push_back({"tcp", 18082, 8080, ""});
  ASSERT_TRUE(client->Add(pod));
  ASSERT_EQ(net.Leases().size(), 1u);
  ns->Remove();
  auto del = client->Del(pod);
  EXPECT_TRUE(del) << del.error().ToString();
  EXPECT_TRUE(net.Leases().empty());
  EXPECT_TRUE(net.BridgePorts().empty());  // the veth died with its netns
  EXPECT_EQ(CaptureShellOutput("iptables-save").find(pod.sandbox_id), std::string::npos);
  EXPECT_EQ(CacheFiles(), 0u);
}

TEST_F(CniClientTest, StatusIsNotReadyWithoutConfigAndBecomesReadyWhenOneIsDroppedIn) {
  auto client = NewClient();
  NetworkStatus before = client->GetNetworkStatus();
  EXPECT_FALSE(before.ready);
  EXPECT_EQ(before.reason, "NetworkPluginNotReady");
  EXPECT_NE(before.message.find("no valid CNI network config in " + net.conf_dir()),
            std::string::npos)
      << before.message;

  net.WriteConflist("{ broken", "05-broken.conflist");
  NetworkStatus broken = client->GetNetworkStatus();
  EXPECT_FALSE(broken.ready);
  EXPECT_NE(broken.message.find("05-broken.conflist"), std::string::npos) << broken.message;

  net.WriteConflist(net.Conflist());
  NetworkStatus after = client->GetNetworkStatus();
  EXPECT_TRUE(after.ready) << after.message;
  EXPECT_EQ(after.network_name, net.network_name());
  EXPECT_EQ(after.config_path, net.conf_dir() + "/10-test.conflist");
}

TEST_F(CniClientTest, StatusNamesAPluginThatIsNotOnThePath) {
  net.WriteConflist(net.Conflist({.extra_plugins = {"absent-plugin"}}));
  auto client = NewClient();
  NetworkStatus status = client->GetNetworkStatus();
  EXPECT_FALSE(status.ready);
  EXPECT_EQ(status.reason, "NetworkPluginNotReady");
  EXPECT_NE(status.message.find("\"absent-plugin\" not found"), std::string::npos)
      << status.message;
  // Installing it later is picked up without a new client.
  net.AddFakePlugin("absent-plugin", "exit 0");
  EXPECT_TRUE(client->GetNetworkStatus().ready);
}

TEST_F(CniClientTest, ReloadedConfigIsUsedForTheNextAdd) {
  auto client = NewClient();
  auto ns = net.NewNetns();
  auto pod = net.Pod(net.NewSandboxId(), *ns);
  auto none = client->Add(pod);
  ASSERT_FALSE(none);
  EXPECT_NE(none.error().message.find("no valid CNI network config"), std::string::npos);
  net.WriteConflist(net.Conflist());
  auto r = client->Add(pod);
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(r->network_name, net.network_name());
  EXPECT_TRUE(client->Del(pod));
}

TEST_F(CniClientTest, OlderSpecVersionsWorkEndToEnd) {
  for (std::string version : {"0.3.1", "0.4.0"}) {
    SCOPED_TRACE(version);
    net.WriteConflist(net.Conflist({.cni_version = version}));
    auto client = NewClient();
    auto ns = net.NewNetns();
    auto pod = net.Pod(net.NewSandboxId(), *ns);
    auto r = client->Add(pod);
    ASSERT_TRUE(r) << r.error().ToString();
    EXPECT_EQ(r->cni_version, version);
    EXPECT_FALSE(Ipv4Of(*r).empty());
    EXPECT_TRUE(client->Check(pod));
    EXPECT_TRUE(client->Del(pod));
    EXPECT_TRUE(net.Leases().empty());
  }
}

TEST_F(CniClientTest, ConcurrentAddsForDifferentPodsGetDistinctIps) {
  net.WriteConflist(net.Conflist());
  auto client = NewClient();
  constexpr int kPods = 4;
  std::vector<std::unique_ptr<peapod::testing::TestNetns>> namespaces;
  std::vector<PodNetwork> pods;
  for (int i = 0; i < kPods; ++i) {
    namespaces.push_back(net.NewNetns());
    pods.push_back(net.Pod(net.NewSandboxId(), *namespaces.back()));
  }
  std::vector<std::future<Result<AddResult>>> adds;
  for (const auto& pod : pods) {
    adds.push_back(std::async(std::launch::async, [&client, &pod] { return client->Add(pod); }));
  }
  std::set<std::string> ips;
  for (auto& f : adds) {
    auto r = f.get();
    ASSERT_TRUE(r) << r.error().ToString();
    ips.insert(Ipv4Of(*r));
  }
  EXPECT_EQ(ips.size(), static_cast<size_t>(kPods));
  std::vector<std::future<peapod::Status>> dels;
  for (const auto& pod : pods) {
    dels.push_back(std::async(std::launch::async, [&client, &pod] { return client->Del(pod); }));
  }
  for (auto& f : dels) EXPECT_TRUE(f.get());
  EXPECT_TRUE(net.Leases().empty());
}

}  // namespace
}  // namespace peapod::cni
