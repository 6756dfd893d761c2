// SPDY/3.1 framing as Kubernetes' streaming protocols use it (the moby/spdystream dialect): data
// and control frames, name/value header blocks, and their zlib compression with the dictionary the
// SPDY/3 draft fixes (section 2.6.10.1). One compressor and one decompressor per connection and
// direction, each a single zlib stream flushed with Z_SYNC_FLUSH after every header block.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "peapod/cri/streaming/transport.h"
#include "peapod/error.h"

namespace peapod::cri::streaming {

enum class SpdyType : uint16_t {
  kSynStream = 1,
  kSynReply = 2,
  kRstStream = 3,
  kSettings = 4,
  kPing = 6,
  kGoAway = 7,
  kHeaders = 8,
  kWindowUpdate = 9,
};

inline constexpr uint8_t kSpdyFlagFin = 0x01;
inline constexpr uint8_t kSpdyFlagUnidirectional = 0x02;
inline constexpr uint32_t kSpdyMaxFrameLength = (1u << 24) - 1;
// RST_STREAM status codes used here.
inline constexpr uint32_t kSpdyProtocolError = 1;
inline constexpr uint32_t kSpdyCancel = 5;

// The SPDY/3 header-compression dictionary (1423 bytes).
std::string_view SpdyDictionary();

// Name/value pairs, names lower case, in wire order.
using SpdyHeaders = std::vector<std::pair<std::string, std::string>>;
// The first value of `name` (compared case-insensitively), or "".
std::string HeaderValue(const SpdyHeaders& headers, std::string_view name);

// The uncompressed name/value block: count, then length-prefixed names and values (32-bit).
std::string EncodeHeaderBlock(const SpdyHeaders& headers);
Result<SpdyHeaders> DecodeHeaderBlock(std::string_view block);

class SpdyHeaderCompressor {
 public:
  SpdyHeaderCompressor();
  ~SpdyHeaderCompressor();
  SpdyHeaderCompressor(const SpdyHeaderCompressor&) = delete;
  SpdyHeaderCompressor& operator=(const SpdyHeaderCompressor&) = delete;
  Result<std::string> Compress(const SpdyHeaders& headers);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

class SpdyHeaderDecompressor {
 public:
  SpdyHeaderDecompressor();
  ~SpdyHeaderDecompressor();
  SpdyHeaderDecompressor(const SpdyHeaderDecompressor&) = delete;
  SpdyHeaderDecompressor& operator=(const SpdyHeaderDecompressor&) = delete;
  Result<SpdyHeaders> Decompress(std::string_view compressed);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// One frame, decoded. Control frames fill the fields their type has.
struct SpdyFrame {
  bool control = false;
  SpdyType type{};  // control frames
  uint8_t flags = 0;
  uint32_t stream_id =
      0;               // data frames, and SYN_STREAM, SYN_REPLY, RST_STREAM, HEADERS, WINDOW_UPDATE
  uint32_t value = 0;  // RST_STREAM/GOAWAY status, PING id, WINDOW_UPDATE delta
  SpdyHeaders headers;  // SYN_STREAM, SYN_REPLY, HEADERS
  std::string data;     // data frames

  bool fin() const { return (flags & kSpdyFlagFin) != 0; }
};

// Encoders for one whole frame (8-byte header included).
std::string EncodeSpdyDataFrame(uint32_t stream_id, uint8_t flags, std::string_view data);
std::string EncodeSpdyControlFrame(SpdyType type, uint8_t flags, std::string_view payload);
Result<std::string> EncodeSynStream(uint32_t stream_id, uint8_t flags, const SpdyHeaders& headers,
                                    SpdyHeaderCompressor& compressor);
Result<std::string> EncodeSynReply(uint32_t stream_id, uint8_t flags, const SpdyHeaders& headers,
                                   SpdyHeaderCompressor& compressor);
std::string EncodeRstStream(uint32_t stream_id, uint32_t status);
std::string EncodePing(uint32_t id);
std::string EncodeGoAway(uint32_t last_good_stream_id, uint32_t status);

// The length field of an 8-byte frame header.
uint32_t SpdyFrameLength(const char header[8]);
// Decodes one whole frame (header and payload); header blocks go through `decompressor`, which
// must see every header block of the connection in order.
Result<SpdyFrame> DecodeSpdyFrame(std::string_view frame, SpdyHeaderDecompressor& decompressor);

// A SPDY session over a transport: frame reads from one thread, thread-safe writes.
class SpdyConnection {
 public:
  explicit SpdyConnection(ByteTransport& transport) : transport_(transport) {}

  Result<SpdyFrame> ReadFrame();
  Status SendSynStream(uint32_t stream_id, const SpdyHeaders& headers, uint8_t flags = 0);
  Status SendSynReply(uint32_t stream_id, uint8_t flags = 0);
  // Large payloads go out as several frames; `fin` marks the last.
  Status SendData(uint32_t stream_id, std::string_view data, bool fin = false);
  Status SendRst(uint32_t stream_id, uint32_t status);
  Status SendPing(uint32_t id);
  Status SendGoAway(uint32_t last_stream_id);
  ByteTransport& transport() { return transport_; }

 private:
  Status Send(std::string_view frame);

  ByteTransport& transport_;
  std::mutex write_mu_;
  SpdyHeaderCompressor compressor_;      // guarded by write_mu_
  SpdyHeaderDecompressor decompressor_;  // reader thread only
};

}  // namespace peapod::cri::streaming
