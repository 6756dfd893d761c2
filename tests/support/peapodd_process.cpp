#include "support/peapodd_process.h"

#include <fcntl.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "peapod/runtime/cgroup.h"
#include "support/sanitizer_report.h"

extern char** environ;

namespace peapod::testing {
namespace {

namespace v1 = ::runtime::v1;
constexpr auto kStartTimeout = std::chrono::seconds(20);
constexpr auto kStopTimeout = std::chrono::seconds(10);

bool Connectable(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  ::close(fd);
  return ok;
}

std::string Join(const std::vector<std::string>& parts, char sep) {
  std::string out;
  for (const auto& p : parts) {
    if (!out.empty()) out += sep;
    out += p;
  }
  return out;
}

// Children of `parent` according to /proc/<pid>/stat (field 4).
std::vector<pid_t> ChildrenOf(pid_t parent) {
  std::vector<pid_t> out;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    std::string name = entry.path().filename();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream stat(entry.path() / "stat");
    std::string line;
    if (!std::getline(stat, line)) continue;
    auto close_paren = line.rfind(')');
    if (close_paren == std::string::npos) continue;
    std::istringstream rest(line.substr(close_paren + 2));
    char state = 0;
    pid_t ppid = 0;
    rest >> state >> ppid;
    if (ppid == parent) out.push_back(static_cast<pid_t>(std::stoi(name)));
  }
  return out;
}

}  // namespace

std::string PeapoddProcess::BinaryPath() { return PEAPOD_BINARY_DIR "/cri/peapodd"; }

Result<std::unique_ptr<PeapoddProcess>> PeapoddProcess::Start(const PeapoddOptions& options) {
  if (::access(BinaryPath().c_str(), X_OK) != 0) {
    return Fail(ErrorCode::kNotFound,
                BinaryPath() + " is missing: build the peapodd target before the CRI tests");
  }
  std::unique_ptr<PeapoddProcess> d(new PeapoddProcess());
  d->socket_path_ = d->socket_dir() + "/peapod.sock";
  std::filesystem::create_directories(d->log_dir());

  // No config file (not the host's /etc/peapod/config.yaml) unless extra_args name one.
  std::vector<std::string> args = {BinaryPath(),
                                   "--config",
                                   "",
                                   "--listen",
                                   d->socket_path_,
                                   "--state-root",
                                   d->state_root(),
                                   "--run-root",
                                   d->run_root(),
                                   "--cni-conf-dir",
                                   options.cni_conf_dir,
                                   "--cni-plugin-dirs",
                                   Join(options.cni_plugin_dirs, ':'),
                                   "--pause-binary",
                                   PEAPOD_PAUSE_BINARY,
                                   "--cgroup-parent",
                                   d->cgroup_parent(),
                                   "--log-level",
                                   "debug"};
  args.insert(args.end(), options.extra_args.begin(), options.extra_args.end());
  d->args_ = std::move(args);
  d->env_ = options.extra_env;
  if (auto s = d->Launch(); !s) return std::unexpected(s.error());
  return d;
}

Status PeapoddProcess::Launch(const std::vector<std::string>& extra_env) {
  std::vector<char*> argv;
  for (auto& a : args_) argv.push_back(a.data());
  argv.push_back(nullptr);
  // Built before the fork: the child may only exec.
  std::vector<std::string> env_strings(env_);
  env_strings.insert(env_strings.end(), extra_env.begin(), extra_env.end());
  for (char** e = environ; *e != nullptr; ++e) env_strings.emplace_back(*e);
  std::vector<char*> envp;
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);

  std::string log_path = root_ / "peapodd.log";
  int log_fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) return FailErrno("open " + log_path);
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) {
    ::close(log_fd);
    return FailErrno("fork peapodd");
  }
  if (pid == 0) {
    // Only async-signal-safe calls until exec.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    ::dup2(log_fd, STDOUT_FILENO);
    ::dup2(log_fd, STDERR_FILENO);
    ::execve(argv[0], argv.data(), envp.data());
    ::_exit(127);
  }
  ::close(log_fd);
  pid_ = pid;

  auto deadline = std::chrono::steady_clock::now() + kStartTimeout;
  while (!Connectable(socket_path_)) {
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      pid_ = -1;
      CheckLogForSanitizerReports(pid);
      return Fail(ErrorCode::kInternal, "peapodd exited during start-up (status " +
                                            std::to_string(status) + "):\n" + Log());
    }
    if (std::chrono::steady_clock::now() > deadline) {
      return Fail(ErrorCode::kDeadlineExceeded,
                  "peapodd did not listen on " + socket_path_ + " in time:\n" + Log());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  auto channel = grpc::CreateChannel("unix://" + socket_path_, grpc::InsecureChannelCredentials());
  runtime_ = v1::RuntimeService::NewStub(channel);
  images_ = v1::ImageService::NewStub(channel);
  return Ok();
}

Status PeapoddProcess::Restart(const std::vector<std::string>& extra_env) {
  if (pid_ > 0) return Fail(ErrorCode::kFailedPrecondition, "peapodd is still running");
  return Launch(extra_env);
}

std::vector<std::string> PeapoddProcess::Leftovers() const {
  std::vector<std::string> found;
  std::string root = std::filesystem::weakly_canonical(root_.path()).string();
  {
    std::ifstream in("/proc/self/mountinfo");
    std::string line;
    while (std::getline(in, line)) {
      std::istringstream fields(line);
      std::string id, parent, dev, mount_root, point;
      if (!(fields >> id >> parent >> dev >> mount_root >> point)) continue;
      if (point.starts_with(root + "/")) found.push_back("mount " + point);
    }
  }
  std::string pods = std::filesystem::weakly_canonical(run_root() + "/pods").string() + "/";
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    std::string name = entry.path().filename();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::error_code link_ec;
    auto ledger = std::filesystem::read_symlink(entry.path() / "fd" / "3", link_ec).string();
    if (!link_ec && ledger.starts_with(pods)) found.push_back("pause pid " + name + " " + ledger);
  }
  if (auto driver = runtime::CgroupDriver::Detect(); driver) {
    for (const auto& h : driver->hierarchies()) {
      std::string dir = h.mount_point + "/" + cgroup_parent();
      for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
        if (entry.is_directory()) found.push_back("cgroup " + entry.path().string());
      }
    }
  }
  for (const std::string& dir : {state_root() + "/cni/cache", state_root() + "/image/containers",
                                run_root() + "/sandboxes", run_root() + "/containers",
                                run_root() + "/pods"}) {
    for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
      found.push_back("file " + entry.path().string());
    }
  }
  return found;
}

int PeapoddProcess::Terminate(int signo) {
  if (pid_ <= 0) return -1;
  runtime_.reset();
  images_.reset();
  ::kill(pid_, signo);
  auto deadline = std::chrono::steady_clock::now() + kStopTimeout;
  int status = 0;
  while (::waitpid(pid_, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  CheckLogForSanitizerReports(pid_);
  pid_ = -1;
  return status;
}

void PeapoddProcess::CheckLogForSanitizerReports(pid_t pid) {
  std::ifstream in(root_ / "peapodd.log", std::ios::binary);
  in.seekg(static_cast<std::streamoff>(log_checked_));
  std::string unseen((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  log_checked_ += unseen.size();
  ExpectNoSanitizerReport("peapodd (pid " + std::to_string(pid) + ")", unseen);
}

PeapoddProcess::~PeapoddProcess() {
  Stop();
  // What a broken recovery left is still this test's to clean: pause processes of our run root
  // (killed by the pid their ledger names them by) and mounts under our roots.
  std::string pods = std::filesystem::weakly_canonical(run_root() + "/pods").string() + "/";
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    std::string name = entry.path().filename();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::error_code link_ec;
    auto ledger = std::filesystem::read_symlink(entry.path() / "fd" / "3", link_ec).string();
    if (!link_ec && ledger.starts_with(pods)) ::kill(std::stoi(name), SIGKILL);
  }
  for (const auto& line : Leftovers()) {
    if (line.starts_with("mount ")) ::umount2(line.substr(6).c_str(), MNT_DETACH);
  }
  // Every pod is gone with the daemon; its cgroup parent goes too, so no test leaves one.
  if (auto driver = runtime::CgroupDriver::Detect(); driver) {
    auto shared = std::make_shared<const runtime::CgroupDriver>(std::move(*driver));
    (void)runtime::Cgroup(shared, "/" + cgroup_parent()).Remove();
  }
}

std::string PeapoddProcess::Log() const {
  std::ifstream in(root_ / "peapodd.log", std::ios::binary);
  std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  constexpr size_t kMax = 8000;
  return content.size() > kMax ? content.substr(content.size() - kMax) : content;
}

void PeapoddProcess::Stop() {
  if (pid_ <= 0) return;
  if (runtime_) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    v1::ListPodSandboxRequest req;
    v1::ListPodSandboxResponse resp;
    if (runtime_->ListPodSandbox(&ctx, req, &resp).ok()) {
      for (const auto& pod : resp.items()) {
        grpc::ClientContext rm_ctx;
        rm_ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
        v1::RemovePodSandboxRequest rm;
        rm.set_pod_sandbox_id(pod.id());
        v1::RemovePodSandboxResponse rm_resp;
        runtime_->RemovePodSandbox(&rm_ctx, rm, &rm_resp);
      }
    }
  }
  runtime_.reset();
  images_.reset();

  // Whatever is still its child after the pods were removed is a leak; kill it after the daemon.
  std::vector<pid_t> leftovers = ChildrenOf(pid_);
  Terminate(SIGTERM);
  for (pid_t child : leftovers) ::kill(child, SIGKILL);
}

}  // namespace peapod::testing
