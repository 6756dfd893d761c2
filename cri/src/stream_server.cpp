// StreamingServer: listener, tokens, HTTP upgrade and protocol negotiation (see server.h).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <variant>

#include "peapod/catch_boundary.h"
#include "peapod/cri/streaming/http.h"
#include "peapod/cri/streaming/server.h"
#include "peapod/parse.h"
#include "stream_sessions.h"

namespace peapod::cri::streaming {

struct StreamingServer::Pending {
  std::string kind;  // "exec", "attach", "portforward"
  std::chrono::steady_clock::time_point expires;
  std::variant<ExecRequest, AttachRequest, PortForwardRequest> request;
};

namespace {

constexpr auto kHeadTimeout = std::chrono::seconds(10);
constexpr const char* kChannelProtocols[] = {"v4.channel.k8s.io", "v3.channel.k8s.io",
                                             "v2.channel.k8s.io", "channel.k8s.io"};
constexpr const char* kWebSocketChannelProtocols[] = {"v5.channel.k8s.io", "v4.channel.k8s.io"};
constexpr char kPortForwardProtocol[] = "portforward.k8s.io";
constexpr char kTunnelledPortForwardProtocol[] = "SPDY/3.1+portforward.k8s.io";

ChannelVersion VersionOf(const std::string& protocol) {
  if (protocol.starts_with("v5.")) return ChannelVersion::kV5;
  if (protocol.starts_with("v4.")) return ChannelVersion::kV4;
  if (protocol.starts_with("v3.")) return ChannelVersion::kV3;
  if (protocol.starts_with("v2.")) return ChannelVersion::kV2;
  return ChannelVersion::kV1;
}

std::string RandomToken() {
  unsigned char bytes[16];
  size_t got = 0;
  while (got < sizeof(bytes)) {
    ssize_t n = ::getrandom(bytes + got, sizeof(bytes) - got, 0);
    if (n > 0) got += static_cast<size_t>(n);
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string token;
  for (unsigned char b : bytes) {
    token += kHex[b >> 4];
    token += kHex[b & 0xf];
  }
  return token;
}

void Respond(int fd, int code, const std::string& reason, const std::string& body) {
  std::string response = "HTTP/1.1 " + std::to_string(code) + " " + reason +
                         "\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: " +
                         std::to_string(body.size() + 1) + "\r\nConnection: close\r\n\r\n" + body +
                         "\n";
  (void)!::send(fd, response.data(), response.size(), MSG_NOSIGNAL);
}

// The first protocol the client offers that we speak (client order, as kubelet's handshake).
std::string Negotiate(const std::vector<std::string>& offered,
                      const std::vector<std::string>& supported) {
  for (const auto& p : offered) {
    if (std::find(supported.begin(), supported.end(), p) != supported.end()) return p;
  }
  return "";
}

std::string Join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : ", ") + i;
  return out;
}

std::string Describe(const std::vector<std::string>& cmd) {
  std::string out = "command [";
  for (size_t i = 0; i < cmd.size(); ++i) out += (i ? " " : "") + cmd[i];
  return out + "]";
}

Result<std::pair<std::string, uint16_t>> SplitHostPort(const std::string& address) {
  size_t colon = address.rfind(':');
  if (colon == std::string::npos) {
    return Fail(ErrorCode::kInvalidArgument,
                "stream address \"" + address + "\" is not host:port (e.g. 127.0.0.1:0)");
  }
  std::string host = address.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  auto port = ParsePort(std::string_view(address).substr(colon + 1), /*allow_zero=*/true);
  if (!port) {
    return std::unexpected(std::move(port.error()).Context("stream address \"" + address + "\""));
  }
  return std::make_pair(host, *port);
}

Result<UniqueFd> Listen(const std::string& host, uint16_t port, std::string* bound) {
  sockaddr_storage ss{};
  socklen_t len = 0;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&ss);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&ss);
  if (::inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    len = sizeof(*v4);
  } else if (::inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    len = sizeof(*v6);
  } else {
    return Fail(ErrorCode::kInvalidArgument,
                "stream address host \"" + host + "\" is not an IP address");
  }
  UniqueFd fd(::socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return FailErrno("streaming server: socket");
  int one = 1;
  ::setsockopt(fd.Get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (::bind(fd.Get(), reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    return FailErrno("streaming server: bind " + host + ":" + std::to_string(port));
  }
  if (::listen(fd.Get(), 128) != 0) return FailErrno("streaming server: listen");
  if (::getsockname(fd.Get(), reinterpret_cast<sockaddr*>(&ss), &len) != 0) {
    return FailErrno("streaming server: getsockname");
  }
  uint16_t actual = ntohs(ss.ss_family == AF_INET ? v4->sin_port : v6->sin6_port);
  *bound = (ss.ss_family == AF_INET6 ? "[" + host + "]" : host) + ":" + std::to_string(actual);
  return fd;
}

std::vector<std::string> ToStrings(const auto& list) {
  return std::vector<std::string>(std::begin(list), std::end(list));
}

}  // namespace

StreamingServer::StreamingServer(StreamingServerOptions options, StreamingRuntime* runtime)
    : options_(std::move(options)), runtime_(runtime) {}

StreamingServer::~StreamingServer() { Shutdown(); }

Result<std::unique_ptr<StreamingServer>> StreamingServer::Start(StreamingServerOptions options,
                                                                StreamingRuntime* runtime) {
  auto host_port = SplitHostPort(options.address);
  if (!host_port) return std::unexpected(std::move(host_port.error()));
  std::unique_ptr<StreamingServer> server(new StreamingServer(std::move(options), runtime));
  auto fd = Listen(host_port->first, host_port->second, &server->address_);
  if (!fd) return std::unexpected(std::move(fd.error()));
  server->listen_fd_ = std::move(*fd);
  server->stop_fd_.Reset(::eventfd(0, EFD_CLOEXEC));
  if (!server->stop_fd_) return FailErrno("streaming server: eventfd");
  server->acceptor_ = std::thread(
      [s = server.get()] { (void)CatchAll("streaming server: accept", [s] { s->AcceptLoop(); }); });
  spdlog::info("streaming server (exec, attach, port-forward) on http://{}", server->address_);
  return server;
}

void StreamingServer::Shutdown() {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  if (stop_fd_) {
    uint64_t one = 1;
    (void)!::write(stop_fd_.Get(), &one, sizeof(one));
  }
  if (acceptor_.joinable()) acceptor_.join();
  std::map<uint64_t, Connection> connections;
  {
    std::lock_guard lock(mu_);
    for (auto& [id, c] : connections_) {
      if (c.fd >= 0) ::shutdown(c.fd, SHUT_RDWR);
    }
    connections.swap(connections_);
  }
  for (auto& [id, c] : connections) {
    if (c.thread.joinable()) c.thread.join();
  }
  listen_fd_.Reset();
}

Result<std::string> StreamingServer::Insert(const std::string& kind,
                                            std::shared_ptr<Pending> pending) {
  auto now = std::chrono::steady_clock::now();
  pending->kind = kind;
  pending->expires = now + options_.token_ttl;
  std::lock_guard lock(mu_);
  std::erase_if(pending_, [&](const auto& entry) { return entry.second->expires <= now; });
  if (pending_.size() >= options_.max_pending_tokens) {
    return Fail(ErrorCode::kResourceExhausted,
                "too many streaming requests waiting for their clients (" +
                    std::to_string(pending_.size()) + "); try again shortly");
  }
  std::string token = RandomToken();
  pending_[token] = std::move(pending);
  return "http://" + address_ + "/" + kind + "/" + token;
}

std::shared_ptr<StreamingServer::Pending> StreamingServer::Consume(const std::string& kind,
                                                                   const std::string& token) {
  std::lock_guard lock(mu_);
  auto it = pending_.find(token);
  if (it == pending_.end()) return nullptr;
  auto pending = std::move(it->second);
  pending_.erase(it);  // single use, whatever happens next
  if (pending->kind != kind || pending->expires <= std::chrono::steady_clock::now()) return nullptr;
  return pending;
}

Result<std::string> StreamingServer::GetExec(const ExecRequest& request) {
  auto pending = std::make_shared<Pending>();
  pending->request = request;
  return Insert("exec", std::move(pending));
}

Result<std::string> StreamingServer::GetAttach(const AttachRequest& request) {
  auto pending = std::make_shared<Pending>();
  pending->request = request;
  return Insert("attach", std::move(pending));
}

Result<std::string> StreamingServer::GetPortForward(const PortForwardRequest& request) {
  auto pending = std::make_shared<Pending>();
  pending->request = request;
  return Insert("portforward", std::move(pending));
}

void StreamingServer::ReapFinished() {
  std::vector<std::thread> done;
  {
    std::lock_guard lock(mu_);
    for (auto it = connections_.begin(); it != connections_.end();) {
      if (!it->second.done) {
        ++it;
        continue;
      }
      done.push_back(std::move(it->second.thread));
      it = connections_.erase(it);
    }
  }
  for (auto& t : done) t.join();
}

void StreamingServer::AcceptLoop() {
  for (;;) {
    pollfd fds[2] = {{listen_fd_.Get(), POLLIN, 0}, {stop_fd_.Get(), POLLIN, 0}};
    if (::poll(fds, 2, 1000) < 0 && errno != EINTR) break;
    if (fds[1].revents != 0) break;
    ReapFinished();
    if ((fds[0].revents & POLLIN) == 0) continue;
    int fd = ::accept4(listen_fd_.Get(), nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    std::lock_guard lock(mu_);
    if (stopping_) {
      ::close(fd);
      break;
    }
    uint64_t id = next_connection_++;
    Connection& c = connections_[id];
    c.fd = fd;
    // A connection's catch boundary: a client's bytes end that connection at worst.
    c.thread = std::thread([this, id, fd] {
      (void)CatchAll("streaming connection " + std::to_string(id), [&] { Serve(id, fd); });
    });
  }
}

void StreamingServer::Serve(uint64_t id, int fd) {
  std::unique_ptr<SocketTransport> transport;
  // Marks the connection finished before its socket closes, so Shutdown never touches a
  // descriptor number that may have been reused.
  struct MarkDone {
    StreamingServer* server;
    uint64_t id;
    std::unique_ptr<SocketTransport>* transport;
    int raw_fd;
    ~MarkDone() {
      {
        std::lock_guard lock(server->mu_);
        auto it = server->connections_.find(id);
        if (it != server->connections_.end()) {
          it->second.fd = -1;
          it->second.done = true;
        }
      }
      if (*transport) {
        transport->reset();
      } else {
        ::close(raw_fd);
      }
    }
  } mark{this, id, &transport, fd};

  timeval tv{static_cast<time_t>(kHeadTimeout.count()), 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  auto head = ReadHttpHead(fd, true);
  if (!head) {
    Respond(fd, 400, "Bad Request", head.error().ToString());
    return;
  }
  tv = {0, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));

  std::string path = head->Path();
  size_t slash = path.find('/', 1);
  std::string kind = slash == std::string::npos ? "" : path.substr(1, slash - 1);
  std::string token = slash == std::string::npos ? "" : path.substr(slash + 1);
  if (kind != "exec" && kind != "attach" && kind != "portforward") {
    Respond(fd, 404, "Not Found", "404 page not found");
    return;
  }
  auto pending = Consume(kind, token);
  if (!pending) {
    Respond(fd, 404, "Not Found", "streaming token not found: unknown, expired or already used");
    return;
  }

  std::string upgrade = head->Header("upgrade");
  // Through unsigned char: tolower() of a negative char (a byte >= 0x80 from the client) is UB.
  std::transform(upgrade.begin(), upgrade.end(), upgrade.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  bool websocket = upgrade == "websocket";
  if (!websocket && upgrade != "spdy/3.1") {
    Respond(fd, 400, "Bad Request",
            "unable to upgrade: missing upgrade headers in request (want SPDY/3.1 or websocket)");
    return;
  }
  bool portforward = kind == "portforward";
  std::vector<std::string> supported;
  std::vector<std::string> offered;
  std::string protocol;
  if (websocket) {
    supported = portforward ? std::vector<std::string>{kTunnelledPortForwardProtocol,
                                                       kPortForwardProtocol, "v4.channel.k8s.io"}
                            : ToStrings(kWebSocketChannelProtocols);
    offered = head->HeaderList("sec-websocket-protocol");
    protocol = Negotiate(offered, supported);
    if (protocol.empty() && offered.empty() && portforward) protocol = kPortForwardProtocol;
    if (head->Header("sec-websocket-key").empty()) {
      Respond(fd, 400, "Bad Request", "WebSocket upgrade without Sec-WebSocket-Key");
      return;
    }
  } else {
    supported =
        portforward ? std::vector<std::string>{kPortForwardProtocol} : ToStrings(kChannelProtocols);
    offered = head->HeaderList("x-stream-protocol-version");
    // A client that names no version speaks the first one (kubelet's rule).
    protocol = offered.empty() ? (portforward ? kPortForwardProtocol : "channel.k8s.io")
                               : Negotiate(offered, supported);
  }
  if (protocol.empty()) {
    Respond(fd, 403, "Forbidden",
            "unable to upgrade: unable to negotiate protocol: client supports [" + Join(offered) +
                "], server supports [" + Join(supported) + "]");
    return;
  }
  std::string response = "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n";
  if (websocket) {
    response += "Upgrade: websocket\r\nSec-WebSocket-Accept: " +
                WebSocketAccept(head->Header("sec-websocket-key")) +
                "\r\nSec-WebSocket-Protocol: " + protocol + "\r\n\r\n";
  } else {
    response += "Upgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: " + protocol + "\r\n\r\n";
  }
  transport = std::make_unique<SocketTransport>(UniqueFd(fd), std::move(head->rest));
  if (!transport->Write(response)) return;

  RemoteCommandOptions options;
  std::function<Result<std::unique_ptr<StreamTarget>>()> start;
  if (auto* exec = std::get_if<ExecRequest>(&pending->request)) {
    options = {exec->stdin, exec->stdout, exec->stderr, exec->tty, Describe(exec->cmd)};
    start = [this, request = *exec] { return runtime_->StartExec(request); };
  } else if (auto* attach = std::get_if<AttachRequest>(&pending->request)) {
    options = {attach->stdin, attach->stdout, attach->stderr, attach->tty,
               "attach to container " + attach->container_id};
    start = [this, request = *attach] { return runtime_->Attach(request); };
  }
  if (portforward) {
    const auto& request = std::get<PortForwardRequest>(pending->request);
    if (!websocket) {
      SpdyConnection conn(*transport);
      ServePortForwardSpdy(conn, *runtime_, request.pod_sandbox_id);
      return;
    }
    WebSocketConnection ws(*transport, false);
    if (protocol == kTunnelledPortForwardProtocol) {
      WebSocketByteTransport tunnel(ws);
      SpdyConnection conn(tunnel);
      ServePortForwardSpdy(conn, *runtime_, request.pod_sandbox_id);
      return;
    }
    std::vector<uint16_t> ports;
    std::string list = head->Query()["ports"];
    if (list.empty()) {
      for (int32_t p : request.ports) {
        if (p > 0 && p <= 65535) ports.push_back(static_cast<uint16_t>(p));
      }
    }
    for (size_t at = 0; at < list.size();) {
      size_t comma = std::min(list.find(',', at), list.size());
      if (auto p = ParsePort(std::string_view(list).substr(at, comma - at))) ports.push_back(*p);
      at = comma + 1;
    }
    ServePortForwardWebSocket(ws, *runtime_, request.pod_sandbox_id, ports);
    return;
  }
  if (websocket) {
    WebSocketConnection ws(*transport, false);
    ServeRemoteCommandWebSocket(ws, VersionOf(protocol), options, start);
    return;
  }
  SpdyConnection conn(*transport);
  ServeRemoteCommandSpdy(conn, VersionOf(protocol), options, options_.stream_creation_timeout,
                         start);
}

}  // namespace peapod::cri::streaming
