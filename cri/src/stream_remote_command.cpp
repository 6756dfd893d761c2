// Exec and attach sessions: Kubernetes' remote command protocol over SPDY streams or WebSocket
// channels, onto a StreamTarget (see stream_sessions.h).
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>

#include <atomic>
#include <condition_variable>
#include <nlohmann/json.hpp>
#include <thread>

#include "peapod/catch_boundary.h"
#include "peapod/json_field.h"
#include "stream_sessions.h"

namespace peapod::cri::streaming {
namespace {

constexpr auto kDrainAfterExit = std::chrono::seconds(1);
constexpr auto kClientCloseGrace = std::chrono::seconds(5);
constexpr uint8_t kStdoutChannel = 1, kStderrChannel = 2, kErrorChannel = 3;

void Signal(int event_fd) {
  uint64_t one = 1;
  (void)!::write(event_fd, &one, sizeof(one));
}

bool WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) {
      // A console's master is shared with the log collector, which made it non-blocking.
      pollfd pfd{fd, POLLOUT, 0};
      (void)::poll(&pfd, 1, -1);
      continue;
    }
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// What the client sends: stdin bytes, its end, and terminal sizes as JSON
// {"Width":80,"Height":24} objects one after the other.
class Input {
 public:
  explicit Input(StreamTarget* target) : target_(target) {}
  void Stdin(std::string_view data) {
    if (target_ == nullptr || stdin_broken_ || target_->input_fd() < 0) return;
    if (!WriteAll(target_->input_fd(), data)) stdin_broken_ = true;  // the process stopped reading
  }
  void StdinClosed() {
    if (target_ != nullptr) target_->CloseInput();
  }
  void Resize(std::string_view data) {
    if (target_ == nullptr) return;
    resize_buffer_ += data;
    for (;;) {
      size_t open = resize_buffer_.find('{');
      size_t close = resize_buffer_.find('}', open == std::string::npos ? 0 : open);
      if (open == std::string::npos || close == std::string::npos) break;
      auto size = nlohmann::json::parse(resize_buffer_.substr(open, close - open + 1), nullptr,
                                        /*allow_exceptions=*/false);
      resize_buffer_.erase(0, close + 1);
      // The client's JSON: {"Width": "x"} or {"Width": -1} is skipped, like any garbage.
      auto width = JsonField<uint16_t>(size, "Width", 0);
      auto height = JsonField<uint16_t>(size, "Height", 0);
      if (!width || !height || *width == 0 || *height == 0) continue;
      (void)target_->Resize(*width, *height);
    }
    if (resize_buffer_.size() > 4096) resize_buffer_.clear();  // garbage, not sizes
  }

 private:
  StreamTarget* target_;
  bool stdin_broken_ = false;
  std::string resize_buffer_;
};

// The client's side of one session, whichever the protocol.
class Channel {
 public:
  virtual ~Channel() = default;
  virtual Status WriteOutput(uint8_t channel, std::string_view data) = 0;
  virtual void CloseOutput(uint8_t channel) = 0;
  virtual void WriteError(std::string_view payload) = 0;
  // Feeds client input to `input` until the client goes away.
  virtual void ReadLoop(Input& input) = 0;
  // Nothing more from us.
  virtual void Finish() = 0;
  virtual void Abort() = 0;
};

std::string ErrorPayload(ChannelVersion version, const std::string& json, const std::string& text) {
  return version >= ChannelVersion::kV4 ? json : text;
}

// After Finish: let the client close first (so it reads everything), but not forever.
void AwaitClientClose(Channel& channel, std::mutex& mu, std::condition_variable& cv,
                      const bool& reader_done) {
  std::unique_lock lock(mu);
  if (!cv.wait_for(lock, kClientCloseGrace, [&] { return reader_done; })) channel.Abort();
}

void RunSession(Channel& channel, ChannelVersion version, const RemoteCommandOptions& options,
                const std::function<Result<std::unique_ptr<StreamTarget>>()>& start) {
  std::mutex mu;
  std::condition_variable cv;
  bool reader_done = false;
  auto target = start();
  if (!target) {
    std::string message = target.error().ToString();
    spdlog::info("streaming {}: {}", options.what, message);
    channel.WriteError(ErrorPayload(version, FailureStatusJson(message), message));
    if (options.stdout) channel.CloseOutput(kStdoutChannel);
    if (options.stderr) channel.CloseOutput(kStderrChannel);
    channel.Finish();
    std::thread closer = StartGuardedThread(
        "streaming " + options.what, [&] { AwaitClientClose(channel, mu, cv, reader_done); });
    Input ignore(nullptr);
    channel.ReadLoop(ignore);
    {
      std::lock_guard lock(mu);
      reader_done = true;
    }
    cv.notify_all();
    closer.join();
    return;
  }
  StreamTarget& t = **target;
  UniqueFd cancel(::eventfd(0, EFD_CLOEXEC));
  UniqueFd stop_pumps(::eventfd(0, EFD_CLOEXEC));
  int pumps_running = 0;

  // One thread per output: copies it to the client (or drops it when the client did not ask
  // for it, so the process never blocks on a full pipe) until end of file.
  auto pump = [&](int fd, uint8_t channel_id, bool forward) {
    char buf[32 * 1024];
    for (;;) {
      pollfd fds[2] = {{fd, POLLIN, 0}, {stop_pumps.Get(), POLLIN, 0}};
      if (::poll(fds, 2, -1) < 0) {
        if (errno == EINTR) continue;
        break;
      }
      if (fds[1].revents != 0) break;
      ssize_t n = ::read(fd, buf, sizeof(buf));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;  // EOF, or EIO from a terminal whose last slave closed
      if (forward && !channel.WriteOutput(channel_id, std::string_view(buf, n))) forward = false;
    }
    if (forward) channel.CloseOutput(channel_id);
    {
      std::lock_guard lock(mu);
      --pumps_running;
    }
    cv.notify_all();
  };
  std::vector<std::thread> pumps;
  auto add_pump = [&](int fd, uint8_t id, bool forward) {
    if (fd < 0) {
      if (forward) channel.CloseOutput(id);
      return;
    }
    {
      std::lock_guard lock(mu);
      ++pumps_running;
    }
    pumps.push_back(StartGuardedThread("streaming " + options.what + ": output",
                                       [=, &pump] { pump(fd, id, forward); }));
  };
  add_pump(t.output_fd(), kStdoutChannel, options.stdout);
  add_pump(t.error_fd(), kStderrChannel, options.stderr && !options.tty);

  std::thread waiter = StartGuardedThread("streaming " + options.what, [&] {
    auto code = t.Wait(cancel.Get());
    {
      // Output a left-behind child still holds open is read for a moment, not forever.
      std::unique_lock lock(mu);
      cv.wait_for(lock, kDrainAfterExit, [&] { return pumps_running == 0; });
    }
    Signal(stop_pumps.Get());
    for (auto& p : pumps) p.join();
    if (!code) {
      std::string message = code.error().ToString();
      channel.WriteError(ErrorPayload(version, FailureStatusJson(message), message));
    } else if (*code == 0) {
      channel.WriteError(ErrorPayload(version, ExitStatusJson(0, options.what), ""));
    } else {
      std::string text = "command terminated with non-zero exit code: error executing " +
                         options.what + ", exit code " + std::to_string(*code);
      channel.WriteError(ErrorPayload(version, ExitStatusJson(*code, options.what), text));
    }
    channel.Finish();
    AwaitClientClose(channel, mu, cv, reader_done);
  });

  Input input(&t);
  channel.ReadLoop(input);
  {
    std::lock_guard lock(mu);
    reader_done = true;
  }
  cv.notify_all();
  Signal(cancel.Get());  // the client is gone: stop the target if it still runs
  waiter.join();
}

class SpdyChannel final : public Channel {
 public:
  SpdyChannel(SpdyConnection& conn) : conn_(conn) {}

  // Waits for the streams the client must open for these options.
  Status Establish(ChannelVersion version, const RemoteCommandOptions& options,
                   std::chrono::milliseconds timeout) {
    int needed = 1 + options.stdin + options.stdout + options.stderr +
                 (options.tty && version >= ChannelVersion::kV3);
    int have = 0;
    conn_.transport().SetReadTimeout(timeout);
    while (have < needed) {
      auto frame = conn_.ReadFrame();
      if (!frame) {
        return std::unexpected(std::move(frame.error()).Context("wait for the client's streams"));
      }
      if (!frame->control) {
        early_.push_back(std::move(*frame));
        continue;
      }
      if (frame->type == SpdyType::kPing) {
        (void)conn_.SendPing(frame->value);
        continue;
      }
      if (frame->type == SpdyType::kGoAway) {
        return Fail(ErrorCode::kUnavailable, "client went away before opening its streams");
      }
      if (frame->type != SpdyType::kSynStream) continue;
      std::string type = HeaderValue(frame->headers, "streamtype");
      uint32_t* slot = type == "error"    ? &error_
                       : type == "stdin"  ? &stdin_
                       : type == "stdout" ? &stdout_
                       : type == "stderr" ? &stderr_
                       : type == "resize" ? &resize_
                                          : nullptr;
      if (slot == nullptr) {
        (void)conn_.SendRst(frame->stream_id, kSpdyProtocolError);
        return Fail(ErrorCode::kInvalidArgument, "unknown stream type \"" + type + "\"");
      }
      if (*slot == 0) ++have;
      *slot = frame->stream_id;
      if (auto s = conn_.SendSynReply(frame->stream_id); !s) return s;
    }
    conn_.transport().SetReadTimeout(std::chrono::milliseconds(0));
    return Ok();
  }

  Status WriteOutput(uint8_t channel, std::string_view data) override {
    uint32_t id = channel == kStdoutChannel ? stdout_ : stderr_;
    if (id == 0) return Ok();
    return conn_.SendData(id, data);
  }
  void CloseOutput(uint8_t channel) override {
    uint32_t id = channel == kStdoutChannel ? stdout_ : stderr_;
    if (id != 0) (void)conn_.SendData(id, "", true);
  }
  void WriteError(std::string_view payload) override {
    if (error_ != 0) (void)conn_.SendData(error_, payload, true);
  }
  void ReadLoop(Input& input) override {
    for (auto& frame : early_) Handle(frame, input);
    early_.clear();
    for (;;) {
      auto frame = conn_.ReadFrame();
      if (!frame || !Handle(*frame, input)) return;
    }
  }
  void Finish() override { conn_.transport().CloseWrite(); }
  void Abort() override { conn_.transport().Abort(); }

 private:
  // False once the client said it is leaving.
  bool Handle(const SpdyFrame& frame, Input& input) {
    if (!frame.control) {
      if (frame.stream_id == stdin_ && stdin_ != 0) {
        if (!frame.data.empty()) input.Stdin(frame.data);
        if (frame.fin()) input.StdinClosed();
      } else if (frame.stream_id == resize_ && resize_ != 0) {
        input.Resize(frame.data);
      }
      return true;
    }
    switch (frame.type) {
      case SpdyType::kPing:
        (void)conn_.SendPing(frame.value);
        return true;
      case SpdyType::kRstStream:
        if (frame.stream_id == stdin_) input.StdinClosed();
        return true;
      case SpdyType::kGoAway:
        return false;
      case SpdyType::kSynStream:
        (void)conn_.SendSynReply(frame.stream_id);
        return true;
      default:
        return true;
    }
  }

  SpdyConnection& conn_;
  uint32_t error_ = 0, stdin_ = 0, stdout_ = 0, stderr_ = 0, resize_ = 0;
  std::vector<SpdyFrame> early_;
};

class WebSocketChannel final : public Channel {
 public:
  WebSocketChannel(WebSocketConnection& conn, ChannelVersion version)
      : conn_(conn), version_(version) {}

  Status WriteOutput(uint8_t channel, std::string_view data) override {
    std::string message(1, static_cast<char>(channel));
    message += data;
    return conn_.WriteMessage(WsOpcode::kBinary, message);
  }
  void CloseOutput(uint8_t channel) override {
    // v5 added the CLOSE signal: [255, channel] half-closes one channel.
    if (version_ < ChannelVersion::kV5) return;
    const char message[2] = {static_cast<char>(255), static_cast<char>(channel)};
    (void)conn_.WriteMessage(WsOpcode::kBinary, std::string_view(message, 2));
  }
  void WriteError(std::string_view payload) override {
    std::string message(1, static_cast<char>(kErrorChannel));
    message += payload;
    (void)conn_.WriteMessage(WsOpcode::kBinary, message);
  }
  void ReadLoop(Input& input) override {
    for (;;) {
      auto message = conn_.ReadMessage();
      if (!message || !*message) return;
      const std::string& data = (*message)->data;
      if (data.empty()) continue;
      auto channel = static_cast<uint8_t>(data[0]);
      std::string_view payload = std::string_view(data).substr(1);
      if (channel == 0) {
        if (!payload.empty()) input.Stdin(payload);
      } else if (channel == 4) {
        input.Resize(payload);
      } else if (channel == 255 && version_ >= ChannelVersion::kV5 && !payload.empty() &&
                 payload[0] == 0) {
        input.StdinClosed();
      }
    }
  }
  void Finish() override { (void)conn_.WriteClose(1000); }
  void Abort() override { conn_.transport().Abort(); }

 private:
  WebSocketConnection& conn_;
  ChannelVersion version_;
};

}  // namespace

std::string ExitStatusJson(int exit_code, const std::string& what) {
  nlohmann::json status = {
      {"kind", "Status"}, {"apiVersion", "v1"}, {"metadata", nlohmann::json::object()}};
  if (exit_code == 0) {
    status["status"] = "Success";
    return status.dump();
  }
  status["status"] = "Failure";
  status["message"] = "command terminated with non-zero exit code: error executing " + what +
                      ", exit code " + std::to_string(exit_code);
  status["reason"] = "NonZeroExitCode";
  status["details"] = {
      {"causes",
       nlohmann::json::array({{{"reason", "ExitCode"}, {"message", std::to_string(exit_code)}}})}};
  return status.dump();
}

std::string FailureStatusJson(const std::string& message) {
  nlohmann::json status = {
      {"kind", "Status"},    {"apiVersion", "v1"}, {"metadata", nlohmann::json::object()},
      {"status", "Failure"}, {"message", message}, {"reason", "InternalError"},
      {"code", 500}};
  return status.dump();
}

void ServeRemoteCommandSpdy(SpdyConnection& conn, ChannelVersion version,
                            const RemoteCommandOptions& options,
                            std::chrono::milliseconds stream_timeout,
                            const std::function<Result<std::unique_ptr<StreamTarget>>()>& start) {
  SpdyChannel channel(conn);
  if (auto s = channel.Establish(version, options, stream_timeout); !s) {
    spdlog::info("streaming {}: {}", options.what, s.error().ToString());
    return;
  }
  RunSession(channel, version, options, start);
}

void ServeRemoteCommandWebSocket(
    WebSocketConnection& conn, ChannelVersion version, const RemoteCommandOptions& options,
    const std::function<Result<std::unique_ptr<StreamTarget>>()>& start) {
  WebSocketChannel channel(conn, version);
  RunSession(channel, version, options, start);
}

}  // namespace peapod::cri::streaming
