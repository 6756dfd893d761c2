#include <gtest/gtest.h>

#include "peapod/cni/result.h"
#include "peapod/cni/version.h"

namespace peapod::cni {
namespace {

TEST(CniResult, ParsesVersion100Result) {
  auto r = ParseAddResult(R"({
    "cniVersion": "1.0.0",
    "interfaces": [
      {"name": "pptest0", "mac": "aa:bb:cc:00:00:01"},
      {"name": "eth0", "mac": "aa:bb:cc:00:00:02", "sandbox": "/run/netns/x", "mtu": 1500}],
    "ips": [
      {"address": "10.99.1.5/24", "gateway": "10.99.1.1", "interface": 1},
      {"address": "fd00:99::5/64", "interface": 1}],
    "routes": [{"dst": "0.0.0.0/0", "gw": "10.99.1.1"}],
    "dns": {"nameservers": ["10.0.0.10"], "domain": "cluster.local", "search": ["a", "b"],
            "options": ["ndots:5"]}})");
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(r->cni_version, "1.0.0");
  ASSERT_EQ(r->interfaces.size(), 2u);
  EXPECT_EQ(r->interfaces[1].sandbox, "/run/netns/x");
  EXPECT_EQ(r->interfaces[1].mtu, 1500);
  ASSERT_EQ(r->ips.size(), 2u);
  EXPECT_EQ(r->ips[0].address, "10.99.1.5/24");
  EXPECT_EQ(r->ips[0].family, 4);
  EXPECT_EQ(r->ips[0].gateway, "10.99.1.1");
  EXPECT_EQ(r->ips[0].interface, 1);
  EXPECT_EQ(r->ips[1].family, 6);
  ASSERT_EQ(r->routes.size(), 1u);
  EXPECT_EQ(r->routes[0].gw, "10.99.1.1");
  EXPECT_EQ(r->dns.nameservers, std::vector<std::string>{"10.0.0.10"});
  EXPECT_EQ(r->dns.domain, "cluster.local");
  EXPECT_EQ(r->dns.search.size(), 2u);
  EXPECT_FALSE(r->raw_json.empty());
}

TEST(CniResult, ParsesVersion040ResultWithVersionField) {
  auto r = ParseAddResult(R"({
    "cniVersion": "0.4.0",
    "interfaces": [{"name": "eth0", "sandbox": "/proc/1/ns/net"}],
    "ips": [{"version": "4", "address": "10.1.0.2/16", "gateway": "10.1.0.1", "interface": 0}],
    "dns": {}})");
  ASSERT_TRUE(r) << r.error().ToString();
  ASSERT_EQ(r->ips.size(), 1u);
  EXPECT_EQ(r->ips[0].family, 4);
  EXPECT_EQ(r->ips[0].interface, 0);
}

TEST(CniResult, TakesFamilyFromVersionFieldIn031) {
  auto r = ParseAddResult(R"({
    "cniVersion": "0.3.1",
    "ips": [{"version": "6", "address": "fd00::2/64"}, {"version": "4", "address": "10.0.0.2/8"}]})");
  ASSERT_TRUE(r) << r.error().ToString();
  ASSERT_EQ(r->ips.size(), 2u);
  EXPECT_EQ(r->ips[0].family, 6);
  EXPECT_EQ(r->ips[1].family, 4);
  EXPECT_EQ(r->ips[1].interface, -1);
}

TEST(CniResult, ParsesLegacy020Ip4Ip6Shape) {
  auto r = ParseAddResult(R"({
    "cniVersion": "0.2.0",
    "ip4": {"ip": "10.2.0.3/16", "gateway": "10.2.0.1", "routes": [{"dst": "0.0.0.0/0"}]},
    "ip6": {"ip": "fd00::3/64"}})");
  ASSERT_TRUE(r) << r.error().ToString();
  ASSERT_EQ(r->ips.size(), 2u);
  EXPECT_EQ(r->ips[0].address, "10.2.0.3/16");
  EXPECT_EQ(r->ips[0].family, 4);
  EXPECT_EQ(r->ips[1].family, 6);
  ASSERT_EQ(r->routes.size(), 1u);
}

TEST(CniResult, RejectsMalformedResults) {
  EXPECT_FALSE(ParseAddResult("garbage"));
  EXPECT_FALSE(ParseAddResult(R"({"cniVersion": "1.0.0", "ips": "10.0.0.1"})"));
  EXPECT_FALSE(ParseAddResult(R"({"cniVersion": "1.0.0", "ips": [{"gateway": "10.0.0.1"}]})"));
  // An ip may only point at an interface the result lists.
  EXPECT_FALSE(ParseAddResult(
      R"({"cniVersion": "1.0.0", "interfaces": [], "ips": [{"address": "10.0.0.2/8", "interface": 0}]})"));
}

TEST(CniPluginError, ParsesSpecErrorObject) {
  auto e = ParsePluginError(
      R"({"cniVersion": "1.0.0", "code": 11, "msg": "try later", "details": "busy"})");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->code, 11);
  EXPECT_EQ(e->msg, "try later");
  EXPECT_EQ(e->details, "busy");
}

TEST(CniPluginError, DoesNotMistakeResultOrGarbageForError) {
  EXPECT_FALSE(ParsePluginError(R"({"cniVersion": "1.0.0", "ips": []})"));
  EXPECT_FALSE(ParsePluginError("panic: runtime error"));
  EXPECT_FALSE(ParsePluginError(""));
  // A plugin is untrusted: a code that is no int, or of another type, is no error code.
  EXPECT_FALSE(ParsePluginError(R"({"code": 99999999999999999999, "msg": "x"})"));
  EXPECT_FALSE(ParsePluginError(R"({"code": "7", "msg": "x"})"));
}

TEST(CniVersion, ParsesAndComparesSpecVersions) {
  auto v = ParseSpecVersion("0.4.0");
  ASSERT_TRUE(v);
  EXPECT_EQ(*v, (SpecVersion{0, 4, 0}));
  EXPECT_LT(*ParseSpecVersion("0.3.1"), *ParseSpecVersion("0.4.0"));
  EXPECT_LT(*ParseSpecVersion("0.4.0"), *ParseSpecVersion("1.0.0"));
  EXPECT_FALSE(ParseSpecVersion("1.0"));
  EXPECT_FALSE(ParseSpecVersion("1.0.x"));
  EXPECT_FALSE(ParseSpecVersion(""));
}

TEST(CniVersion, KnowsWhichVersionsSupportCheckAndChaining) {
  EXPECT_TRUE(IsSupportedSpecVersion("1.0.0"));
  EXPECT_TRUE(IsSupportedSpecVersion("0.3.1"));
  EXPECT_FALSE(IsSupportedSpecVersion("0.5.0"));
  EXPECT_TRUE(SupportsCheck("0.4.0"));
  EXPECT_TRUE(SupportsCheck("1.0.0"));
  EXPECT_FALSE(SupportsCheck("0.3.1"));
  EXPECT_TRUE(SupportsChaining("0.3.0"));
  EXPECT_FALSE(SupportsChaining("0.2.0"));
}

TEST(CniVersion, ParsesVersionCommandAnswer) {
  auto info = ParseVersionInfo(
      R"({"cniVersion": "1.0.0", "supportedVersions": ["0.3.1", "0.4.0", "1.0.0"]})");
  ASSERT_TRUE(info);
  EXPECT_EQ(info->cni_version, "1.0.0");
  EXPECT_EQ(info->supported_versions.size(), 3u);
  auto old = ParseVersionInfo(R"({"cniVersion": "0.2.0"})");
  ASSERT_TRUE(old);
  EXPECT_EQ(old->supported_versions, (std::vector<std::string>{"0.1.0", "0.2.0"}));
  EXPECT_FALSE(ParseVersionInfo("nope"));
}

}  // namespace
}  // namespace peapod::cni
