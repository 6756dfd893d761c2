// What a probe target answers: the HTTP/1.1 response to an httpGet probe and the HTTP/2 frames
// of a gRPC health check, served by a loopback server in this process (the prober talks to
// sockets only). The first byte picks the probe; the rest is sent as the answer, then the
// server closes its side.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>

#include "../../agent/controller/prober.h"
#include "fuzz_support.h"

using namespace peapod::agent::controller;

namespace {

class AnswerServer {
 public:
  AnswerServer() {
    listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    if (listener_ < 0 || ::bind(listener_, reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
        ::listen(listener_, 16) != 0 ||
        ::getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      std::perror("probe_response: loopback listener");
      std::abort();
    }
    port_ = ntohs(addr.sin_port);
    std::thread([this] { Serve(); }).detach();  // lives as long as the process
  }
  int port() const { return port_; }
  void SetAnswer(std::string_view answer) {
    std::lock_guard lock(mu_);
    answer_ = answer;
  }

 private:
  void Serve() {
    for (;;) {
      int fd = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      std::string answer;
      {
        std::lock_guard lock(mu_);
        answer = answer_;
      }
      std::string_view rest = answer;
      while (!rest.empty()) {
        ssize_t n = ::send(fd, rest.data(), rest.size(), MSG_NOSIGNAL);
        if (n <= 0) break;
        rest.remove_prefix(static_cast<size_t>(n));
      }
      ::shutdown(fd, SHUT_WR);
      // Read until the prober closes, so that its writes (SETTINGS and PING acks) never meet a
      // closed socket.
      char buf[4096];
      while (::recv(fd, buf, sizeof(buf), 0) > 0) {
      }
      ::close(fd);
    }
  }

  int listener_ = -1;
  int port_ = 0;
  std::mutex mu_;
  std::string answer_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static AnswerServer* server = new AnswerServer();
  std::string_view input = peapod::fuzz::AsText(data, size);
  if (input.empty()) return 0;
  bool grpc = (input[0] & 1) != 0;
  input.remove_prefix(1);
  server->SetAnswer(input);
  constexpr auto kTimeout = std::chrono::seconds(5);
  if (grpc) {
    (void)GrpcHealthCheck("127.0.0.1", server->port(), "fuzz", kTimeout);
  } else {
    HttpGetAction action;
    action.path = "/healthz";
    (void)HttpGet("127.0.0.1", server->port(), action, kTimeout);
  }
  return 0;
}
