// Nothing in a container reaches a host executable or an agent fd (runc's CVE-2019-5736 and
// CVE-2024-21626 classes), tried as an attacker would: a pod whose containers share one PID
// namespace runs tests/tools/exe_watcher.cpp with CAP_SYS_PTRACE, while the agent executes a
// "#!/proc/self/exe" script as a container's command, by `peapod exec`, by an exec probe and by a
// postStart hook. The kernel resolves that interpreter in the process the agent forked, so each
// of those runs the agent's own executable inside the container; ld.so then blocks on a FIFO the
// container's LD_LIBRARY_PATH points at, and the watcher looks at the process at leisure.
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <filesystem>
#include <map>
#include <set>
#include <sstream>

#include "cli_fixture.h"

namespace peapod::testing {
namespace {

constexpr char kPod[] = "escape";

struct Observation {
  std::map<std::string, std::string> fields;
  std::string line;
};

// "exe pid=1 tag=- dev=0:40 ino=9 write=30 link=/peapod-pause" -> kind "exe" and its fields.
std::multimap<std::string, Observation> ParseReport(const std::string& report) {
  std::multimap<std::string, Observation> out;
  std::istringstream lines(report);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream words(line);
    std::string kind, word;
    words >> kind;
    Observation o{{}, line};
    while (words >> word) {
      auto eq = word.find('=');
      if (eq == std::string::npos) continue;
      std::string key = word.substr(0, eq);
      // The link comes last and may hold spaces.
      if (key == "link") {
        std::string rest;
        std::getline(words, rest);
        o.fields[key] = word.substr(eq + 1) + rest;
        break;
      }
      o.fields[key] = word.substr(eq + 1);
    }
    out.emplace(kind, std::move(o));
  }
  return out;
}

std::string DeviceAndInode(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return "missing " + path;
  return std::to_string(major(st.st_dev)) + ":" + std::to_string(minor(st.st_dev)) + "/" +
         std::to_string(st.st_ino);
}

// The shared libraries peapodd needs, as ld.so will look for them in LD_LIBRARY_PATH.
std::vector<std::string> NeededLibraries(const std::string& binary) {
  std::istringstream lines(CaptureShellOutput("ldd " + binary));
  std::vector<std::string> names;
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream words(line);
    std::string name, arrow;
    if (words >> name >> arrow && arrow == "=>") names.push_back(name);
  }
  return names;
}

std::string Manifest(const TempDir& dir) {
  std::string ldso = std::filesystem::canonical("/lib64/ld-linux-x86-64.so.2");
  std::string victim_mounts =
      "    env: [{name: LD_LIBRARY_PATH, value: /trap}]\n"
      "    volumeMounts:\n"
      "    - {name: evil, mountPath: /evil, readOnly: true}\n"
      "    - {name: trap, mountPath: /trap}\n"
      "    - {name: ldso, mountPath: /lib64/ld-linux-x86-64.so.2, readOnly: true}\n";
  return std::string("apiVersion: v1\nkind: Pod\nmetadata:\n  name: ") + kPod +
         "\nspec:\n"
         "  shareProcessNamespace: true\n"
         "  terminationGracePeriodSeconds: 1\n"
         "  volumes:\n"
         "  - {name: tools, hostPath: {path: " +
         dir / "tools" +
         ", type: Directory}}\n"
         "  - {name: out, hostPath: {path: " +
         dir / "out" +
         ", type: Directory}}\n"
         "  - {name: evil, hostPath: {path: " +
         dir / "evil" +
         ", type: Directory}}\n"
         "  - {name: trap, hostPath: {path: " +
         dir / "trap" +
         ", type: Directory}}\n"
         "  - {name: ldso, hostPath: {path: " +
         ldso +
         ", type: File}}\n"
         "  containers:\n"
         "  - name: watcher\n"
         "    image: busybox:latest\n    imagePullPolicy: IfNotPresent\n"
         "    command: [/tools/peapod-exe-watcher, /out/report, /trap, /evil/run, '300']\n"
         "    securityContext: {capabilities: {add: [SYS_PTRACE]}}\n"
         "    volumeMounts:\n"
         "    - {name: tools, mountPath: /tools, readOnly: true}\n"
         "    - {name: out, mountPath: /out}\n"
         "    - {name: trap, mountPath: /trap}\n"
         "  - name: start\n"
         "    image: busybox:latest\n    imagePullPolicy: IfNotPresent\n"
         "    command: [/evil/run, start]\n" +
         victim_mounts +
         "  - name: hook\n"
         "    image: busybox:latest\n    imagePullPolicy: IfNotPresent\n"
         "    command: [sleep, '3600']\n"
         "    lifecycle: {postStart: {exec: {command: [/evil/run, hook]}}}\n" +
         victim_mounts +
         "  - name: probe\n"
         "    image: busybox:latest\n    imagePullPolicy: IfNotPresent\n"
         "    command: [sleep, '3600']\n"
         "    readinessProbe: {exec: {command: [/evil/run, probe]}, periodSeconds: 1,"
         " timeoutSeconds: 20}\n" +
         victim_mounts;
}

using HostExecutableTest = CliTest;

TEST_F(HostExecutableTest, NoProcessInAPodReachesAHostExecutableOrAnAgentFd) {
  TempDir dir("peapod-escape");
  for (const char* sub : {"tools", "out", "evil", "trap"}) {
    ASSERT_TRUE(std::filesystem::create_directory(dir / sub));
  }
  std::filesystem::copy_file(PEAPOD_EXE_WATCHER, dir / "tools/peapod-exe-watcher");
  WriteFile(dir / "evil/run", "#!/proc/self/exe\n");
  ::chmod((dir / "evil/run").c_str(), 0755);
  const std::string peapodd = PEAPOD_BINARY_DIR "/cri/peapodd";
  auto libraries = NeededLibraries(peapodd);
  ASSERT_FALSE(libraries.empty()) << "ldd " << peapodd << " named no library";
  for (const auto& name : libraries) ASSERT_EQ(::mkfifo((dir / "trap/" + name).c_str(), 0666), 0);

  auto applied = Apply(Manifest(dir));
  ASSERT_EQ(applied.exit_code, 0) << applied.Describe();
  ASSERT_TRUE(WaitRunning(kPod, "probe")) << Pod(kPod).dump(2);
  // Through the streaming server, as kubectl exec: held in ld.so until the watcher lets go.
  auto exec = Cli({"exec", kPod, "-c", "probe", "--", "/evil/run", "exec"});
  EXPECT_NE(exec.exit_code, 0) << "the planted interpreter cannot run: " << exec.Describe();

  const std::set<std::string> paths = {"start", "exec", "probe", "hook"};
  auto observed_tags = [&] {
    std::set<std::string> tags;
    for (const auto& [kind, o] : ParseReport(ReadFile(dir / "out/report"))) {
      if (kind == "exe" && paths.count(o.fields.at("tag"))) tags.insert(o.fields.at("tag"));
    }
    return tags;
  };
  bool all = WaitUntil([&] { return observed_tags() == paths; });
  WriteFile(dir / "out/report.stop", "");
  std::string report = ReadFile(dir / "out/report");
  ASSERT_TRUE(all) << "the watcher did not see every path run the planted script:\n" << report;

  // Now judge what the watcher saw.
  const std::string host_peapodd = DeviceAndInode(peapodd);
  const std::string host_pause = DeviceAndInode(PEAPOD_PAUSE_BINARY);
  const std::string host_root = DeviceAndInode("/");
  // What of the node a process of the pod may hold: its volumes, and the pod's own files (hosts,
  // hostname, resolv.conf, termination logs; pause's exit ledger), in the moments between
  // opening a bind source and mounting it (or, for pause's ledger, with CAP_SYS_PTRACE: what it
  // could do with it stays in its pod).
  std::set<std::string> volumes;
  for (const char* sub : {"tools", "out", "evil", "trap"})
    volumes.insert(DeviceAndInode(dir / sub));
  volumes.insert(DeviceAndInode("/lib64/ld-linux-x86-64.so.2"));
  for (const std::string& root :
       {daemon_->run_root() + "/pods", daemon_->state_root() + "/controller/pod-data"}) {
    std::error_code ec;
    for (const auto& e : std::filesystem::recursive_directory_iterator(root, ec)) {
      if (e.is_regular_file(ec)) volumes.insert(DeviceAndInode(e.path()));
    }
  }
  auto observations = ParseReport(report);
  int pause_checks = 0;
  for (const auto& [kind, o] : observations) {
    if (kind == "pause-without-ptrace") {
      ++pause_checks;
      EXPECT_NE(o.fields.at("err"), "0") << "a container without CAP_SYS_PTRACE opened /proc/1/exe";
    }
    if (kind == "leak") {
      // The one thing of the host a container process may hold is a volume of its own, in the
      // moments between opening its source and mounting it.
      std::string held = o.fields.at("dev") + "/" + o.fields.at("ino");
      if (!volumes.count(held)) {
        ADD_FAILURE() << "a process in the pod holds a host file or directory: " << o.line;
      }
    }
    if (kind == "root") {
      EXPECT_NE(o.fields.at("dev") + "/" + o.fields.at("ino"), host_root)
          << "a process of the pod has the host's / as its root: " << o.line;
    }
    if (kind != "exe") continue;
    std::string exe = o.fields.at("dev") + "/" + o.fields.at("ino");
    EXPECT_NE(exe, host_peapodd) << "a process in the pod runs the host's peapodd: " << o.line;
    EXPECT_NE(exe, host_pause) << "a process in the pod runs the host's peapod-pause: " << o.line;
    bool agents = o.fields.at("tag") != "-" || o.fields.at("pid") == "1";
    if (agents) {
      EXPECT_NE(o.fields.at("write"), "0")
          << "the agent's or pause's executable opened for writing from the pod: " << o.line;
    }
  }
  EXPECT_EQ(pause_checks, 1) << report;
}

}  // namespace
}  // namespace peapod::testing
