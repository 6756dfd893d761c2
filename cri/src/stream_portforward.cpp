// Port-forward sessions: SPDY stream pairs or WebSocket channels onto TCP connections dialled
// inside the pod (see stream_sessions.h).
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <atomic>
#include <condition_variable>
#include <map>
#include <thread>

#include "peapod/catch_boundary.h"
#include "peapod/parse.h"
#include "stream_sessions.h"

namespace peapod::cri::streaming {
namespace {

constexpr size_t kCopyChunk = 64 * 1024;

bool WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// One forwarded connection of a SPDY session: the client's data and error streams.
struct SpdyForward {
  std::string request_id;
  uint16_t port = 0;
  uint32_t data_id = 0, error_id = 0;
  UniqueFd socket;
  std::thread pump;  // pod -> client
  std::atomic<bool> pod_done{false};
  bool client_done = false;
  bool started = false;
};

class SpdyPortForwarder {
 public:
  SpdyPortForwarder(SpdyConnection& conn, StreamingRuntime& runtime, std::string sandbox_id)
      : conn_(conn), runtime_(runtime), sandbox_id_(std::move(sandbox_id)) {}

  void Run() {
    for (;;) {
      auto frame = conn_.ReadFrame();
      if (!frame) break;
      if (!Handle(*frame)) break;
      Sweep(false);
    }
    Sweep(true);
  }

 private:
  bool Handle(const SpdyFrame& frame) {
    if (!frame.control) {
      auto it = by_stream_.find(frame.stream_id);
      if (it == by_stream_.end()) return true;
      SpdyForward& f = *it->second;
      if (frame.stream_id != f.data_id || !f.started) return true;  // error stream: ignored
      if (!frame.data.empty() && !f.client_done && !WriteAll(f.socket.Get(), frame.data)) {
        ::shutdown(f.socket.Get(), SHUT_RDWR);
      }
      if (frame.fin() && !f.client_done) {
        f.client_done = true;
        ::shutdown(f.socket.Get(), SHUT_WR);
      }
      return true;
    }
    switch (frame.type) {
      case SpdyType::kSynStream:
        OnStream(frame);
        return true;
      case SpdyType::kRstStream: {
        auto it = by_stream_.find(frame.stream_id);
        if (it != by_stream_.end() && it->second->socket) {
          it->second->client_done = true;
          ::shutdown(it->second->socket.Get(), SHUT_RDWR);
        }
        return true;
      }
      case SpdyType::kPing:
        (void)conn_.SendPing(frame.value);
        return true;
      case SpdyType::kGoAway:
        return false;
      default:
        return true;
    }
  }

  void OnStream(const SpdyFrame& frame) {
    std::string type = HeaderValue(frame.headers, "streamtype");
    auto port = ParsePort(HeaderValue(frame.headers, "port"));
    if ((type != "data" && type != "error") || !port) {
      (void)conn_.SendRst(frame.stream_id, kSpdyProtocolError);
      return;
    }
    (void)conn_.SendSynReply(frame.stream_id);
    // Clients before requestID paired streams by port; one request per port at a time then.
    std::string request_id = HeaderValue(frame.headers, "requestid");
    if (request_id.empty()) request_id = "port-" + std::to_string(*port);
    auto& slot = by_request_[request_id];
    if (!slot) {
      slot = std::make_shared<SpdyForward>();
      slot->request_id = request_id;
      slot->port = *port;
    }
    (type == "data" ? slot->data_id : slot->error_id) = frame.stream_id;
    by_stream_[frame.stream_id] = slot;
    if (slot->data_id != 0 && slot->error_id != 0 && !slot->started) Start(slot);
  }

  void Start(const std::shared_ptr<SpdyForward>& f) {
    f->started = true;
    auto socket = runtime_.DialPod(sandbox_id_, f->port);
    if (!socket) {
      std::string message = "error forwarding port " + std::to_string(f->port) + " to pod " +
                            sandbox_id_ + ": " + socket.error().ToString();
      spdlog::info("port-forward: {}", message);
      (void)conn_.SendData(f->error_id, message, true);
      (void)conn_.SendData(f->data_id, "", true);
      f->client_done = true;
      f->pod_done = true;
      return;
    }
    f->socket = std::move(*socket);
    f->pump = StartGuardedThread("port-forward: pump", [this, f] {
      char buf[kCopyChunk];
      for (;;) {
        ssize_t n = ::recv(f->socket.Get(), buf, sizeof(buf), 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        if (!conn_.SendData(f->data_id, std::string_view(buf, static_cast<size_t>(n)))) break;
      }
      (void)conn_.SendData(f->data_id, "", true);
      (void)conn_.SendData(f->error_id, "", true);
      f->pod_done = true;
    });
  }

  // Forgets finished connections (all of them when `all`, after shutting their sockets).
  void Sweep(bool all) {
    for (auto it = by_request_.begin(); it != by_request_.end();) {
      auto& f = it->second;
      if (all && f->socket) ::shutdown(f->socket.Get(), SHUT_RDWR);
      bool done = f->started && f->pod_done && (f->client_done || all);
      if (!done && !all) {
        ++it;
        continue;
      }
      if (f->pump.joinable()) f->pump.join();
      by_stream_.erase(f->data_id);
      by_stream_.erase(f->error_id);
      it = by_request_.erase(it);
    }
  }

  SpdyConnection& conn_;
  StreamingRuntime& runtime_;
  std::string sandbox_id_;
  std::map<std::string, std::shared_ptr<SpdyForward>> by_request_;
  std::map<uint32_t, std::shared_ptr<SpdyForward>> by_stream_;
};

}  // namespace

void ServePortForwardSpdy(SpdyConnection& conn, StreamingRuntime& runtime,
                          const std::string& sandbox_id) {
  SpdyPortForwarder(conn, runtime, sandbox_id).Run();
}

void ServePortForwardWebSocket(WebSocketConnection& conn, StreamingRuntime& runtime,
                               const std::string& sandbox_id, const std::vector<uint16_t>& ports) {
  struct Port {
    uint16_t port;
    UniqueFd socket;
    std::thread pump;
  };
  std::vector<Port> forwards(ports.size());
  std::mutex mu;
  size_t running = 0;
  for (size_t i = 0; i < ports.size(); ++i) {
    forwards[i].port = ports[i];
    // Each channel opens with its port number, little endian (kubelet's v4 port-forward).
    for (size_t channel : {2 * i, 2 * i + 1}) {
      const char hello[3] = {static_cast<char>(channel), static_cast<char>(ports[i] & 0xff),
                             static_cast<char>(ports[i] >> 8)};
      (void)conn.WriteMessage(WsOpcode::kBinary, std::string_view(hello, 3));
    }
    auto socket = runtime.DialPod(sandbox_id, ports[i]);
    if (!socket) {
      std::string message(1, static_cast<char>(2 * i + 1));
      message += "error forwarding port " + std::to_string(ports[i]) + " to pod " + sandbox_id +
                 ": " + socket.error().ToString();
      (void)conn.WriteMessage(WsOpcode::kBinary, message);
      continue;
    }
    forwards[i].socket = std::move(*socket);
    ++running;
  }
  if (running == 0) (void)conn.WriteClose(1000);
  for (size_t i = 0; i < forwards.size(); ++i) {
    if (!forwards[i].socket) continue;
    forwards[i].pump = StartGuardedThread("port-forward: pump", [&, i] {
      char buf[kCopyChunk + 1];
      buf[0] = static_cast<char>(2 * i);
      for (;;) {
        ssize_t n = ::recv(forwards[i].socket.Get(), buf + 1, kCopyChunk, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        auto s = conn.WriteMessage(WsOpcode::kBinary, std::string_view(buf, n + 1));
        if (!s) break;
      }
      std::lock_guard lock(mu);
      if (--running == 0) (void)conn.WriteClose(1000);  // every pod connection ended
    });
  }
  for (;;) {
    auto message = conn.ReadMessage();
    if (!message || !*message) break;
    const std::string& data = (*message)->data;
    if (data.empty()) continue;
    size_t channel = static_cast<uint8_t>(data[0]);
    if (channel % 2 != 0 || channel / 2 >= forwards.size()) continue;
    Port& p = forwards[channel / 2];
    if (p.socket && data.size() > 1 &&
        !WriteAll(p.socket.Get(), std::string_view(data).substr(1))) {
      ::shutdown(p.socket.Get(), SHUT_RDWR);
    }
  }
  for (auto& p : forwards) {
    if (p.socket) ::shutdown(p.socket.Get(), SHUT_RDWR);
  }
  for (auto& p : forwards) {
    if (p.pump.joinable()) p.pump.join();
  }
}

Result<size_t> WebSocketByteTransport::Read(char* buf, size_t size) {
  while (pos_ >= pending_.size()) {
    auto message = ws_.ReadMessage();
    if (!message) return std::unexpected(std::move(message.error()));
    if (!*message) return size_t{0};
    pending_ = std::move((*message)->data);
    pos_ = 0;
  }
  size_t n = std::min(size, pending_.size() - pos_);
  std::memcpy(buf, pending_.data() + pos_, n);
  pos_ += n;
  return n;
}

Status WebSocketByteTransport::Write(std::string_view data) {
  return ws_.WriteMessage(WsOpcode::kBinary, data);
}

}  // namespace peapod::cri::streaming
