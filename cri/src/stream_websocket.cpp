// WebSocket frames and connections (see websocket.h).
#include <arpa/inet.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include <cstring>

#include "peapod/cri/streaming/websocket.h"

namespace peapod::cri::streaming {
namespace {

constexpr char kAcceptGuid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";  // RFC 6455 1.3
constexpr size_t kMaxMessage = 16 << 20;

uint32_t RandomMask() {
  static thread_local uint32_t state = 0x9e3779b9u ^ static_cast<uint32_t>(::getpid());
  // xorshift: masking only stops caches from reading the stream, it needs no secrecy.
  state ^= state << 13;
  state ^= state >> 17;
  state ^= state << 5;
  return state;
}

}  // namespace

std::string WebSocketAccept(std::string_view key) {
  std::string input(key);
  input += kAcceptGuid;
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(input.data()), input.size(), digest);
  unsigned char b64[4 * ((SHA_DIGEST_LENGTH + 2) / 3) + 1];
  int n = EVP_EncodeBlock(b64, digest, SHA_DIGEST_LENGTH);
  return std::string(reinterpret_cast<char*>(b64), static_cast<size_t>(n));
}

std::string EncodeWsFrame(WsOpcode opcode, std::string_view payload, bool fin,
                          std::optional<uint32_t> mask) {
  std::string out;
  out.reserve(payload.size() + 14);
  out += static_cast<char>((fin ? 0x80 : 0) | static_cast<uint8_t>(opcode));
  uint8_t mask_bit = mask ? 0x80 : 0;
  if (payload.size() < 126) {
    out += static_cast<char>(mask_bit | payload.size());
  } else if (payload.size() <= 0xffff) {
    out += static_cast<char>(mask_bit | 126);
    out += static_cast<char>(payload.size() >> 8);
    out += static_cast<char>(payload.size() & 0xff);
  } else {
    out += static_cast<char>(mask_bit | 127);
    for (int shift = 56; shift >= 0; shift -= 8) {
      out += static_cast<char>((static_cast<uint64_t>(payload.size()) >> shift) & 0xff);
    }
  }
  if (!mask) {
    out += payload;
    return out;
  }
  char key[4];
  uint32_t be = htonl(*mask);
  std::memcpy(key, &be, 4);
  out.append(key, 4);
  size_t start = out.size();
  out += payload;
  for (size_t i = 0; i < payload.size(); ++i) out[start + i] ^= key[i % 4];
  return out;
}

Result<size_t> DecodeWsFrame(std::string_view buf, WsFrame& out, size_t max_payload) {
  if (buf.size() < 2) return size_t{0};
  auto b0 = static_cast<uint8_t>(buf[0]);
  auto b1 = static_cast<uint8_t>(buf[1]);
  if (b0 & 0x70) return Fail(ErrorCode::kInvalidArgument, "WebSocket frame: reserved bits set");
  size_t at = 2;
  uint64_t length = b1 & 0x7f;
  if (length == 126 || length == 127) {
    size_t bytes = length == 126 ? 2 : 8;
    if (buf.size() < at + bytes) return size_t{0};
    length = 0;
    for (size_t i = 0; i < bytes; ++i) length = (length << 8) | static_cast<uint8_t>(buf[at + i]);
    at += bytes;
  }
  if (length > max_payload) {
    return Fail(ErrorCode::kInvalidArgument,
                "WebSocket frame of " + std::to_string(length) + " bytes is too large");
  }
  bool masked = (b1 & 0x80) != 0;
  char key[4] = {};
  if (masked) {
    if (buf.size() < at + 4) return size_t{0};
    std::memcpy(key, buf.data() + at, 4);
    at += 4;
  }
  if (buf.size() - at < length) return size_t{0};
  out.fin = (b0 & 0x80) != 0;
  out.opcode = static_cast<WsOpcode>(b0 & 0x0f);
  out.masked = masked;
  out.payload.assign(buf.substr(at, length));
  if (masked) {
    for (size_t i = 0; i < out.payload.size(); ++i) out.payload[i] ^= key[i % 4];
  }
  return at + length;
}

Result<std::optional<WsFrame>> WebSocketConnection::ReadFrame() {
  for (;;) {
    WsFrame frame;
    auto used = DecodeWsFrame(buffer_, frame, kMaxMessage);
    if (!used) return std::unexpected(std::move(used.error()));
    if (*used > 0) {
      buffer_.erase(0, *used);
      return frame;
    }
    char chunk[64 * 1024];
    auto n = transport_.Read(chunk, sizeof(chunk));
    if (!n) return std::unexpected(std::move(n.error()));
    if (*n == 0) return std::nullopt;
    buffer_.append(chunk, *n);
  }
}

Result<std::optional<WebSocketConnection::Message>> WebSocketConnection::ReadMessage() {
  std::optional<Message> message;
  for (;;) {
    auto frame = ReadFrame();
    if (!frame) return std::unexpected(std::move(frame.error()));
    if (!*frame) return std::nullopt;
    WsFrame& f = **frame;
    // Clients must mask, servers must not (RFC 6455 5.1).
    if (f.masked == client_) {
      return Fail(ErrorCode::kInvalidArgument, client_
                                                   ? "WebSocket: server sent a masked frame"
                                                   : "WebSocket: client sent an unmasked frame");
    }
    switch (f.opcode) {
      case WsOpcode::kPing: {
        std::lock_guard lock(write_mu_);
        if (auto s = WriteFrameLocked(WsOpcode::kPong, f.payload); !s) {
          return std::unexpected(std::move(s.error()));
        }
        continue;
      }
      case WsOpcode::kPong:
        continue;
      case WsOpcode::kClose:
        (void)WriteClose();
        return std::nullopt;
      case WsOpcode::kContinuation:
        if (!message) return Fail(ErrorCode::kInvalidArgument, "WebSocket: stray continuation");
        message->data += f.payload;
        break;
      case WsOpcode::kText:
      case WsOpcode::kBinary:
        if (message) return Fail(ErrorCode::kInvalidArgument, "WebSocket: interleaved message");
        message = Message{f.opcode, std::move(f.payload)};
        break;
      default:
        return Fail(ErrorCode::kInvalidArgument, "WebSocket: unknown opcode");
    }
    if (message->data.size() > kMaxMessage) {
      return Fail(ErrorCode::kInvalidArgument, "WebSocket: message too large");
    }
    if (f.fin) return message;
  }
}

Status WebSocketConnection::WriteFrameLocked(WsOpcode opcode, std::string_view data) {
  std::optional<uint32_t> mask;
  if (client_) mask = RandomMask();
  return transport_.Write(EncodeWsFrame(opcode, data, true, mask));
}

Status WebSocketConnection::WriteMessage(WsOpcode opcode, std::string_view data) {
  std::lock_guard lock(write_mu_);
  if (close_sent_) return Fail(ErrorCode::kUnavailable, "WebSocket: already closed");
  return WriteFrameLocked(opcode, data);
}

Status WebSocketConnection::WriteClose(uint16_t code) {
  std::lock_guard lock(write_mu_);
  if (close_sent_) return Ok();
  close_sent_ = true;
  char payload[2] = {static_cast<char>(code >> 8), static_cast<char>(code & 0xff)};
  return WriteFrameLocked(WsOpcode::kClose, std::string_view(payload, 2));
}

}  // namespace peapod::cri::streaming
