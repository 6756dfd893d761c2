#include "support/recording_http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>

namespace peapod::testing {

Result<std::unique_ptr<RecordingHttpServer>> RecordingHttpServer::Start(
    const std::string& address) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  if (inet_pton(AF_INET, address.c_str(), &addr.sin_addr) != 1) {
    return Fail(ErrorCode::kInvalidArgument, "not an IPv4 address: " + address);
  }
  UniqueFd listener(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!listener) return FailErrno("socket");
  socklen_t len = sizeof addr;
  if (bind(listener.Get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      listen(listener.Get(), 16) != 0 ||
      getsockname(listener.Get(), reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    return FailErrno("listen on " + address);
  }
  UniqueFd wake(eventfd(0, EFD_CLOEXEC));
  if (!wake) return FailErrno("eventfd");
  return std::unique_ptr<RecordingHttpServer>(
      new RecordingHttpServer(address, ntohs(addr.sin_port), std::move(listener), std::move(wake)));
}

RecordingHttpServer::RecordingHttpServer(std::string address, int port, UniqueFd listener,
                                         UniqueFd wake)
    : address_(std::move(address)),
      port_(port),
      listener_(std::move(listener)),
      wake_(std::move(wake)),
      thread_([this] { Serve(); }) {}

RecordingHttpServer::~RecordingHttpServer() {
  uint64_t one = 1;
  if (write(wake_.Get(), &one, sizeof one) != sizeof one) std::abort();  // would hang in join
  thread_.join();
}

std::string RecordingHttpServer::HostPort() const { return address_ + ":" + std::to_string(port_); }

std::vector<std::string> RecordingHttpServer::Requests() const {
  std::lock_guard lock(mutex_);
  return requests_;
}

void RecordingHttpServer::Serve() {
  while (true) {
    pollfd fds[2] = {{listener_.Get(), POLLIN, 0}, {wake_.Get(), POLLIN, 0}};
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[1].revents != 0) return;
    UniqueFd connection(accept4(listener_.Get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!connection) continue;
    timeval timeout{.tv_sec = 5, .tv_usec = 0};
    setsockopt(connection.Get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    Answer(connection.Get());
  }
}

// One request per connection (the answer closes it); only the head is read.
void RecordingHttpServer::Answer(int connection) {
  std::string head;
  char buf[4096];
  while (head.find("\r\n\r\n") == std::string::npos && head.size() < 65536) {
    ssize_t n = read(connection, buf, sizeof buf);
    if (n <= 0) break;
    head.append(buf, static_cast<size_t>(n));
  }
  if (head.empty()) return;
  {
    std::lock_guard lock(mutex_);
    requests_.push_back(head.substr(0, head.find("\r\n")));
  }
  static constexpr char kBody[] =
      R"({"errors":[{"code":"NAME_UNKNOWN","message":"recording server: nothing here"}]})";
  std::string answer =
      "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\n"
      "Connection: close\r\nContent-Length: " +
      std::to_string(sizeof kBody - 1) + "\r\n\r\n" + kBody;
  (void)!write(connection, answer.data(), answer.size());
}

}  // namespace peapod::testing
