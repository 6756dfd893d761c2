// Malformed manifests through `peapod apply`: each kind of mistake gets its error naming the
// file, the line and the field, the CLI exits 1, and nothing is created.
#include "e2e/cli_fixture.h"

namespace peapod::testing {
namespace {

struct BadManifest {
  const char* what;
  const char* yaml;
  const char* expected;  // "<file>:<line>: <field path>" or a part of it
};

// Line numbers are of the YAML below (line 1 is "apiVersion: v1").
const BadManifest kBadManifests[] = {
    {"port out of range", R"(apiVersion: v1
kind: Pod
metadata:
  name: bad
spec:
  containers:
    - name: c
      image: busybox:latest
      ports:
        - containerPort: 70000
)",
     "bad.yaml:10: spec.containers[0].ports[0].containerPort"},
    {"name that is not DNS-1123", R"(apiVersion: v1
kind: Pod
metadata:
  name: Bad_Name
spec:
  containers:
    - name: c
      image: busybox:latest
)",
     "bad.yaml:4: metadata.name"},
    {"container without an image", R"(apiVersion: v1
kind: Pod
metadata:
  name: bad
spec:
  containers:
    - name: c
)",
     "bad.yaml:7: spec.containers[0].image"},
    {"duplicate container names", R"(apiVersion: v1
kind: Pod
metadata:
  name: bad
spec:
  containers:
    - name: c
      image: busybox:latest
    - name: c
      image: busybox:latest
)",
     "bad.yaml:9: spec.containers[1].name"},
    {"mount of a volume that does not exist", R"(apiVersion: v1
kind: Pod
metadata:
  name: bad
spec:
  containers:
    - name: c
      image: busybox:latest
      volumeMounts:
        - name: missing
          mountPath: /data
)",
     "bad.yaml:10: spec.containers[0].volumeMounts[0].name"},
    {"bad restartPolicy", R"(apiVersion: v1
kind: Pod
metadata:
  name: bad
spec:
  restartPolicy: Sometimes
  containers:
    - name: c
      image: busybox:latest
)",
     "bad.yaml:6: spec.restartPolicy"},
    {"YAML syntax error", R"(apiVersion: v1
kind: Pod
metadata:
  name: bad
spec:
  containers: [
)",
     "bad.yaml:"},
};

class ManifestErrors : public CliTest {};

TEST_F(ManifestErrors, EachMistakeIsReportedWithItsLineAndNothingIsCreated) {
  TempDir dir("peapod-bad-manifest");
  for (const auto& bad : kBadManifests) {
    SCOPED_TRACE(bad.what);
    WriteFile(dir / "bad.yaml", bad.yaml);
    auto r = Cli({"apply", "-f", dir / "bad.yaml"});
    EXPECT_EQ(r.exit_code, 1) << r.Describe();
    EXPECT_NE(r.err.find(bad.expected), std::string::npos) << r.Describe();
    EXPECT_EQ(r.out, "");
  }
  auto pods = GetJson({"get", "pods", "-A", "-o", "json"});
  ASSERT_TRUE(pods.is_object());
  EXPECT_TRUE(pods["items"].empty()) << pods.dump();
}

TEST_F(ManifestErrors, OneBadDocumentKeepsTheGoodOnesFromBeingCreated) {
  auto r = Apply(R"(apiVersion: v1
kind: Pod
metadata:
  name: good
spec:
  terminationGracePeriodSeconds: 1
  containers:
    - name: c
      image: busybox:latest
      imagePullPolicy: IfNotPresent
      command: [sleep, "3600"]
---
apiVersion: v1
kind: Pod
metadata:
  name: bad
spec:
  containers:
    - name: c
      image: busybox:latest
      ports:
        - containerPort: 0
)");
  EXPECT_EQ(r.exit_code, 1) << r.Describe();
  EXPECT_NE(r.err.find("-:22: spec.containers[0].ports[0].containerPort"), std::string::npos)
      << r.Describe();
  auto good = Cli({"get", "pod", "good"});
  EXPECT_EQ(good.exit_code, 1);
  EXPECT_NE(good.err.find("pods \"good\" not found"), std::string::npos) << good.Describe();
}

TEST_F(ManifestErrors, UnsupportedFieldIsAWarningOrWithStrictAnError) {
  const char* yaml = R"(apiVersion: v1
kind: Pod
metadata:
  name: warned
spec:
  terminationGracePeriodSeconds: 1
  priorityClassName: high
  containers:
    - name: c
      image: busybox:latest
      imagePullPolicy: IfNotPresent
      command: [sleep, "3600"]
)";
  auto strict = Apply(yaml, {"--strict"});
  EXPECT_EQ(strict.exit_code, 1) << strict.Describe();
  EXPECT_NE(strict.err.find("priorityClassName"), std::string::npos) << strict.Describe();
  EXPECT_EQ(Cli({"get", "pod", "warned"}).exit_code, 1);

  auto lenient = Apply(yaml);
  EXPECT_EQ(lenient.exit_code, 0) << lenient.Describe();
  EXPECT_NE(lenient.err.find("Warning: "), std::string::npos) << lenient.Describe();
  EXPECT_NE(lenient.err.find("spec.priorityClassName"), std::string::npos) << lenient.err;
  EXPECT_EQ(lenient.out, "pod/warned created\n");
}

}  // namespace
}  // namespace peapod::testing
