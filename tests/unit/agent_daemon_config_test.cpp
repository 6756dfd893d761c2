// peapodd's config file: every key, flags over the file, and errors that name file, line and
// column for unknown keys, wrong types and bad values.
#include <gtest/gtest.h>

#include <string>

#include "peapod/agent/daemon_config.h"

namespace peapod::agent {
namespace {

constexpr char kPath[] = "/etc/peapod/config.yaml";

Error ExpectError(const std::string& text) {
  DaemonConfig config;
  auto applied = ApplyDaemonConfigText(text, kPath, config);
  EXPECT_FALSE(applied.has_value()) << "accepted:\n" << text;
  if (applied) return {};
  EXPECT_EQ(applied.error().code, ErrorCode::kInvalidArgument);
  return applied.error();
}

void ExpectMessage(const std::string& text, const std::string& expected) {
  Error error = ExpectError(text);
  EXPECT_NE(error.message.find(expected), std::string::npos)
      << "message: " << error.message << "\nexpected to contain: " << expected;
}

TEST(DaemonConfig, AnEmptyOrCommentedFileChangesNothing) {
  for (const std::string text : {"", "# nothing\n", "---\n"}) {
    DaemonConfig config;
    ASSERT_TRUE(ApplyDaemonConfigText(text, kPath, config).has_value()) << text;
    EXPECT_EQ(FormatDaemonConfig(config), FormatDaemonConfig(DaemonConfig{}));
  }
}

TEST(DaemonConfig, KeysReplaceTheDefaultsAndOthersStay) {
  DaemonConfig config;
  config.cgroup_parent = "set-before";
  auto applied = ApplyDaemonConfigText(
      "listen: /run/x/peapod.sock\n"
      "cni-plugin-dirs: [/opt/cni/bin, /usr/lib/cni]\n"
      "runtime-handler: [fast, gvisor-like]\n"
      "stream-token-ttl: 120\n"
      "backoff-initial: 2s\n"
      "max-image-size: \"0\"\n"
      "auth-file: /etc/peapod/auth.json\n"
      "registries:\n"
      "  docker.io:\n"
      "    mirrors: [\"https://mirror.example\", \"http://10.0.0.5:5000\"]\n"
      "    fallback: true\n"
      "  registry.internal:5000:\n"
      "    insecure: true\n",
      kPath, config);
  ASSERT_TRUE(applied.has_value()) << applied.error().ToString();
  EXPECT_EQ(config.listen, "/run/x/peapod.sock");
  EXPECT_EQ(config.cni_plugin_dirs, "/opt/cni/bin:/usr/lib/cni");
  EXPECT_EQ(config.runtime_handlers, (std::vector<std::string>{"fast", "gvisor-like"}));
  EXPECT_EQ(config.stream_token_ttl_seconds, 120);
  EXPECT_EQ(config.backoff_initial, "2s");
  EXPECT_EQ(config.max_image_size, "0");
  EXPECT_EQ(config.auth_file, "/etc/peapod/auth.json");
  EXPECT_EQ(config.cgroup_parent, "set-before");
  EXPECT_EQ(config.state_root, "/var/lib/peapod");
  ASSERT_EQ(config.registries.size(), 2u);
  const auto& docker = config.registries.at("docker.io");
  EXPECT_EQ(docker.mirrors,
            (std::vector<std::string>{"https://mirror.example", "http://10.0.0.5:5000"}));
  EXPECT_TRUE(docker.upstream_fallback);
  EXPECT_FALSE(docker.insecure);
  const auto& internal = config.registries.at("registry.internal:5000");
  EXPECT_TRUE(internal.mirrors.empty());
  EXPECT_FALSE(internal.upstream_fallback);
  EXPECT_TRUE(internal.insecure);
  EXPECT_TRUE(config.reserved_keys_set.empty());
}

TEST(DaemonConfig, CniPluginDirsMayBeOneColonSeparatedString) {
  DaemonConfig config;
  ASSERT_TRUE(ApplyDaemonConfigText("cni-plugin-dirs: /a:/b\n", kPath, config).has_value());
  EXPECT_EQ(config.cni_plugin_dirs, "/a:/b");
}

TEST(DaemonConfig, AnUnknownKeyIsAnErrorAtItsLineAndColumn) {
  ExpectMessage("listen: /run/p.sock\n\nlissten: /run/q.sock\n",
                "/etc/peapod/config.yaml:3:1: lissten: unknown key");
}

TEST(DaemonConfig, AnUnknownKeyInARegistryIsAnErrorNamingTheKnownOnes) {
  ExpectMessage("registries:\n  docker.io:\n    mirror: [\"https://m.example\"]\n",
                "config.yaml:3:5: registries.docker.io.mirror: unknown key (known: mirrors, "
                "fallback, insecure)");
}

TEST(DaemonConfig, WrongTypesAreErrorsAtTheValue) {
  ExpectMessage("listen: [a, b]\n", "config.yaml:1:9: listen: expected a string, found a sequence");
  ExpectMessage("stream-token-ttl: soon\n",
                "config.yaml:1:19: stream-token-ttl: expected an integer, found \"soon\"");
  ExpectMessage("stream-token-ttl: \"60\"\n", "stream-token-ttl: expected an integer");
  ExpectMessage("runtime-handler: fast\n",
                "config.yaml:1:18: runtime-handler: expected a sequence of strings, found a "
                "scalar");
  ExpectMessage("state-root:\n", "config.yaml:1:12: state-root: expected a string, found null");
  ExpectMessage("registries: [docker.io]\n", "registries: expected a map, found a sequence");
  ExpectMessage("registries:\n  docker.io:\n    mirrors: [\"https://m\"]\n    fallback: yes\n",
                "config.yaml:4:15: registries.docker.io.fallback: expected true or false");
  ExpectMessage("- listen\n", "config: expected a map, found a sequence");
}

TEST(DaemonConfig, BadValuesAreErrors) {
  ExpectMessage("stream-token-ttl: 0\n", "stream-token-ttl: 0 is not within 1..3600");
  ExpectMessage("backoff-max: 0s\n", "backoff-max: \"0s\": expected a positive duration");
  ExpectMessage("relist-period: often\n", "relist-period: \"often\": expected a positive duration");
  ExpectMessage("image-fs-reserve: lots\n", "image-fs-reserve: \"lots\": expected a non-negative");
  ExpectMessage("log-level: loud\n", "log-level: \"loud\" is not one of trace, debug");
  ExpectMessage("container-log-max-files: 1\n", "container-log-max-files: 1 is not within 2..");
  ExpectMessage("image-gc-high-threshold-percent: 70\nimage-gc-low-threshold-percent: 75\n",
                "config.yaml:2:33: image-gc-low-threshold-percent: must not be above the high");
}

TEST(DaemonConfig, MirrorsMustSayTheirSchemeSoPlainHttpIsNeverAGuess) {
  ExpectMessage("registries:\n  docker.io:\n    mirrors: [\"mirror.example:5000\"]\n",
                "config.yaml:3:15: registries.docker.io.mirrors: \"mirror.example:5000\": a "
                "mirror is an http:// or https:// URL");
}

TEST(DaemonConfig, RegistriesAreNamedByHostNotUrl) {
  ExpectMessage("registries:\n  https://docker.io:\n    insecure: true\n",
                "config.yaml:2:3: registries.https://docker.io: a registry is named by its host");
  ExpectMessage("registries:\n  registry-1.docker.io:\n    insecure: true\n",
                "registries.registry-1.docker.io: a registry is named by its host");
}

TEST(DaemonConfig, FallbackWithoutMirrorsIsAnError) {
  ExpectMessage("registries:\n  docker.io:\n    fallback: true\n",
                "registries.docker.io.fallback: falls back from mirrors, but none are given");
}

TEST(DaemonConfig, AKeyGivenTwiceIsAnError) {
  ExpectMessage("listen: /a\nlisten: /b\n", "config.yaml:2:1: config.listen: given twice");
}

TEST(DaemonConfig, SyntaxErrorsAndSeveralDocumentsAreErrorsWithTheirLine) {
  ExpectMessage("listen: /a\nregistries: {docker.io: [\n",
                "/etc/peapod/config.yaml:2:26: did not find expected node content");
  ExpectMessage("listen: /a\n---\nlisten: /b\n",
                "config.yaml:3:1: document: a config file holds "
                "one YAML document");
}

TEST(DaemonConfig, ReservedKeysAreCheckedAndRemembered) {
  DaemonConfig config;
  auto applied = ApplyDaemonConfigText(
      "warm-pool-size: 4\ncontainer-log-max-size: 20Mi\nimage-maximum-gc-age: 24h\n", kPath,
      config);
  ASSERT_TRUE(applied.has_value()) << applied.error().ToString();
  EXPECT_EQ(config.warm_pool_size, 4);
  EXPECT_EQ(config.container_log_max_size, "20Mi");
  EXPECT_EQ(config.image_maximum_gc_age, "24h");
  // Log rotation and image GC act now; only the warm pool is still reserved.
  EXPECT_EQ(config.reserved_keys_set,
            (std::vector<std::string>{"/etc/peapod/config.yaml:1: warm-pool-size"}));
  EXPECT_TRUE(IsReservedDaemonConfigKey("warm-pool-size"));
  EXPECT_FALSE(IsReservedDaemonConfigKey("container-log-max-size"));
  EXPECT_FALSE(IsReservedDaemonConfigKey("image-gc-high-threshold-percent"));
  EXPECT_FALSE(IsReservedDaemonConfigKey("listen"));
}

TEST(DaemonConfig, AFailedFileLeavesTheConfigAsItWas) {
  DaemonConfig config;
  EXPECT_FALSE(ApplyDaemonConfigText("listen: /a\nbogus: 1\n", kPath, config).has_value());
  EXPECT_EQ(config.listen, "/run/peapod/peapod.sock");
}

TEST(DaemonConfig, TheFormattedConfigReadsBackToTheSameConfig) {
  DaemonConfig config;
  config.listen = "/run/with space/peapod.sock";
  config.runtime_handlers = {"fast"};
  config.pid_file = "";
  config.registries["docker.io"] = {.mirrors = {"http://127.0.0.1:5000"},
                                    .upstream_fallback = true};
  config.registries["127.0.0.1:5001"] = {.insecure = true};
  config.log_level = "debug";
  std::string text = FormatDaemonConfig(config);
  DaemonConfig back;
  auto applied = ApplyDaemonConfigText(text, "printed", back);
  ASSERT_TRUE(applied.has_value()) << applied.error().ToString() << "\n" << text;
  EXPECT_EQ(FormatDaemonConfig(back), text);
  EXPECT_EQ(back.listen, config.listen);
  EXPECT_EQ(back.registries.at("docker.io").mirrors, config.registries.at("docker.io").mirrors);
}

TEST(DaemonConfig, TheFormattedConfigHasEveryKey) {
  std::string text = FormatDaemonConfig(DaemonConfig{});
  for (auto key : DaemonConfigKeys()) {
    EXPECT_NE(text.find("\n" + std::string(key) + ":"), std::string::npos) << key;
  }
}

TEST(DaemonConfig, MirrorFlagsReplaceTheFilesEntryForTheirHost) {
  std::map<std::string, image::RegistryHostConfig> registries;
  registries["docker.io"] = {.mirrors = {"https://from-file.example"}, .upstream_fallback = true};
  registries["gcr.io"] = {.mirrors = {"https://gcr-mirror.example"}};
  auto applied = ApplyRegistryMirrorFlags(
      {"docker.io=http://127.0.0.1:5000", "docker.io=http://127.0.0.1:5001"}, registries);
  ASSERT_TRUE(applied.has_value()) << applied.error().ToString();
  EXPECT_EQ(registries.at("docker.io").mirrors,
            (std::vector<std::string>{"http://127.0.0.1:5000", "http://127.0.0.1:5001"}));
  EXPECT_FALSE(registries.at("docker.io").upstream_fallback);
  EXPECT_EQ(registries.at("gcr.io").mirrors,
            std::vector<std::string>{"https://gcr-mirror.example"});
  EXPECT_FALSE(ApplyRegistryMirrorFlags({"docker.io"}, registries).has_value());
}

}  // namespace
}  // namespace peapod::agent
