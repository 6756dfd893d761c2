// Log rotation of the pods the controller supervises, as kubelet does it: a container writing
// numbered lines fast has its log rotated many times through ReopenContainerLog, and reading the
// files in order (rotated ones oldest first, compressed or not, then the live one) gives every
// number exactly once, in order; with containerLogMaxFiles the oldest files go.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "controller_fixture.h"
#include "peapod/agent/container_log_files.h"
#include "peapod/parse.h"

namespace peapod::testing {
namespace {

using namespace std::chrono_literals;

constexpr int kLines = 16000;

// 40 bursts of 400 numbered lines, 50 ms apart, then "done".
const char* kWriterPod = R"(apiVersion: v1
kind: Pod
metadata:
  name: writer
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: app
    image: busybox
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "i=0; b=0; while [ $b -lt 40 ]; do j=0; while [ $j -lt 400 ]; do echo \"n $i\"; i=$((i+1)); j=$((j+1)); done; b=$((b+1)); usleep 50000; done; echo done; sleep 3600"]
)";

// The content of every CRI line of the log's files, oldest file first.
std::vector<std::string> AllLines(const std::string& log_path) {
  std::vector<std::string> files = agent::RotatedLogFiles(log_path);
  files.push_back(log_path);
  std::vector<std::string> out;
  for (const auto& file : files) {
    auto text = agent::ReadLogFile(file);
    if (!text) continue;
    size_t start = 0;
    while (start < text->size()) {
      size_t end = text->find('\n', start);
      if (end == std::string::npos) break;
      std::string_view line(text->data() + start, end - start);
      // "<time> <stream> <tag> <content>"
      size_t time_end = line.find(' ');
      size_t stream_end = time_end == line.npos ? line.npos : line.find(' ', time_end + 1);
      size_t tag_end = stream_end == line.npos ? line.npos : line.find(' ', stream_end + 1);
      if (tag_end != line.npos) out.emplace_back(line.substr(tag_end + 1));
      start = end + 1;
    }
  }
  return out;
}

// The numbers of the "n <i>" lines, in file order; -1 for a line of another shape.
std::vector<int64_t> Numbers(const std::vector<std::string>& lines) {
  std::vector<int64_t> out;
  for (const auto& line : lines) {
    if (line == "done") continue;
    auto n = line.starts_with("n ") ? ParseSigned(line.substr(2)) : std::nullopt;
    out.push_back(n.value_or(-1));
  }
  return out;
}

class ControllerLogRotation : public ControllerFixture {
 protected:
  agent::controller::ControllerConfig ControllerConfig() const override {
    auto c = ControllerFixture::ControllerConfig();
    c.container_log_max_size = 16 * 1024;
    c.container_log_max_files = MaxFiles();
    c.log_rotation_period = 50ms;
    return c;
  }
  virtual int64_t MaxFiles() const { return 1000; }

  // Waits for the writer's "done" and returns the log path.
  std::string WaitForWriter() {
    Apply(kWriterPod);
    WaitRunning("writer");
    auto path = controller_->LogPath("default", "writer", "app");
    EXPECT_TRUE(path.has_value());
    if (!path) return "";
    WaitPod(
        "writer",
        [&](const agent::controller::PodView&) {
          auto lines = AllLines(*path);
          return !lines.empty() && lines.back() == "done";
        },
        "the writer's last line");
    return *path;
  }
};

TEST_F(ControllerLogRotation, EveryLineIsKeptOnceAndInOrderAcrossRotations) {
  std::string path = WaitForWriter();
  ASSERT_FALSE(path.empty());
  std::vector<int64_t> numbers = Numbers(AllLines(path));
  ASSERT_EQ(numbers.size(), static_cast<size_t>(kLines));
  for (int64_t i = 0; i < kLines; ++i) {
    ASSERT_EQ(numbers[static_cast<size_t>(i)], i) << "at line " << i;
  }
  std::vector<std::string> rotated = agent::RotatedLogFiles(path);
  EXPECT_GE(rotated.size(), 3u);
  // Every rotated file but the newest is compressed.
  for (size_t i = 0; i + 1 < rotated.size(); ++i) EXPECT_TRUE(rotated[i].ends_with(".gz"));
  EXPECT_FALSE(rotated.back().ends_with(".gz"));
}

class ControllerLogRotationMaxFiles : public ControllerLogRotation {
 protected:
  int64_t MaxFiles() const override { return 3; }
};

TEST_F(ControllerLogRotationMaxFiles, OnlyTheNewestFilesAreKept) {
  std::string path = WaitForWriter();
  ASSERT_FALSE(path.empty());
  std::vector<std::string> rotated = agent::RotatedLogFiles(path);
  EXPECT_LE(rotated.size(), 2u);
  // What is kept is the end of the sequence, without gaps or repeats.
  std::vector<int64_t> numbers = Numbers(AllLines(path));
  ASSERT_FALSE(numbers.empty());
  EXPECT_GT(numbers.front(), 0);
  for (size_t i = 0; i < numbers.size(); ++i) {
    ASSERT_EQ(numbers[i], numbers.front() + static_cast<int64_t>(i)) << "at line " << i;
  }
  EXPECT_EQ(numbers.back(), kLines - 1);
}

TEST_F(ControllerLogRotation, NoRotationBelowTheLimit) {
  Apply(R"(apiVersion: v1
kind: Pod
metadata:
  name: quiet
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: app
    image: busybox
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "echo hello; sleep 3600"]
)");
  WaitRunning("quiet", "app");
  auto path = controller_->LogPath("default", "quiet", "app");
  ASSERT_TRUE(path.has_value());
  EXPECT_EQ(controller_->RotateContainerLogs(), 0);
  EXPECT_TRUE(agent::RotatedLogFiles(*path).empty());
}

}  // namespace
}  // namespace peapod::testing
