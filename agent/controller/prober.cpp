#include "prober.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include "peapod/agent/container_manager.h"
#include "peapod/catch_boundary.h"
#include "peapod/parse.h"
#include "peapod/unique_fd.h"

namespace peapod::agent::controller {
namespace {

using Clock = std::chrono::steady_clock;

int RemainingMs(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return left.count() > 0 ? static_cast<int>(left.count()) : 0;
}

std::string Endpoint(const std::string& host, int port) {
  return (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" +
         std::to_string(port);
}

// A connected non-blocking TCP socket, or an error message.
std::pair<UniqueFd, std::string> Connect(const std::string& host, int port,
                                         Clock::time_point deadline) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  std::string port_text = std::to_string(port);
  if (int rc = ::getaddrinfo(host.c_str(), port_text.c_str(), &hints, &found); rc != 0) {
    return {UniqueFd(), "resolve " + host + ": " + ::gai_strerror(rc)};
  }
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> guard(found, &::freeaddrinfo);
  std::string error = "dial tcp " + Endpoint(host, port) + ": no address";
  for (addrinfo* ai = found; ai; ai = ai->ai_next) {
    UniqueFd fd(::socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd) continue;
    if (::connect(fd.Get(), ai->ai_addr, ai->ai_addrlen) != 0 && errno != EINPROGRESS) {
      error = "dial tcp " + Endpoint(host, port) + ": connect: " + std::strerror(errno);
      continue;
    }
    pollfd p{fd.Get(), POLLOUT, 0};
    int rc = ::poll(&p, 1, RemainingMs(deadline));
    if (rc <= 0) {
      error = "dial tcp " + Endpoint(host, port) + ": i/o timeout";
      continue;
    }
    int err = 0;
    socklen_t len = sizeof(err);
    ::getsockopt(fd.Get(), SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) {
      error = "dial tcp " + Endpoint(host, port) + ": connect: " + std::strerror(err);
      continue;
    }
    return {std::move(fd), ""};
  }
  return {UniqueFd(), error};
}

bool SendAll(int fd, std::string_view data, Clock::time_point deadline) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n > 0) {
      data.remove_prefix(static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno != EAGAIN && errno != EINTR) return false;
    pollfd p{fd, POLLOUT, 0};
    if (::poll(&p, 1, RemainingMs(deadline)) <= 0) return false;
  }
  return true;
}

// Appends what is readable before the deadline; false on timeout, error or EOF without data.
bool ReadSome(int fd, std::string& into, Clock::time_point deadline) {
  for (;;) {
    char buf[4096];
    ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n > 0) {
      into.append(buf, static_cast<size_t>(n));
      return true;
    }
    if (n == 0) return false;
    if (errno != EAGAIN && errno != EINTR) return false;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, RemainingMs(deadline)) <= 0) return false;
  }
}

Result<int> ResolvePort(const std::variant<int32_t, std::string>& port,
                        const std::vector<ContainerPort>& ports) {
  if (const auto* number = std::get_if<int32_t>(&port)) return *number;
  const auto& name = std::get<std::string>(port);
  for (const auto& p : ports) {
    if (p.name == name) return p.container_port;
  }
  // A number written as a string.
  if (!name.empty() && name.find_first_not_of("0123456789") == std::string::npos) {
    auto number = ParsePort(name);
    if (!number) return std::unexpected(std::move(number.error()).Context("probe port"));
    return *number;
  }
  return Fail(ErrorCode::kNotFound, "port \"" + name + "\" not found in the container's ports");
}

std::string HostOf(const std::string& explicit_host, const ProbeTarget& target) {
  if (!explicit_host.empty()) return explicit_host;
  return target.pod_ip.empty() ? "127.0.0.1" : target.pod_ip;
}

}  // namespace

HandlerResult TcpConnect(const std::string& host, int port, std::chrono::milliseconds timeout) {
  auto [fd, error] = Connect(host, port, Clock::now() + timeout);
  if (!fd) return {false, error};
  return {true, ""};
}

HandlerResult HttpGet(const std::string& host, int port, const HttpGetAction& action,
                      std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  if (action.scheme == "HTTPS") return {false, "HTTPS probes are not supported by peapod"};
  std::string path = action.path.empty() ? "/" : action.path;
  if (path[0] != '/') path = "/" + path;
  std::string url = "http://" + Endpoint(host, port) + path;
  auto [fd, error] = Connect(host, port, deadline);
  if (!fd) return {false, "Get \"" + url + "\": " + error};
  // kubelet's request: its User-Agent and Accept unless the probe sets them, no keep-alive.
  bool has_host = false, has_agent = false, has_accept = false;
  std::string headers;
  for (const auto& h : action.http_headers) {
    std::string lower = h.name;
    for (auto& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    has_host |= lower == "host";
    has_agent |= lower == "user-agent";
    has_accept |= lower == "accept";
    headers += h.name + ": " + h.value + "\r\n";
  }
  std::string request = "GET " + path + " HTTP/1.1\r\n";
  if (!has_host) request += "Host: " + Endpoint(host, port) + "\r\n";
  if (!has_agent) request += "User-Agent: kube-probe/1.29\r\n";
  if (!has_accept) request += "Accept: */*\r\n";
  request += headers + "Connection: close\r\n\r\n";
  if (!SendAll(fd.Get(), request, deadline)) return {false, "Get \"" + url + "\": write failed"};
  std::string response;
  while (response.find("\r\n") == std::string::npos) {
    if (!ReadSome(fd.Get(), response, deadline)) {
      return {false, "Get \"" + url + "\": " +
                         (RemainingMs(deadline) == 0 ? "context deadline exceeded"
                                                     : "connection closed before the status line")};
    }
  }
  // "HTTP/1.1 200 OK"
  // "HTTP/1.1 200 OK": the target is untrusted, so the code is read as exactly three digits.
  size_t space = response.find(' ');
  std::optional<uint64_t> code;
  if (response.starts_with("HTTP/") && space != std::string::npos && space + 4 <= response.size() &&
      (space + 4 == response.size() || response[space + 4] == ' ' || response[space + 4] == '\r')) {
    code = ParseUnsigned(std::string_view(response).substr(space + 1, 3), 999);
  }
  if (!code) return {false, "Get \"" + url + "\": malformed HTTP status line"};
  int status = static_cast<int>(*code);
  if (status >= 200 && status < 400) return {true, ""};
  return {false, "HTTP probe failed with statuscode: " + std::to_string(status)};
}

// ---- gRPC health over cleartext HTTP/2
// ------------------------------------------------------------

namespace {

std::string Frame(uint8_t type, uint8_t flags, uint32_t stream, std::string_view payload) {
  std::string f;
  uint32_t len = static_cast<uint32_t>(payload.size());
  f += static_cast<char>((len >> 16) & 0xff);
  f += static_cast<char>((len >> 8) & 0xff);
  f += static_cast<char>(len & 0xff);
  f += static_cast<char>(type);
  f += static_cast<char>(flags);
  for (int shift : {24, 16, 8, 0}) f += static_cast<char>((stream >> shift) & 0xff);
  f += payload;
  return f;
}

// HPACK integer with an n-bit prefix (RFC 7541 5.1).
void HpackInt(std::string& out, uint8_t first, int prefix_bits, size_t value) {
  size_t max = (size_t{1} << prefix_bits) - 1;
  if (value < max) {
    out += static_cast<char>(first | value);
    return;
  }
  out += static_cast<char>(first | max);
  value -= max;
  while (value >= 128) {
    out += static_cast<char>((value % 128) + 128);
    value /= 128;
  }
  out += static_cast<char>(value);
}

void HpackString(std::string& out, std::string_view s) {
  HpackInt(out, 0, 7, s.size());  // no Huffman coding
  out += s;
}

// "Literal header field without indexing" with a name from the static table, or a new name.
void HpackLiteral(std::string& out, size_t name_index, std::string_view value) {
  HpackInt(out, 0, 4, name_index);
  HpackString(out, value);
}

void HpackLiteralNewName(std::string& out, std::string_view name, std::string_view value) {
  out += '\0';
  HpackString(out, name);
  HpackString(out, value);
}

bool ReadVarint(std::string_view& in, uint64_t& value) {
  value = 0;
  for (int shift = 0; shift < 64 && !in.empty(); shift += 7) {
    uint8_t b = static_cast<uint8_t>(in[0]);
    in.remove_prefix(1);
    value |= uint64_t{b & 0x7fu} << shift;
    if (!(b & 0x80)) return true;
  }
  return false;
}

// HealthCheckResponse { ServingStatus status = 1; }: the status, 0 (UNKNOWN) when absent.
int DecodeServingStatus(std::string_view message) {
  int status = 0;
  while (!message.empty()) {
    uint64_t key = 0;
    if (!ReadVarint(message, key)) return 0;
    uint64_t wire = key & 7, field = key >> 3;
    if (wire == 0) {
      uint64_t v = 0;
      if (!ReadVarint(message, v)) return 0;
      if (field == 1) status = static_cast<int>(v);
    } else if (wire == 2) {
      uint64_t len = 0;
      if (!ReadVarint(message, len) || len > message.size()) return 0;
      message.remove_prefix(len);
    } else if (wire == 5 && message.size() >= 4) {
      message.remove_prefix(4);
    } else if (wire == 1 && message.size() >= 8) {
      message.remove_prefix(8);
    } else {
      return 0;
    }
  }
  return status;
}

const char* ServingStatusName(int s) {
  switch (s) {
    case 1:
      return "SERVING";
    case 2:
      return "NOT_SERVING";
    case 3:
      return "SERVICE_UNKNOWN";
    default:
      return "UNKNOWN";
  }
}

}  // namespace

HandlerResult GrpcHealthCheck(const std::string& host, int port, const std::string& service,
                              std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  std::string target = Endpoint(host, port);
  auto [fd, error] = Connect(host, port, deadline);
  if (!fd) {
    return {false, "timeout: failed to connect service \"" + target + "\" within " +
                       std::to_string(timeout.count() / 1000) + "s: " + error};
  }
  std::string headers;
  headers += '\x83';                                         // :method POST (static index 3)
  headers += '\x86';                                         // :scheme http (static index 6)
  HpackLiteral(headers, 4, "/grpc.health.v1.Health/Check");  // :path
  HpackLiteral(headers, 1, target);                          // :authority
  HpackLiteral(headers, 31, "application/grpc");             // content-type
  HpackLiteralNewName(headers, "te", "trailers");
  HpackLiteralNewName(headers, "user-agent", "kube-probe/1.29");
  std::string request_message;
  if (!service.empty()) {
    request_message += '\x0a';  // field 1, length-delimited
    for (size_t v = service.size();; v >>= 7) {
      if (v < 128) {
        request_message += static_cast<char>(v);
        break;
      }
      request_message += static_cast<char>((v & 0x7f) | 0x80);
    }
    request_message += service;
  }
  std::string data;
  data += '\0';  // not compressed
  uint32_t len = static_cast<uint32_t>(request_message.size());
  for (int shift : {24, 16, 8, 0}) data += static_cast<char>((len >> shift) & 0xff);
  data += request_message;

  std::string out = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
  out += Frame(0x4, 0, 0, "");         // SETTINGS
  out += Frame(0x1, 0x4, 1, headers);  // HEADERS, END_HEADERS
  out += Frame(0x0, 0x1, 1, data);     // DATA, END_STREAM
  if (!SendAll(fd.Get(), out, deadline)) return {false, "grpc: write failed"};

  std::string in, message;
  for (;;) {
    while (in.size() < 9) {
      if (!ReadSome(fd.Get(), in, deadline)) return {false, "grpc: no response from " + target};
    }
    size_t flen = (size_t{static_cast<uint8_t>(in[0])} << 16) |
                  (size_t{static_cast<uint8_t>(in[1])} << 8) | static_cast<uint8_t>(in[2]);
    while (in.size() < 9 + flen) {
      if (!ReadSome(fd.Get(), in, deadline)) return {false, "grpc: truncated response"};
    }
    uint8_t type = static_cast<uint8_t>(in[3]), flags = static_cast<uint8_t>(in[4]);
    uint32_t stream =
        (uint32_t{static_cast<uint8_t>(in[5])} << 24 | uint32_t{static_cast<uint8_t>(in[6])} << 16 |
         uint32_t{static_cast<uint8_t>(in[7])} << 8 | static_cast<uint8_t>(in[8])) &
        0x7fffffff;
    std::string payload = in.substr(9, flen);
    in.erase(0, 9 + flen);
    if (type == 0x4 && !(flags & 0x1)) {
      (void)SendAll(fd.Get(), Frame(0x4, 0x1, 0, ""), deadline);  // SETTINGS ACK
    } else if (type == 0x6 && !(flags & 0x1)) {
      (void)SendAll(fd.Get(), Frame(0x6, 0x1, 0, payload), deadline);  // PING ACK
    } else if (type == 0x7) {
      return {false, "grpc: connection closed by the server (GOAWAY)"};
    } else if (type == 0x3 && stream == 1) {
      return {false, "grpc: stream reset by the server"};
    } else if (type == 0x0 && stream == 1) {
      size_t pad = 0;
      if (flags & 0x8) {
        if (payload.empty()) return {false, "grpc: malformed DATA frame"};
        pad = static_cast<uint8_t>(payload[0]);
        payload = payload.substr(1);
        if (pad > payload.size()) return {false, "grpc: malformed DATA frame"};
        payload.resize(payload.size() - pad);
      }
      message += payload;
      if (message.size() >= 5) {
        size_t mlen = (size_t{static_cast<uint8_t>(message[1])} << 24) |
                      (size_t{static_cast<uint8_t>(message[2])} << 16) |
                      (size_t{static_cast<uint8_t>(message[3])} << 8) |
                      static_cast<uint8_t>(message[4]);
        if (message.size() >= 5 + mlen) {
          if (message[0] != 0) return {false, "grpc: compressed response not supported"};
          int status = DecodeServingStatus(std::string_view(message).substr(5, mlen));
          if (status == 1) return {true, ""};
          return {false, std::string("service unhealthy (responded with \"") +
                             ServingStatusName(status) + "\")"};
        }
      }
    } else if (type == 0x1 && stream == 1 && (flags & 0x1) && message.empty()) {
      // Trailers-only response: an error status (e.g. the service is unknown).
      return {false, "grpc: health check failed: the server answered with an error status"};
    }
  }
}

HandlerResult RunHandler(ContainerManager& containers, const Handler& handler,
                         const ProbeTarget& target, std::chrono::milliseconds timeout) {
  if (const auto* exec = std::get_if<ExecAction>(&handler)) {
    int64_t seconds = std::max<int64_t>(1, (timeout.count() + 999) / 1000);
    auto result = containers.ExecSync(target.container_id, exec->command, seconds);
    if (!result) return {false, result.error().ToString()};
    if (result->timed_out) {
      return {false, "command timed out after " + std::to_string(seconds) + "s"};
    }
    std::string output = result->stdout_data + result->stderr_data;
    if (result->status.ShellCode() == 0) return {true, output};
    if (output.empty())
      output = "command exited with " + std::to_string(result->status.ShellCode());
    return {false, output};
  }
  if (const auto* http = std::get_if<HttpGetAction>(&handler)) {
    auto port = ResolvePort(http->port, target.ports);
    if (!port) return {false, port.error().ToString()};
    return HttpGet(HostOf(http->host, target), *port, *http, timeout);
  }
  if (const auto* tcp = std::get_if<TcpSocketAction>(&handler)) {
    auto port = ResolvePort(tcp->port, target.ports);
    if (!port) return {false, port.error().ToString()};
    return TcpConnect(HostOf(tcp->host, target), *port, timeout);
  }
  if (const auto* grpc = std::get_if<GrpcAction>(&handler)) {
    return GrpcHealthCheck(HostOf("", target), grpc->port, grpc->service, timeout);
  }
  if (const auto* sleep = std::get_if<SleepAction>(&handler)) {
    std::this_thread::sleep_for(
        std::min<std::chrono::milliseconds>(std::chrono::seconds(sleep->seconds), timeout));
    return {true, ""};
  }
  return {false, "no handler"};
}

const char* ProbeKindName(ProbeKind kind) {
  switch (kind) {
    case ProbeKind::kStartup:
      return "Startup";
    case ProbeKind::kLiveness:
      return "Liveness";
    case ProbeKind::kReadiness:
      return "Readiness";
  }
  return "";
}

ProbeWorker::ProbeWorker(ProbeKind kind, Probe probe, ProbeTarget target,
                         ContainerManager& containers, std::shared_ptr<std::atomic<bool>> started,
                         std::function<void(const std::string&)> on_failure,
                         std::function<void()> on_change)
    : kind_(kind),
      probe_(std::move(probe)),
      target_(std::move(target)),
      containers_(containers),
      started_(std::move(started)),
      on_failure_(std::move(on_failure)),
      on_change_(std::move(on_change)) {
  // The probe thread's catch boundary; a handler's own exception is a failed probe (below).
  thread_ = std::thread([this] { (void)CatchAll("probe thread", [this] { Run(); }); });
}

ProbeWorker::~ProbeWorker() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool ProbeWorker::SleepFor(std::chrono::milliseconds d) {
  std::unique_lock lock(mu_);
  return !cv_.wait_for(lock, d, [this] { return stop_; });
}

void ProbeWorker::Run() {
  using std::chrono::milliseconds;
  using std::chrono::seconds;
  if (!SleepFor(seconds(probe_.initial_delay_seconds))) return;
  auto period = milliseconds(seconds(std::max(1, probe_.period_seconds)));
  auto timeout = milliseconds(seconds(std::max(1, probe_.timeout_seconds)));
  int successes = 0, failures = 0;
  for (;;) {
    if (kind_ != ProbeKind::kStartup && started_ && !started_->load()) {
      // Liveness and readiness wait for the startup probe; poll briefly for it.
      if (!SleepFor(std::min(period, milliseconds(100)))) return;
      continue;
    }
    // The target is untrusted: whatever escapes the handler fails the probe, with its reason in
    // the pod's events, and never the agent.
    HandlerResult r;
    auto ran =
        CatchAll("probe", [&] { r = RunHandler(containers_, probe_.handler, target_, timeout); });
    if (!ran) r = {false, ran.error().message};
    {
      std::lock_guard lock(mu_);
      if (stop_) return;
    }
    if (r.success) {
      failures = 0;
      if (++successes >= std::max(1, probe_.success_threshold) && result_ != kSuccess) {
        result_ = kSuccess;
        on_change_();
      }
    } else {
      successes = 0;
      on_failure_(r.message);
      if (++failures >= std::max(1, probe_.failure_threshold) && result_ != kFailure) {
        result_ = kFailure;
        on_change_();
      }
      if (result_ == kFailure && kind_ != ProbeKind::kReadiness) return;
    }
    if (kind_ == ProbeKind::kStartup && result_ == kSuccess) return;
    if (!SleepFor(period)) return;
  }
}

}  // namespace peapod::agent::controller
