// CniClient's chaining, caching and error reporting, driven through fake shell-script plugins
// that record what they were given (no root, no netns needed).
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <nlohmann/json.hpp>

#include "peapod/cni/cni_client.h"
#include "support/temp_dir.h"

namespace peapod::cni {
namespace {

using nlohmann::json;
using peapod::testing::ReadFile;
using peapod::testing::TempDir;
using peapod::testing::WriteFile;

class CniChainTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::filesystem::create_directories(dir / "net.d");
    std::filesystem::create_directories(dir / "bin");
  }
  // A plugin that logs "<type> <command> <stdin>" per line and answers ADD with a result
  // naming itself.
  void Recorder(const std::string& type, const std::string& ip) {
    std::string path = dir / ("bin/" + type);
    WriteFile(path, "#!/bin/sh\nin=$(cat)\necho \"" + type + " $CNI_COMMAND $in\" >> " + Log() +
                        "\necho \"$CNI_ARGS\" > " + (dir / ("args-" + type)) +
                        "\n[ \"$CNI_COMMAND\" = ADD ] && echo '{\"cniVersion\":\"1.0.0\","
                        "\"ips\":[{\"address\":\"" +
                        ip + "/24\"}],\"from\":\"" + type +
                        "\"}'\n"
                        "exit 0\n");
    ::chmod(path.c_str(), 0755);
  }
  void Plugin(const std::string& type, const std::string& body) {
    std::string path = dir / ("bin/" + type);
    WriteFile(path, "#!/bin/sh\ncat >/dev/null\n" + body + "\n");
    ::chmod(path.c_str(), 0755);
  }
  void Conflist(const json& plugins, const std::string& file = "10-x.conflist") {
    WriteFile(dir / ("net.d/" + file),
              json{{"cniVersion", "1.0.0"}, {"name", "chain"}, {"plugins", plugins}}.dump());
  }
  std::string Log() const { return dir / "log"; }
  // Each logged line as {type, command, stdin json}.
  std::vector<std::tuple<std::string, std::string, json>> Calls() const {
    std::vector<std::tuple<std::string, std::string, json>> calls;
    std::istringstream in(ReadFile(Log()));
    std::string type, command, rest;
    while (in >> type >> command && std::getline(in, rest)) {
      calls.emplace_back(type, command, json::parse(rest));
    }
    return calls;
  }
  std::unique_ptr<CniClient> Client() {
    CniOptions o;
    o.conf_dir = dir / "net.d";
    o.plugin_dirs = {dir / "bin"};
    o.cache_dir = dir / "cache";
    o.plugin_timeout = std::chrono::seconds(10);
    return std::move(*CniClient::Create(o));
  }
  PodNetwork Pod() {
    PodNetwork pod;
    pod.sandbox_id = "sb1";
    pod.netns_path = "/proc/self/ns/net";
    pod.pod_name = "web";
    pod.pod_namespace = "ns";
    pod.pod_uid = "u1";
    pod.port_mappings = {{"tcp", 8080, 80, ""}};
    return pod;
  }

  TempDir dir{"peapod-cni-chain"};
};

TEST_F(CniChainTest, AddChainsPrevResultAndDelRunsInReverseWithTheCachedResult) {
  Recorder("first", "10.0.0.2");
  Recorder("second", "10.0.0.3");
  Conflist(json::array(
      {{{"type", "first"}}, {{"type", "second"}, {"capabilities", {{"portMappings", true}}}}}));
  auto client = Client();
  auto r = client->Add(Pod());
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(r->ips.at(0).address, "10.0.0.3/24");
  EXPECT_EQ(r->network_name, "chain");
  EXPECT_EQ(ReadFile(dir / "args-first"),
            "IgnoreUnknown=1;K8S_POD_NAMESPACE=ns;K8S_POD_NAME=web;"
            "K8S_POD_INFRA_CONTAINER_ID=sb1;K8S_POD_UID=u1\n");

  // The conflist changes; DEL must still use what ADD used.
  Conflist(json::array({{{"type", "other"}}}));
  ASSERT_TRUE(client->Del(Pod()));

  auto calls = Calls();
  ASSERT_EQ(calls.size(), 4u);
  auto& [t0, c0, in0] = calls[0];
  auto& [t1, c1, in1] = calls[1];
  auto& [t2, c2, in2] = calls[2];
  auto& [t3, c3, in3] = calls[3];
  EXPECT_EQ(t0 + c0, "firstADD");
  EXPECT_FALSE(in0.contains("prevResult"));
  EXPECT_FALSE(in0.contains("runtimeConfig"));  // "first" did not declare portMappings
  EXPECT_EQ(in0["name"], "chain");
  EXPECT_EQ(t1 + c1, "secondADD");
  EXPECT_EQ(in1["prevResult"]["from"], "first");
  EXPECT_EQ(in1["runtimeConfig"]["portMappings"][0]["hostPort"], 8080);
  EXPECT_EQ(t2 + c2, "secondDEL");
  EXPECT_EQ(t3 + c3, "firstDEL");
  EXPECT_EQ(in2["prevResult"]["from"], "second");
  EXPECT_EQ(in3["prevResult"]["from"], "second");
  EXPECT_EQ(in2["runtimeConfig"]["portMappings"][0]["hostPort"], 8080);
  EXPECT_FALSE(std::filesystem::exists(dir / "cache") && !std::filesystem::is_empty(dir / "cache"));
}

TEST_F(CniChainTest, CheckRunsInOrderWithTheCachedResult) {
  Recorder("first", "10.0.0.2");
  Recorder("second", "10.0.0.3");
  Conflist(json::array({{{"type", "first"}}, {{"type", "second"}}}));
  auto client = Client();
  ASSERT_TRUE(client->Add(Pod()));
  ASSERT_TRUE(client->Check(Pod()));
  auto calls = Calls();
  ASSERT_EQ(calls.size(), 4u);
  EXPECT_EQ(std::get<0>(calls[2]) + std::get<1>(calls[2]), "firstCHECK");
  EXPECT_EQ(std::get<2>(calls[2])["prevResult"]["from"], "second");
  EXPECT_EQ(std::get<0>(calls[3]) + std::get<1>(calls[3]), "secondCHECK");
}

TEST_F(CniChainTest, CheckWithoutAnAddIsNotFound) {
  Recorder("first", "10.0.0.2");
  Conflist(json::array({{{"type", "first"}}}));
  auto st = Client()->Check(Pod());
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, ErrorCode::kNotFound);
}

TEST_F(CniChainTest, TryAgainLaterErrorIsUnavailableAndRollsBackEarlierPlugins) {
  Recorder("first", "10.0.0.2");
  Plugin("busy", R"([ "$CNI_COMMAND" = ADD ] || exit 0
echo '{"cniVersion":"1.0.0","code":11,"msg":"locked","details":"retry"}'; echo noise >&2; exit 1)");
  Conflist(json::array({{{"type", "first"}}, {{"type", "busy"}}}));
  auto r = Client()->Add(Pod());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(r.error().message.find("cni plugin \"busy\" ADD failed (code 11): locked: retry"),
            std::string::npos)
      << r.error().message;
  EXPECT_NE(r.error().message.find("noise"), std::string::npos);
  auto calls = Calls();
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(std::get<1>(calls[1]), "DEL");  // rollback of "first"
  EXPECT_EQ(std::get<2>(calls[1])["prevResult"]["from"], "first");
}

TEST_F(CniChainTest, CrashingPluginWithoutErrorJsonReportsExitStatusAndStderr) {
  Plugin("crash", R"([ "$CNI_COMMAND" = ADD ] || exit 0
echo "panic: nil map" >&2; exit 2)");
  Conflist(json::array({{{"type", "crash"}}}));
  auto r = Client()->Add(Pod());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kInternal);
  EXPECT_NE(
      r.error().message.find("cni plugin \"crash\" ADD failed (exit status 2): panic: nil map"),
      std::string::npos)
      << r.error().message;
}

TEST_F(CniChainTest, InvalidResultJsonFailsAddAndRollsBack) {
  Plugin("junk", R"([ "$CNI_COMMAND" = ADD ] && echo 'not json'; exit 0)");
  Conflist(json::array({{{"type", "junk"}}}));
  auto client = Client();
  auto r = client->Add(Pod());
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("not a JSON object"), std::string::npos) << r.error().message;
  EXPECT_TRUE(!std::filesystem::exists(dir / "cache") || std::filesystem::is_empty(dir / "cache"));
}

TEST_F(CniChainTest, DelWithoutCacheOrConfigSucceeds) {
  auto st = Client()->Del(Pod());
  EXPECT_TRUE(st) << st.error().ToString();
}

TEST_F(CniChainTest, CreateRejectsOptionsWithoutCacheDir) {
  CniOptions o;
  o.cache_dir = "";
  auto c = CniClient::Create(o);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code, ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace peapod::cni
