// SPDY/3.1 frames and header blocks (see spdy.h).
#include <arpa/inet.h>
#include <zlib.h>

#include <algorithm>
#include <cstring>

#include "peapod/cri/streaming/spdy.h"

namespace peapod::cri::streaming {
namespace {

constexpr uint16_t kSpdyVersion = 3;
constexpr size_t kMaxDataChunk = 64 * 1024;
// Header blocks are small (a few names); a larger one is a broken or hostile peer.
constexpr size_t kMaxHeaderBlock = 256 * 1024;

void PutU32(std::string& out, uint32_t v) {
  uint32_t be = htonl(v);
  out.append(reinterpret_cast<const char*>(&be), 4);
}

uint32_t GetU32(std::string_view in, size_t at) {
  uint32_t be;
  std::memcpy(&be, in.data() + at, 4);
  return ntohl(be);
}

// The draft's dictionary: length-prefixed header names and common values, then a run of common
// value fragments without prefixes.
std::string BuildDictionary() {
  // clang-format off
  static constexpr const char* kWords[] = {
      "options", "head", "post", "put", "delete", "trace", "accept", "accept-charset",
      "accept-encoding", "accept-language", "accept-ranges", "age", "allow", "authorization",
      "cache-control", "connection", "content-base", "content-encoding", "content-language",
      "content-length", "content-location", "content-md5", "content-range", "content-type",
      "date", "etag", "expect", "expires", "from", "host", "if-match", "if-modified-since",
      "if-none-match", "if-range", "if-unmodified-since", "last-modified", "location",
      "max-forwards", "pragma", "proxy-authenticate", "proxy-authorization", "range", "referer",
      "retry-after", "server", "te", "trailer", "transfer-encoding", "upgrade", "user-agent",
      "vary", "via", "warning", "www-authenticate", "method", "get", "status", "200 OK",
      "version", "HTTP/1.1", "url", "public", "set-cookie", "keep-alive", "origin"};
  // clang-format on
  std::string dict;
  for (const char* word : kWords) {
    PutU32(dict, static_cast<uint32_t>(std::strlen(word)));
    dict += word;
  }
  dict +=
      "100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505"
      "203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request"
      "401 Unauthorized403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented"
      "503 Service UnavailableJan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 "
      "Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMTchunked,text/html,image/png,image/jpg,image/gif,"
      "application/xml,application/xhtml+xml,text/plain,text/javascript,publicprivatemax-age="
      "gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0.";
  return dict;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

std::string StreamIdPayload(uint32_t stream_id) {
  std::string payload;
  PutU32(payload, stream_id & 0x7fffffff);
  return payload;
}

}  // namespace

std::string_view SpdyDictionary() {
  static const std::string dict = BuildDictionary();
  return dict;
}

std::string HeaderValue(const SpdyHeaders& headers, std::string_view name) {
  for (const auto& [n, v] : headers) {
    if (EqualsIgnoreCase(n, name)) return v;
  }
  return "";
}

std::string EncodeHeaderBlock(const SpdyHeaders& headers) {
  std::string out;
  PutU32(out, static_cast<uint32_t>(headers.size()));
  for (const auto& [name, value] : headers) {
    PutU32(out, static_cast<uint32_t>(name.size()));
    for (char c : name) out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    PutU32(out, static_cast<uint32_t>(value.size()));
    out += value;
  }
  return out;
}

Result<SpdyHeaders> DecodeHeaderBlock(std::string_view block) {
  auto bad = [](const char* what) {
    return Fail(ErrorCode::kInvalidArgument, std::string("SPDY header block: ") + what);
  };
  if (block.size() < 4) return bad("shorter than its count");
  uint32_t count = GetU32(block, 0);
  size_t at = 4;
  SpdyHeaders headers;
  for (uint32_t i = 0; i < count; ++i) {
    std::string_view parts[2];
    for (auto& part : parts) {
      if (block.size() - at < 4) return bad("truncated length");
      uint32_t len = GetU32(block, at);
      at += 4;
      if (block.size() - at < len) return bad("truncated name or value");
      part = block.substr(at, len);
      at += len;
    }
    if (parts[0].empty()) return bad("empty header name");
    headers.emplace_back(std::string(parts[0]), std::string(parts[1]));
  }
  return headers;
}

struct SpdyHeaderCompressor::State {
  z_stream z{};
  bool ok = false;
  ~State() {
    if (ok) deflateEnd(&z);
  }
};

SpdyHeaderCompressor::SpdyHeaderCompressor() : state_(std::make_unique<State>()) {
  auto dict = SpdyDictionary();
  state_->ok = deflateInit(&state_->z, Z_DEFAULT_COMPRESSION) == Z_OK;
  if (state_->ok) {
    state_->ok = deflateSetDictionary(&state_->z, reinterpret_cast<const Bytef*>(dict.data()),
                                      static_cast<uInt>(dict.size())) == Z_OK;
  }
}

SpdyHeaderCompressor::~SpdyHeaderCompressor() = default;

Result<std::string> SpdyHeaderCompressor::Compress(const SpdyHeaders& headers) {
  if (!state_->ok) return Fail(ErrorCode::kInternal, "SPDY header compressor: zlib init failed");
  std::string in = EncodeHeaderBlock(headers);
  std::string out;
  z_stream& z = state_->z;
  z.next_in = reinterpret_cast<Bytef*>(in.data());
  z.avail_in = static_cast<uInt>(in.size());
  char buf[4096];
  do {
    z.next_out = reinterpret_cast<Bytef*>(buf);
    z.avail_out = sizeof(buf);
    int rc = deflate(&z, Z_SYNC_FLUSH);
    if (rc != Z_OK && rc != Z_BUF_ERROR) {
      return Fail(ErrorCode::kInternal, "SPDY header compressor: deflate failed");
    }
    out.append(buf, sizeof(buf) - z.avail_out);
  } while (z.avail_out == 0);
  return out;
}

struct SpdyHeaderDecompressor::State {
  z_stream z{};
  bool ok = false;
  ~State() {
    if (ok) inflateEnd(&z);
  }
};

SpdyHeaderDecompressor::SpdyHeaderDecompressor() : state_(std::make_unique<State>()) {
  state_->ok = inflateInit(&state_->z) == Z_OK;
}

SpdyHeaderDecompressor::~SpdyHeaderDecompressor() = default;

Result<SpdyHeaders> SpdyHeaderDecompressor::Decompress(std::string_view compressed) {
  if (!state_->ok) return Fail(ErrorCode::kInternal, "SPDY header decompressor: zlib init failed");
  z_stream& z = state_->z;
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(compressed.data()));
  z.avail_in = static_cast<uInt>(compressed.size());
  std::string out;
  char buf[4096];
  while (z.avail_in > 0) {
    z.next_out = reinterpret_cast<Bytef*>(buf);
    z.avail_out = sizeof(buf);
    int rc = inflate(&z, Z_SYNC_FLUSH);
    if (rc == Z_NEED_DICT) {
      auto dict = SpdyDictionary();
      rc = inflateSetDictionary(&z, reinterpret_cast<const Bytef*>(dict.data()),
                                static_cast<uInt>(dict.size()));
      if (rc != Z_OK) {
        return Fail(ErrorCode::kInvalidArgument,
                    "SPDY header block asks for a dictionary other than SPDY/3's");
      }
      continue;
    }
    if (rc != Z_OK && rc != Z_BUF_ERROR) {
      return Fail(ErrorCode::kInvalidArgument, "SPDY header block: bad zlib data");
    }
    out.append(buf, sizeof(buf) - z.avail_out);
    if (out.size() > kMaxHeaderBlock) {
      return Fail(ErrorCode::kInvalidArgument, "SPDY header block: too large");
    }
    if (rc == Z_BUF_ERROR && z.avail_out != 0) break;  // no progress possible
  }
  return DecodeHeaderBlock(out);
}

std::string EncodeSpdyDataFrame(uint32_t stream_id, uint8_t flags, std::string_view data) {
  std::string out;
  out.reserve(8 + data.size());
  PutU32(out, stream_id & 0x7fffffff);
  PutU32(out, (uint32_t{flags} << 24) | static_cast<uint32_t>(data.size()));
  out += data;
  return out;
}

std::string EncodeSpdyControlFrame(SpdyType type, uint8_t flags, std::string_view payload) {
  std::string out;
  out.reserve(8 + payload.size());
  PutU32(out, 0x80000000u | (uint32_t{kSpdyVersion} << 16) | static_cast<uint16_t>(type));
  PutU32(out, (uint32_t{flags} << 24) | static_cast<uint32_t>(payload.size()));
  out += payload;
  return out;
}

Result<std::string> EncodeSynStream(uint32_t stream_id, uint8_t flags, const SpdyHeaders& headers,
                                    SpdyHeaderCompressor& compressor) {
  auto block = compressor.Compress(headers);
  if (!block) return std::unexpected(std::move(block.error()));
  std::string payload = StreamIdPayload(stream_id);
  PutU32(payload, 0);         // associated-to stream
  payload.append("\0\0", 2);  // priority 0, slot 0
  payload += *block;
  return EncodeSpdyControlFrame(SpdyType::kSynStream, flags, payload);
}

Result<std::string> EncodeSynReply(uint32_t stream_id, uint8_t flags, const SpdyHeaders& headers,
                                   SpdyHeaderCompressor& compressor) {
  auto block = compressor.Compress(headers);
  if (!block) return std::unexpected(std::move(block.error()));
  return EncodeSpdyControlFrame(SpdyType::kSynReply, flags, StreamIdPayload(stream_id) + *block);
}

std::string EncodeRstStream(uint32_t stream_id, uint32_t status) {
  std::string payload = StreamIdPayload(stream_id);
  PutU32(payload, status);
  return EncodeSpdyControlFrame(SpdyType::kRstStream, 0, payload);
}

std::string EncodePing(uint32_t id) {
  std::string payload;
  PutU32(payload, id);
  return EncodeSpdyControlFrame(SpdyType::kPing, 0, payload);
}

std::string EncodeGoAway(uint32_t last_good_stream_id, uint32_t status) {
  std::string payload = StreamIdPayload(last_good_stream_id);
  PutU32(payload, status);
  return EncodeSpdyControlFrame(SpdyType::kGoAway, 0, payload);
}

uint32_t SpdyFrameLength(const char header[8]) {
  return GetU32(std::string_view(header, 8), 4) & 0xffffff;
}

Result<SpdyFrame> DecodeSpdyFrame(std::string_view frame, SpdyHeaderDecompressor& decompressor) {
  auto bad = [](const std::string& what) {
    return Fail(ErrorCode::kInvalidArgument, "SPDY frame: " + what);
  };
  if (frame.size() < 8) return bad("shorter than its header");
  uint32_t word0 = GetU32(frame, 0);
  uint32_t word1 = GetU32(frame, 4);
  SpdyFrame out;
  out.flags = static_cast<uint8_t>(word1 >> 24);
  uint32_t length = word1 & 0xffffff;
  if (frame.size() - 8 != length) return bad("length field does not match the frame");
  std::string_view payload = frame.substr(8);
  out.control = (word0 & 0x80000000u) != 0;
  if (!out.control) {
    out.stream_id = word0 & 0x7fffffff;
    out.data.assign(payload);
    return out;
  }
  uint16_t version = static_cast<uint16_t>((word0 >> 16) & 0x7fff);
  if (version != kSpdyVersion) return bad("version " + std::to_string(version) + ", not 3");
  out.type = static_cast<SpdyType>(word0 & 0xffff);
  auto need = [&](size_t n) { return payload.size() >= n; };
  switch (out.type) {
    case SpdyType::kSynStream:
    case SpdyType::kSynReply:
    case SpdyType::kHeaders: {
      size_t skip = out.type == SpdyType::kSynStream ? 10 : 4;
      if (!need(skip)) return bad("truncated stream header");
      out.stream_id = GetU32(payload, 0) & 0x7fffffff;
      if (out.stream_id == 0) return bad("stream id 0");
      auto headers = decompressor.Decompress(payload.substr(skip));
      if (!headers) return std::unexpected(std::move(headers.error()));
      out.headers = std::move(*headers);
      break;
    }
    case SpdyType::kRstStream:
    case SpdyType::kGoAway:
    case SpdyType::kWindowUpdate:
      if (!need(8)) return bad("truncated control frame");
      out.stream_id = GetU32(payload, 0) & 0x7fffffff;
      out.value = GetU32(payload, 4) & (out.type == SpdyType::kWindowUpdate ? 0x7fffffff : ~0u);
      break;
    case SpdyType::kPing:
      if (!need(4)) return bad("truncated PING");
      out.value = GetU32(payload, 0);
      break;
    default:
      break;  // SETTINGS and unknown types: the caller ignores them
  }
  return out;
}

Result<SpdyFrame> SpdyConnection::ReadFrame() {
  char header[8];
  if (auto s = transport_.ReadExact(header, 8); !s) return std::unexpected(std::move(s.error()));
  uint32_t length = SpdyFrameLength(header);
  // Grow with what arrives: a header alone, claiming 16 MiB, must not make us allocate them.
  std::string frame(header, 8);
  for (size_t left = length; left > 0;) {
    size_t n = std::min(left, kMaxDataChunk);
    size_t at = frame.size();
    frame.resize(at + n);
    if (auto s = transport_.ReadExact(frame.data() + at, n); !s) {
      return std::unexpected(std::move(s.error()));
    }
    left -= n;
  }
  return DecodeSpdyFrame(frame, decompressor_);
}

Status SpdyConnection::Send(std::string_view frame) { return transport_.Write(frame); }

Status SpdyConnection::SendSynStream(uint32_t stream_id, const SpdyHeaders& headers,
                                     uint8_t flags) {
  std::lock_guard lock(write_mu_);
  auto frame = EncodeSynStream(stream_id, flags, headers, compressor_);
  if (!frame) return std::unexpected(std::move(frame.error()));
  return Send(*frame);
}

Status SpdyConnection::SendSynReply(uint32_t stream_id, uint8_t flags) {
  std::lock_guard lock(write_mu_);
  auto frame = EncodeSynReply(stream_id, flags, {}, compressor_);
  if (!frame) return std::unexpected(std::move(frame.error()));
  return Send(*frame);
}

Status SpdyConnection::SendData(uint32_t stream_id, std::string_view data, bool fin) {
  std::lock_guard lock(write_mu_);
  do {
    size_t n = std::min(data.size(), kMaxDataChunk);
    bool last = n == data.size();
    auto frame = EncodeSpdyDataFrame(stream_id, last && fin ? kSpdyFlagFin : 0, data.substr(0, n));
    if (auto s = Send(frame); !s) return s;
    data.remove_prefix(n);
  } while (!data.empty());
  return Ok();
}

Status SpdyConnection::SendRst(uint32_t stream_id, uint32_t status) {
  std::lock_guard lock(write_mu_);
  return Send(EncodeRstStream(stream_id, status));
}

Status SpdyConnection::SendPing(uint32_t id) {
  std::lock_guard lock(write_mu_);
  return Send(EncodePing(id));
}

Status SpdyConnection::SendGoAway(uint32_t last_stream_id) {
  std::lock_guard lock(write_mu_);
  return Send(EncodeGoAway(last_stream_id, 0));
}

}  // namespace peapod::cri::streaming
