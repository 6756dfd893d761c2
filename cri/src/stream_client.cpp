// The streaming client (see client.h).
#include <openssl/evp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/socket.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "peapod/cri/streaming/client.h"
#include "peapod/cri/streaming/http.h"
#include "peapod/cri/streaming/spdy.h"
#include "peapod/cri/streaming/websocket.h"
#include "peapod/json_field.h"
#include "peapod/parse.h"

namespace peapod::cri::streaming {
namespace {

constexpr size_t kChunk = 64 * 1024;
constexpr uint32_t kErrorStream = 1, kStdinStream = 3, kStdoutStream = 5, kStderrStream = 7,
                   kResizeStream = 9;

bool WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

std::string Base64(const unsigned char* data, size_t size) {
  std::string out(4 * ((size + 2) / 3) + 1, '\0');
  int n =
      EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, static_cast<int>(size));
  out.resize(static_cast<size_t>(n));
  return out;
}

// Connects and upgrades; the transport carries the protocol afterwards.
Result<std::unique_ptr<SocketTransport>> Upgrade(const std::string& url,
                                                 const std::string& extra_headers, bool websocket,
                                                 std::string* protocol,
                                                 const std::string& websocket_key = "") {
  auto parsed = ParseHttpUrl(url);
  if (!parsed) return std::unexpected(std::move(parsed.error()));
  auto fd = ConnectTcp(parsed->host, parsed->port);
  if (!fd) return std::unexpected(std::move(fd.error()));
  std::string request = (websocket ? "GET " : "POST ") + parsed->target +
                        " HTTP/1.1\r\nHost: " + parsed->host + ":" + std::to_string(parsed->port) +
                        "\r\nConnection: Upgrade\r\n" + extra_headers + "\r\n";
  SocketTransport transport(std::move(*fd));
  if (auto s = transport.Write(request); !s) return std::unexpected(std::move(s.error()));
  auto head = ReadHttpHead(transport.fd(), false);
  if (!head) return std::unexpected(std::move(head.error()).Context("upgrade " + url));
  if (head->status != 101) {
    std::string body = head->rest;
    while (!body.empty() && (body.back() == '\n' || body.back() == '\r')) body.pop_back();
    return Fail(head->status == 404 ? ErrorCode::kNotFound : ErrorCode::kUnavailable,
                "upgrade " + url + ": " + std::to_string(head->status) + " " + head->reason +
                    (body.empty() ? "" : ": " + body));
  }
  if (websocket) {
    if (head->Header("sec-websocket-accept") != WebSocketAccept(websocket_key)) {
      return Fail(ErrorCode::kUnavailable, "upgrade " + url + ": wrong Sec-WebSocket-Accept");
    }
    *protocol = head->Header("sec-websocket-protocol");
  } else {
    *protocol = head->Header("x-stream-protocol-version");
  }
  UniqueFd raw(::dup(transport.fd()));
  if (!raw) return FailErrno("dup streaming socket");
  return std::make_unique<SocketTransport>(std::move(raw), std::move(head->rest));
}

std::string WebSocketKey() {
  unsigned char nonce[16];
  if (::getrandom(nonce, sizeof(nonce), 0) != sizeof(nonce)) {
    for (size_t i = 0; i < sizeof(nonce); ++i) nonce[i] = static_cast<unsigned char>(i * 37 + 11);
  }
  return Base64(nonce, sizeof(nonce));
}

// The error stream's content: v4+ sends a metav1.Status, older versions plain text.
Result<int> ExitCodeFrom(const std::string& payload) {
  if (payload.empty()) return 0;
  auto status = nlohmann::json::parse(payload, nullptr, false);
  if (!status.is_object()) return Fail(ErrorCode::kInternal, payload);
  auto text = [](const nlohmann::json& object, std::string_view key) {
    return JsonField<std::string>(object, key, "").value_or("");
  };
  if (text(status, "status") == "Success") return 0;
  auto details = JsonField<nlohmann::json>(status, "details", nlohmann::json::object());
  if (text(status, "reason") == "NonZeroExitCode" && details && details->is_object()) {
    auto causes = JsonField<nlohmann::json>(*details, "causes", nlohmann::json::array());
    for (const auto& cause : causes.value_or(nlohmann::json::array())) {
      if (!cause.is_object() || text(cause, "reason") != "ExitCode") continue;
      // An exit status is 0-255; anything else in the message is not one.
      auto code = ParseUnsigned(text(cause, "message"), 255);
      return code ? static_cast<int>(*code) : 1;
    }
  }
  std::string message = text(status, "message");
  return Fail(ErrorCode::kInternal, message.empty() ? payload : message);
}

// Copies `fd` to `send` until end of file or `stop`; then calls `eof`.
void PumpInput(int fd, int stop_fd, const std::function<bool(std::string_view)>& send,
               const std::function<void()>& eof) {
  char buf[kChunk];
  for (;;) {
    pollfd fds[2] = {{fd, POLLIN, 0}, {stop_fd, POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[1].revents != 0) return;
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    if (!send(std::string_view(buf, static_cast<size_t>(n)))) return;
  }
  eof();
}

std::string ResizeJson(TerminalSize size) {
  return nlohmann::json{{"Width", size.width}, {"Height", size.height}}.dump();
}

void Signal(int fd) {
  uint64_t one = 1;
  (void)!::write(fd, &one, sizeof(one));
}

Result<int> RunSpdy(const std::string& url, const RemoteCommandIo& io) {
  std::string protocol;
  auto transport = Upgrade(url,
                           "Upgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: v4.channel.k8s.io\r\n"
                           "X-Stream-Protocol-Version: v3.channel.k8s.io\r\n"
                           "X-Stream-Protocol-Version: v2.channel.k8s.io\r\nContent-Length: 0\r\n",
                           false, &protocol);
  if (!transport) return std::unexpected(std::move(transport.error()));
  SpdyConnection conn(**transport);
  bool want_resize = io.tty && protocol != "v2.channel.k8s.io";
  std::vector<std::pair<uint32_t, const char*>> streams = {{kErrorStream, "error"}};
  if (io.stdin_fd >= 0) streams.emplace_back(kStdinStream, "stdin");
  if (io.stdout_fd >= 0) streams.emplace_back(kStdoutStream, "stdout");
  if (io.stderr_fd >= 0 && !io.tty) streams.emplace_back(kStderrStream, "stderr");
  if (want_resize) streams.emplace_back(kResizeStream, "resize");
  for (auto [id, type] : streams) {
    if (auto s = conn.SendSynStream(id, {{"streamtype", type}}); !s) {
      return std::unexpected(std::move(s.error()));
    }
  }
  UniqueFd stop(::eventfd(0, EFD_CLOEXEC));
  std::thread stdin_pump;
  if (io.stdin_fd >= 0) {
    stdin_pump = std::thread([&] {
      PumpInput(
          io.stdin_fd, stop.Get(),
          [&](std::string_view data) { return conn.SendData(kStdinStream, data).has_value(); },
          [&] { (void)conn.SendData(kStdinStream, "", true); });
    });
  }
  std::jthread resize_pump;
  if (want_resize && io.resize != nullptr) {
    resize_pump = std::jthread([&](std::stop_token st) {
      while (auto size = io.resize->Next(st)) {
        if (!conn.SendData(kResizeStream, ResizeJson(*size))) return;
      }
    });
  }
  std::string error;
  bool error_done = false;
  Status failure = Ok();
  while (!error_done) {
    auto frame = conn.ReadFrame();
    if (!frame) {
      failure = std::unexpected(std::move(frame.error()));
      break;
    }
    if (frame->control) {
      if (frame->type == SpdyType::kPing) (void)conn.SendPing(frame->value);
      if (frame->type == SpdyType::kGoAway) break;
      continue;
    }
    if (frame->stream_id == kStdoutStream) {
      (void)WriteAll(io.stdout_fd, frame->data);
    } else if (frame->stream_id == kStderrStream) {
      (void)WriteAll(io.stderr_fd, frame->data);
    } else if (frame->stream_id == kErrorStream) {
      error += frame->data;
      error_done = frame->fin();
    }
  }
  Signal(stop.Get());
  resize_pump.request_stop();
  if (stdin_pump.joinable()) stdin_pump.join();
  if (resize_pump.joinable()) resize_pump.join();
  (*transport)->Abort();
  if (!error_done) {
    if (!failure) return std::unexpected(std::move(failure.error()).Context("stream " + url));
    return Fail(ErrorCode::kUnavailable, "stream " + url + ": server ended without a status");
  }
  return ExitCodeFrom(error);
}

Result<int> RunWebSocket(const std::string& url, const RemoteCommandIo& io) {
  std::string protocol;
  std::string key = WebSocketKey();
  auto transport =
      Upgrade(url,
              "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: " + key +
                  "\r\nSec-WebSocket-Protocol: v5.channel.k8s.io, v4.channel.k8s.io\r\n",
              true, &protocol, key);
  if (!transport) return std::unexpected(std::move(transport.error()));
  bool v5 = protocol == "v5.channel.k8s.io";
  WebSocketConnection ws(**transport, true);
  auto send = [&](char channel, std::string_view data) {
    std::string message(1, channel);
    message += data;
    return ws.WriteMessage(WsOpcode::kBinary, message).has_value();
  };
  UniqueFd stop(::eventfd(0, EFD_CLOEXEC));
  std::thread stdin_pump;
  if (io.stdin_fd >= 0) {
    stdin_pump = std::thread([&] {
      PumpInput(
          io.stdin_fd, stop.Get(), [&](std::string_view data) { return send(0, data); },
          [&] {
            if (v5) send(static_cast<char>(255), std::string_view("\0", 1));
          });
    });
  }
  std::jthread resize_pump;
  if (io.tty && io.resize != nullptr) {
    resize_pump = std::jthread([&](std::stop_token st) {
      while (auto size = io.resize->Next(st)) {
        if (!send(4, ResizeJson(*size))) return;
      }
    });
  }
  std::string error;
  bool got_error = false;
  Status failure = Ok();
  for (;;) {
    auto message = ws.ReadMessage();
    if (!message) {
      failure = std::unexpected(std::move(message.error()));
      break;
    }
    if (!*message) break;
    const std::string& data = (*message)->data;
    if (data.empty()) continue;
    std::string_view payload = std::string_view(data).substr(1);
    switch (static_cast<uint8_t>(data[0])) {
      case 1:
        (void)WriteAll(io.stdout_fd, payload);
        break;
      case 2:
        (void)WriteAll(io.stderr_fd, payload);
        break;
      case 3:
        error += payload;
        got_error = true;
        break;
      default:
        break;
    }
  }
  Signal(stop.Get());
  resize_pump.request_stop();
  if (stdin_pump.joinable()) stdin_pump.join();
  if (resize_pump.joinable()) resize_pump.join();
  (*transport)->Abort();
  if (!got_error) {
    if (!failure) return std::unexpected(std::move(failure.error()).Context("stream " + url));
    return Fail(ErrorCode::kUnavailable, "stream " + url + ": server ended without a status");
  }
  return ExitCodeFrom(error);
}

// One forwarded connection over a SPDY session on `transport`.
Status ForwardOverSpdy(ByteTransport& transport, uint16_t port, int local_fd) {
  SpdyConnection conn(transport);
  constexpr uint32_t kError = 1, kData = 3;
  std::string port_text = std::to_string(port);
  for (auto [id, type] : {std::pair{kError, "error"}, std::pair{kData, "data"}}) {
    if (auto s =
            conn.SendSynStream(id, {{"streamtype", type}, {"port", port_text}, {"requestid", "0"}});
        !s) {
      return s;
    }
  }
  (void)conn.SendData(kError, "", true);  // nothing to say on it: it is the server's
  UniqueFd stop(::eventfd(0, EFD_CLOEXEC));
  std::thread pump([&] {
    PumpInput(
        local_fd, stop.Get(),
        [&](std::string_view data) { return conn.SendData(kData, data).has_value(); },
        [&] { (void)conn.SendData(kData, "", true); });
  });
  std::string error;
  Status failure = Ok();
  bool data_done = false;
  while (!data_done) {
    auto frame = conn.ReadFrame();
    if (!frame) {
      failure = std::unexpected(std::move(frame.error()));
      break;
    }
    if (frame->control) {
      if (frame->type == SpdyType::kPing) (void)conn.SendPing(frame->value);
      if (frame->type == SpdyType::kRstStream && frame->stream_id == kData) break;
      if (frame->type == SpdyType::kGoAway) break;
      continue;
    }
    if (frame->stream_id == kData) {
      if (!frame->data.empty() && !WriteAll(local_fd, frame->data)) break;
      if (frame->fin()) {
        ::shutdown(local_fd, SHUT_WR);
        data_done = true;
      }
    } else if (frame->stream_id == kError) {
      error += frame->data;
    }
  }
  Signal(stop.Get());
  pump.join();
  transport.Abort();
  if (!error.empty()) return Fail(ErrorCode::kUnavailable, error);
  if (!data_done && !failure) return std::unexpected(std::move(failure.error()));
  return Ok();
}

Status ForwardSpdy(const std::string& url, uint16_t port, int local_fd) {
  std::string protocol;
  auto transport = Upgrade(
      url,
      "Upgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: portforward.k8s.io\r\nContent-Length: 0\r\n",
      false, &protocol);
  if (!transport) return std::unexpected(std::move(transport.error()));
  return ForwardOverSpdy(**transport, port, local_fd);
}

Status ForwardSpdyOverWebSocket(const std::string& url, uint16_t port, int local_fd) {
  std::string protocol;
  std::string key = WebSocketKey();
  auto transport =
      Upgrade(url,
              "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: " + key +
                  "\r\nSec-WebSocket-Protocol: SPDY/3.1+portforward.k8s.io\r\n",
              true, &protocol, key);
  if (!transport) return std::unexpected(std::move(transport.error()));
  WebSocketConnection ws(**transport, true);
  WebSocketByteTransport tunnel(ws);
  return ForwardOverSpdy(tunnel, port, local_fd);
}

Status ForwardWebSocket(const std::string& url, uint16_t port, int local_fd) {
  std::string protocol;
  std::string key = WebSocketKey();
  std::string target =
      url + (url.find('?') == std::string::npos ? "?" : "&") + "ports=" + std::to_string(port);
  auto transport =
      Upgrade(target,
              "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: " + key +
                  "\r\nSec-WebSocket-Protocol: v4.channel.k8s.io\r\n",
              true, &protocol, key);
  if (!transport) return std::unexpected(std::move(transport.error()));
  WebSocketConnection ws(**transport, true);
  UniqueFd stop(::eventfd(0, EFD_CLOEXEC));
  std::thread pump([&] {
    PumpInput(
        local_fd, stop.Get(),
        [&](std::string_view data) {
          std::string message(1, '\0');
          message += data;
          return ws.WriteMessage(WsOpcode::kBinary, message).has_value();
        },
        [] {});
  });
  std::string error;
  bool seen_data_port = false, seen_error_port = false;
  Status failure = Ok();
  for (;;) {
    auto message = ws.ReadMessage();
    if (!message) {
      failure = std::unexpected(std::move(message.error()));
      break;
    }
    if (!*message) break;
    const std::string& data = (*message)->data;
    if (data.empty()) continue;
    std::string_view payload = std::string_view(data).substr(1);
    bool& seen = data[0] == 0 ? seen_data_port : seen_error_port;
    if (!seen) {  // each channel opens with its port number
      seen = true;
      continue;
    }
    if (data[0] == 0) {
      if (!WriteAll(local_fd, payload)) break;
    } else {
      error += payload;
    }
  }
  ::shutdown(local_fd, SHUT_WR);
  Signal(stop.Get());
  pump.join();
  (*transport)->Abort();
  if (!error.empty()) return Fail(ErrorCode::kUnavailable, error);
  if (!failure) return failure;
  return Ok();
}

}  // namespace

void TerminalSizeQueue::Push(TerminalSize size) {
  {
    std::lock_guard lock(mu_);
    sizes_.push_back(size);
  }
  cv_.notify_all();
}

std::optional<TerminalSize> TerminalSizeQueue::Next(std::stop_token stop) {
  std::unique_lock lock(mu_);
  if (!cv_.wait(lock, stop, [&] { return !sizes_.empty(); })) return std::nullopt;
  TerminalSize size = sizes_.front();
  sizes_.pop_front();
  return size;
}

Result<int> RunRemoteCommand(const std::string& url, const RemoteCommandIo& io) {
  if (io.protocol == StreamProtocol::kSpdyOverWebSocket) {
    return Fail(ErrorCode::kInvalidArgument, "SPDY over WebSocket is for port-forward only");
  }
  return io.protocol == StreamProtocol::kWebSocket ? RunWebSocket(url, io) : RunSpdy(url, io);
}

Status ForwardPort(const std::string& url, uint16_t port, int local_fd, StreamProtocol protocol) {
  switch (protocol) {
    case StreamProtocol::kWebSocket:
      return ForwardWebSocket(url, port, local_fd);
    case StreamProtocol::kSpdyOverWebSocket:
      return ForwardSpdyOverWebSocket(url, port, local_fd);
    default:
      return ForwardSpdy(url, port, local_fd);
  }
}

}  // namespace peapod::cri::streaming
