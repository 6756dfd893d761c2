#include "support/registry.h"

#include <arpa/inet.h>
#include <crypt.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <utility>
#include <vector>

#include "peapod/unique_fd.h"

namespace peapod::testing {
namespace {

constexpr const char* kRegistryBinary = "/usr/bin/docker-registry";
constexpr auto kReadyTimeout = std::chrono::seconds(15);
constexpr int kStartAttempts = 3;

std::string ShellQuote(const std::string& s) {
  std::string quoted = "'";
  for (char c : s) quoted += (c == '\'') ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

// Runs a shell command, returns its combined output; fails with that output on a non-zero exit.
Result<std::string> RunCapture(const std::string& command) {
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return FailErrno("run " + command);
  std::string output;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, pipe)) output.append(buf, n);
  int status = pclose(pipe);
  if (status != 0) {
    return Fail(ErrorCode::kInternal,
                command + " failed (status " + std::to_string(status) + "): " + output);
  }
  return output;
}

std::string FileTail(const std::string& path, size_t max_bytes = 2000) {
  std::ifstream in(path, std::ios::binary);
  std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return content.size() > max_bytes ? content.substr(content.size() - max_bytes) : content;
}

sockaddr_in Loopback(int port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return addr;
}

// A port the kernel just handed out on 127.0.0.1; the registry binds it right after, and Start
// retries with another one in the rare case something else took it in between.
Result<int> FreeLoopbackPort() {
  UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return FailErrno("socket for a free port");
  sockaddr_in addr = Loopback(0);
  if (bind(fd.Get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    return FailErrno("bind 127.0.0.1:0");
  }
  socklen_t len = sizeof addr;
  if (getsockname(fd.Get(), reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    return FailErrno("getsockname");
  }
  return ntohs(addr.sin_port);
}

// True when GET /v2/ answers 200, or 401 with auth configured: the registry is serving.
bool AnswersApiVersionCheck(int port) {
  UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return false;
  timeval timeout{.tv_sec = 1, .tv_usec = 0};
  setsockopt(fd.Get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  sockaddr_in addr = Loopback(port);
  if (connect(fd.Get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return false;
  const std::string request = "GET /v2/ HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
  if (write(fd.Get(), request.data(), request.size()) != static_cast<ssize_t>(request.size())) {
    return false;
  }
  char buf[64] = {};
  ssize_t n = read(fd.Get(), buf, sizeof buf - 1);
  // Go answers an HTTP/1.0 request with "HTTP/1.0 200 OK".
  const std::string status_line(buf, n > 0 ? n : 0);
  if (!status_line.starts_with("HTTP/1.") || status_line.size() < 13) return false;
  const std::string status = status_line.substr(8, 5);
  return status == " 200 " || status == " 401 ";
}

Status WriteConfig(const std::string& dir, int port, const LocalRegistryOptions& options) {
  std::ofstream out(dir + "/config.yml", std::ios::trunc);
  out << "version: 0.1\n"
         "log:\n  level: warn\n  accesslog:\n    disabled: true\n"
         "storage:\n  filesystem:\n    rootdirectory: "
      << dir
      << "/data\n"
         "  delete:\n    enabled: true\n  cache:\n    blobdescriptor: inmemory\n"
         "http:\n  addr: 127.0.0.1:"
      << port << "\n  secret: peapod-test-registry\n"
      << options.extra_config;
  out.close();
  if (!out) return Fail(ErrorCode::kInternal, "write " + dir + "/config.yml");
  return Ok();
}

// fork/exec of `docker-registry serve config.yml`, its output in registry.log.
Result<pid_t> SpawnRegistry(const std::string& dir) {
  const std::string config = dir + "/config.yml";
  const std::string log = dir + "/registry.log";
  UniqueFd log_fd(open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!log_fd) return FailErrno("open " + log);
  UniqueFd null_fd(open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (!null_fd) return FailErrno("open /dev/null");
  // Everything the child touches is prepared here: it may only make raw syscalls after fork.
  std::vector<char*> argv = {const_cast<char*>(kRegistryBinary), const_cast<char*>("serve"),
                             const_cast<char*>(config.c_str()), nullptr};
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) return FailErrno("fork for docker-registry");
  if (pid == 0) {
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(1);  // the test process died before prctl took effect
    dup2(null_fd.Get(), STDIN_FILENO);
    dup2(log_fd.Get(), STDOUT_FILENO);
    dup2(log_fd.Get(), STDERR_FILENO);
    execv(kRegistryBinary, argv.data());
    _exit(127);
  }
  std::ofstream(dir + "/registry.pid", std::ios::trunc) << pid << "\n";
  return pid;
}

// Kills our child registry and reaps it. It stays our unreaped child until waitpid, so the pid
// cannot have been recycled when it is signalled.
void StopRegistry(pid_t pid) {
  if (pid <= 0) return;  // kill(-1) would signal every process we may signal
  kill(pid, SIGTERM);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  while (std::chrono::steady_clock::now() < deadline) {
    pid_t reaped = waitpid(pid, nullptr, WNOHANG);
    if (reaped == pid || (reaped < 0 && errno == ECHILD)) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
}

enum class ReadyOutcome { kServing, kPortTaken };

// Waits until the registry answers; kPortTaken when it exited because the port was in use.
Result<ReadyOutcome> WaitUntilServing(pid_t pid, int port, const std::string& dir) {
  const auto deadline = std::chrono::steady_clock::now() + kReadyTimeout;
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) {
      std::string log = FileTail(dir + "/registry.log");
      if (log.find("address already in use") != std::string::npos) return ReadyOutcome::kPortTaken;
      return Fail(ErrorCode::kUnavailable,
                  "docker-registry exited (status " + std::to_string(status) + "): " + log);
    }
    if (AnswersApiVersionCheck(port)) return ReadyOutcome::kServing;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  StopRegistry(pid);
  return Fail(ErrorCode::kDeadlineExceeded,
              "docker-registry did not answer GET /v2/ on 127.0.0.1:" + std::to_string(port) +
                  ": " + FileTail(dir + "/registry.log"));
}

// The registry's port and pid once it serves.
Result<std::pair<int, pid_t>> StartIn(const std::string& dir, const LocalRegistryOptions& options) {
  for (int attempt = 0; attempt < kStartAttempts; ++attempt) {
    auto port = FreeLoopbackPort();
    if (!port) return std::unexpected(port.error());
    if (auto written = WriteConfig(dir, *port, options); !written)
      return std::unexpected(written.error());
    auto pid = SpawnRegistry(dir);
    if (!pid) return std::unexpected(pid.error());
    auto ready = WaitUntilServing(*pid, *port, dir);
    if (!ready) return std::unexpected(ready.error());
    if (*ready == ReadyOutcome::kServing) return std::make_pair(*port, *pid);
  }
  return Fail(ErrorCode::kUnavailable, "no free loopback port for docker-registry after " +
                                           std::to_string(kStartAttempts) + " attempts");
}

}  // namespace

Result<std::unique_ptr<LocalRegistry>> LocalRegistry::Start(const LocalRegistryOptions& options) {
  if (access(kRegistryBinary, X_OK) != 0) {
    return FailErrno(std::string(kRegistryBinary) + " (apt-get install docker-registry)");
  }
  char pattern[] = "/tmp/peapod-registry-XXXXXX";
  if (mkdtemp(pattern) == nullptr) return FailErrno("mkdtemp /tmp/peapod-registry-XXXXXX");
  std::string dir = pattern;
  auto started = StartIn(dir, options);
  if (!started) {
    std::error_code ignored;
    std::filesystem::remove_all(dir, ignored);
    return std::unexpected(std::move(started.error()).Context("start local registry"));
  }
  auto [port, pid] = *started;
  return std::unique_ptr<LocalRegistry>(new LocalRegistry(std::move(dir), port, pid));
}

LocalRegistry::~LocalRegistry() {
  StopRegistry(pid_);
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

std::string LocalRegistry::HostPort() const { return "127.0.0.1:" + std::to_string(port_); }

Status LocalRegistry::Push(const std::string& layout_dir, const std::string& repo_tag) {
  auto pushed = RunCapture(std::string(PEAPOD_SOURCE_DIR) + "/scripts/images/push.sh " +
                           ShellQuote(layout_dir) + " " + HostPort() + " " + ShellQuote(repo_tag));
  if (!pushed) {
    return std::unexpected(
        std::move(pushed.error()).Context("push " + layout_dir + " as " + repo_tag));
  }
  return Ok();
}

Status LocalRegistry::Restart(const LocalRegistryOptions& options) {
  StopRegistry(pid_);
  pid_ = -1;
  if (auto written = WriteConfig(dir_, port_, options); !written) return written;
  auto pid = SpawnRegistry(dir_);
  if (!pid) return std::unexpected(std::move(pid.error()).Context("restart local registry"));
  auto ready = WaitUntilServing(*pid, port_, dir_);
  if (!ready) return std::unexpected(std::move(ready.error()).Context("restart local registry"));
  if (*ready == ReadyOutcome::kPortTaken) {
    return Fail(ErrorCode::kUnavailable,
                "restart local registry: port " + std::to_string(port_) + " was taken meanwhile");
  }
  pid_ = *pid;
  return Ok();
}

Result<std::string> HtpasswdLine(const std::string& user, const std::string& password) {
  char salt[CRYPT_GENSALT_OUTPUT_SIZE];
  // Cost 5, the lowest bcrypt allows: the registry checks the hash on every request.
  if (crypt_gensalt_rn("$2b$", 5, nullptr, 0, salt, sizeof salt) == nullptr) {
    return FailErrno("crypt_gensalt_rn for a bcrypt salt");
  }
  crypt_data data{};
  const char* hash = crypt_r(password.c_str(), salt, &data);
  if (hash == nullptr || hash[0] == '*') return FailErrno("crypt_r bcrypt hash for " + user);
  return user + ":" + hash;
}

const std::string& TestImagesDir() {
  static std::once_flag once;
  static std::string dir;
  std::call_once(once, [] {
    std::string out = std::string(PEAPOD_BINARY_DIR) + "/test-images";
    auto built =
        RunCapture(std::string(PEAPOD_SOURCE_DIR) + "/scripts/images/build.sh " + ShellQuote(out));
    if (!built) throw std::runtime_error("building test images: " + built.error().ToString());
    dir = out;
  });
  return dir;
}

}  // namespace peapod::testing
