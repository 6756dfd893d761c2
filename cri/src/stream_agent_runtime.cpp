// StreamingRuntime over the Agent (see agent_runtime.h).
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <functional>
#include <thread>

#include "peapod/agent/agent.h"
#include "peapod/catch_boundary.h"
#include "peapod/cri/streaming/agent_runtime.h"

namespace peapod::cri::streaming {
namespace {

class ExecTarget final : public StreamTarget {
 public:
  ExecTarget(std::unique_ptr<runtime::ExecProcess> process, bool tty)
      : process_(std::move(process)), tty_(tty) {}

  int input_fd() const override { return tty_ ? process_->pty_master_fd() : process_->stdin_fd(); }
  int output_fd() const override {
    return tty_ ? process_->pty_master_fd() : process_->stdout_fd();
  }
  int error_fd() const override { return tty_ ? -1 : process_->stderr_fd(); }
  // A terminal has no end of input short of hanging up, which would end the session too.
  void CloseInput() override {
    if (!tty_) process_->CloseStdin();
  }
  Status Resize(uint16_t width, uint16_t height) override {
    return process_->Resize(height, width);
  }
  Result<int> Wait(int cancel_fd) override {
    for (;;) {
      pollfd fds[2] = {{process_->pidfd(), POLLIN, 0}, {cancel_fd, POLLIN, 0}};
      if (::poll(fds, 2, -1) < 0) {
        if (errno == EINTR) continue;
        return FailErrno("wait for exec");
      }
      if (fds[0].revents != 0) break;
      if (fds[1].revents != 0) {
        (void)process_->Kill();  // the client went away: nobody reads this process any more
        break;
      }
    }
    auto status = process_->Wait(std::chrono::seconds(10));
    if (!status) return std::unexpected(std::move(status.error()));
    return status->ShellCode();
  }

 private:
  std::unique_ptr<runtime::ExecProcess> process_;
  bool tty_;
};

// Attach: the container's output as its log collector drains it (its console's, with tty) and,
// with stdin, its stdin pipe or console.
class AttachTarget final : public StreamTarget {
 public:
  AttachTarget(agent::ContainerManager::AttachedOutput output, std::function<void()> close_stdin)
      : output_(std::move(output)), close_stdin_(std::move(close_stdin)) {}
  ~AttachTarget() override {
    output_.logs->RemoveTap(output_.tap.id);
    EndInput();
  }

  int input_fd() const override { return output_.input.Get(); }
  int output_fd() const override { return output_.tap.stdout_read.Get(); }
  int error_fd() const override { return output_.tty ? -1 : output_.tap.stderr_read.Get(); }
  // The client's end of input ends the container's only with stdin_once, and never with a
  // terminal, which has no end of input short of hanging up (containerd does the same).
  void CloseInput() override {
    if (!output_.tty) EndInput();
  }
  Status Resize(uint16_t width, uint16_t height) override {
    if (!output_.console) {
      return Fail(ErrorCode::kFailedPrecondition, "attach: the container has no terminal");
    }
    winsize size{};
    size.ws_row = height;
    size.ws_col = width;
    if (::ioctl(output_.console.Get(), TIOCSWINSZ, &size) != 0) {
      return FailErrno("attach: resize the container's terminal");
    }
    return Ok();
  }
  Result<int> Wait(int cancel_fd) override {
    for (;;) {
      pollfd fds[2] = {{output_.pidfd.Get(), POLLIN, 0}, {cancel_fd, POLLIN, 0}};
      if (::poll(fds, 2, -1) < 0) {
        if (errno == EINTR) continue;
        return FailErrno("wait for the attached container");
      }
      if (fds[0].revents != 0) {
        // It exited: the collector hands over its last output and ends the streams.
        output_.logs->WaitClosed(std::chrono::seconds(2));
        break;
      }
      if (fds[1].revents != 0) break;  // the client detached; the container runs on
    }
    output_.logs->RemoveTap(output_.tap.id);
    return 0;
  }

 private:
  // This session's stdin is over; with stdin_once, the container's too.
  void EndInput() {
    if (!output_.input) return;
    output_.input.Reset();
    if (output_.stdin_once && !output_.tty && close_stdin_) close_stdin_();
  }

  agent::ContainerManager::AttachedOutput output_;
  std::function<void()> close_stdin_;
};

class AgentStreamingRuntime final : public StreamingRuntime {
 public:
  explicit AgentStreamingRuntime(agent::Agent& agent) : agent_(agent) {}

  Result<std::unique_ptr<StreamTarget>> StartExec(const ExecRequest& request) override {
    auto process = agent_.containers().StartExec(request.container_id, request.cmd, request.tty,
                                                 request.stdin);
    if (!process) return std::unexpected(std::move(process.error()));
    return std::make_unique<ExecTarget>(std::move(*process), request.tty);
  }

  Result<std::unique_ptr<StreamTarget>> Attach(const AttachRequest& request) override {
    auto output = agent_.containers().AttachOutput(request.container_id, request.stdin);
    if (!output) return std::unexpected(std::move(output.error()));
    std::string id = request.container_id;
    agent::Agent& agent = agent_;
    return std::make_unique<AttachTarget>(
        std::move(*output), [&agent, id] { agent.containers().CloseContainerStdin(id); });
  }

  Result<UniqueFd> DialPod(const std::string& sandbox_id, uint16_t port) override {
    auto status = agent_.sandboxes().PodSandboxStatus(sandbox_id, /*verbose=*/true);
    if (!status) return std::unexpected(std::move(status.error()));
    if (status->status.state != agent::PodSandboxState::kReady) {
      return Fail(ErrorCode::kFailedPrecondition, "pod sandbox " + sandbox_id + " is not ready");
    }
    return DialInNetworkNamespace(status->info["netns"], port);
  }

 private:
  agent::Agent& agent_;
};

Result<UniqueFd> DialLoopback(uint16_t port) {
  int err = 0;
  for (int family : {AF_INET, AF_INET6}) {
    UniqueFd fd(::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd) return FailErrno("socket");
    sockaddr_storage ss{};
    socklen_t len;
    if (family == AF_INET) {
      auto* a = reinterpret_cast<sockaddr_in*>(&ss);
      a->sin_family = AF_INET;
      a->sin_port = htons(port);
      a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      len = sizeof(*a);
    } else {
      auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
      a->sin6_family = AF_INET6;
      a->sin6_port = htons(port);
      a->sin6_addr = in6addr_loopback;
      len = sizeof(*a);
    }
    if (::connect(fd.Get(), reinterpret_cast<sockaddr*>(&ss), len) == 0) {
      int one = 1;
      ::setsockopt(fd.Get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
      return fd;
    }
    if (err == 0 || errno != EAFNOSUPPORT) err = errno;
  }
  return FailErrno("connect to localhost:" + std::to_string(port), err);
}

}  // namespace

std::unique_ptr<StreamingRuntime> MakeAgentStreamingRuntime(agent::Agent& agent) {
  return std::make_unique<AgentStreamingRuntime>(agent);
}

Result<UniqueFd> DialInNetworkNamespace(const std::string& netns_path, uint16_t port) {
  if (netns_path.empty()) return DialLoopback(port);
  UniqueFd ns(::open(netns_path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!ns) return FailErrno("open network namespace " + netns_path);
  // setns(CLONE_NEWNET) changes only the calling thread; a socket keeps the namespace it was
  // made in. So a throwaway thread joins the pod, connects, and ends.
  Result<UniqueFd> result = Fail(ErrorCode::kInternal, "dial thread did not run");
  std::thread dialer = StartGuardedThread("port-forward: dial", [&] {
    if (::setns(ns.Get(), CLONE_NEWNET) != 0) {
      result = FailErrno("join network namespace " + netns_path);
      return;
    }
    result = DialLoopback(port);
  });
  dialer.join();
  if (!result) {
    return std::unexpected(std::move(result.error()).Context("in pod network " + netns_path));
  }
  return result;
}

}  // namespace peapod::cri::streaming
