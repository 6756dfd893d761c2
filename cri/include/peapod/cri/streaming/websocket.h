// WebSocket (RFC 6455) framing for Kubernetes' channel protocols: frames with masking and
// fragmentation, the Sec-WebSocket-Accept key, and a message-level connection over a transport.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "peapod/cri/streaming/transport.h"
#include "peapod/error.h"

namespace peapod::cri::streaming {

enum class WsOpcode : uint8_t {
  kContinuation = 0,
  kText = 1,
  kBinary = 2,
  kClose = 8,
  kPing = 9,
  kPong = 10,
};

struct WsFrame {
  bool fin = true;
  WsOpcode opcode = WsOpcode::kBinary;
  std::string payload;  // unmasked
  bool masked = false;
};

// base64(SHA-1(key + the RFC's GUID)).
std::string WebSocketAccept(std::string_view key);
// One frame; a client masks with `mask` (RFC 6455 5.3), a server passes nullopt.
std::string EncodeWsFrame(WsOpcode opcode, std::string_view payload, bool fin,
                          std::optional<uint32_t> mask);
// Decodes one frame from the front of `buf`: the bytes it took, 0 when `buf` holds only part of
// a frame. Frames over `max_payload` are refused.
Result<size_t> DecodeWsFrame(std::string_view buf, WsFrame& out, size_t max_payload);

// Messages over a transport. Reads from one thread; writes are thread-safe. Pings are answered
// and fragmented messages reassembled; a close frame is answered and reads as end of stream.
class WebSocketConnection {
 public:
  WebSocketConnection(ByteTransport& transport, bool client)
      : transport_(transport), client_(client) {}

  struct Message {
    WsOpcode opcode = WsOpcode::kBinary;
    std::string data;
  };
  // nullopt once the peer closed (or the connection ended).
  Result<std::optional<Message>> ReadMessage();
  Status WriteMessage(WsOpcode opcode, std::string_view data);
  // A close frame with `code` (1000: normal), once.
  Status WriteClose(uint16_t code = 1000);
  ByteTransport& transport() { return transport_; }

 private:
  Status WriteFrameLocked(WsOpcode opcode, std::string_view data);
  Result<std::optional<WsFrame>> ReadFrame();

  ByteTransport& transport_;
  bool client_;
  std::mutex write_mu_;
  bool close_sent_ = false;  // guarded by write_mu_
  std::string buffer_;       // reader thread only
};

// Binary WebSocket messages seen as a byte stream (SPDY tunnelled through WebSocket).
class WebSocketByteTransport final : public ByteTransport {
 public:
  explicit WebSocketByteTransport(WebSocketConnection& ws) : ws_(ws) {}
  Result<size_t> Read(char* buf, size_t size) override;
  Status Write(std::string_view data) override;
  void CloseWrite() override { (void)ws_.WriteClose(); }
  void Abort() override { ws_.transport().Abort(); }

 private:
  WebSocketConnection& ws_;
  std::string pending_;
  size_t pos_ = 0;
};

}  // namespace peapod::cri::streaming
