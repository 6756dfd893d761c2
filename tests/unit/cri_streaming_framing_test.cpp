// The streaming protocols' framing: SPDY/3.1 frames and zlib-compressed header blocks, WebSocket
// frames with masking and fragmentation, over socketpairs where a connection is involved.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <zlib.h>

#include <thread>

#include "peapod/cri/streaming/spdy.h"
#include "peapod/cri/streaming/websocket.h"

namespace peapod::cri::streaming {
namespace {

std::pair<UniqueFd, UniqueFd> SocketPair() {
  int sv[2];
  EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  return {UniqueFd(sv[0]), UniqueFd(sv[1])};
}

Result<SpdyFrame> Decode(const std::string& bytes, SpdyHeaderDecompressor& d) {
  return DecodeSpdyFrame(bytes, d);
}

TEST(SpdyFraming, DictionaryIsTheDraftsOwn) {
  auto dict = SpdyDictionary();
  EXPECT_EQ(dict.size(), 1423u);
  // The adler32 a SPDY/3 zlib stream names as its preset dictionary (FDICT).
  EXPECT_EQ(adler32(1, reinterpret_cast<const Bytef*>(dict.data()), static_cast<uInt>(dict.size())),
            0xe3c6a7c2u);
}

TEST(SpdyFraming, DecodesASynStreamAsGoClientsSendIt) {
  // A SYN_STREAM for stream 1 with "streamtype: stdout", as Go's SPDY framer writes it.
  const unsigned char wire[] = {0x80, 0x03, 0x00, 0x01, 0x00, 0x00, 0x00, 0x2b, 0x00, 0x00, 0x00,
                                0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x78, 0xf9, 0xe3, 0xc6,
                                0xa7, 0xc2, 0x62, 0x60, 0x60, 0x60, 0x04, 0xa7, 0xb3, 0x92, 0xa2,
                                0xd4, 0xc4, 0x5c, 0x68, 0x51, 0xc2, 0x56, 0x5c, 0x92, 0x92, 0x5f,
                                0x5a, 0x02, 0x00, 0x00, 0x00, 0xff, 0xff};
  SpdyHeaderDecompressor d;
  auto frame = Decode(std::string(reinterpret_cast<const char*>(wire), sizeof(wire)), d);
  ASSERT_TRUE(frame) << frame.error().ToString();
  EXPECT_TRUE(frame->control);
  EXPECT_EQ(frame->type, SpdyType::kSynStream);
  EXPECT_EQ(frame->stream_id, 1u);
  EXPECT_EQ(HeaderValue(frame->headers, "streamtype"), "stdout");
  EXPECT_EQ(HeaderValue(frame->headers, "StreamType"), "stdout");
}

TEST(SpdyFraming, HeaderBlocksRoundTripThroughOneZlibStreamPerDirection) {
  SpdyHeaderCompressor c;
  SpdyHeaderDecompressor d;
  std::vector<SpdyHeaders> blocks = {
      {{"streamtype", "error"}},
      {{"streamtype", "data"}, {"port", "8080"}, {"requestid", "0"}},
      {{"streamtype", "data"}, {"port", "8080"}, {"requestid", "1"}},
      {},
  };
  for (uint32_t i = 0; i < blocks.size(); ++i) {
    auto bytes = EncodeSynStream(2 * i + 1, 0, blocks[i], c);
    ASSERT_TRUE(bytes);
    auto frame = Decode(*bytes, d);
    ASSERT_TRUE(frame) << "block " << i << ": " << frame.error().ToString();
    EXPECT_EQ(frame->stream_id, 2 * i + 1);
    EXPECT_EQ(frame->headers, blocks[i]);
  }
  // A later block leans on the earlier ones: a fresh decompressor cannot read it alone.
  auto later = EncodeSynReply(9, 0, {{"streamtype", "data"}, {"port", "8080"}}, c);
  ASSERT_TRUE(later);
  SpdyHeaderDecompressor fresh;
  EXPECT_FALSE(Decode(*later, fresh));
  auto frame = Decode(*later, d);
  ASSERT_TRUE(frame);
  EXPECT_EQ(frame->type, SpdyType::kSynReply);
  EXPECT_EQ(HeaderValue(frame->headers, "port"), "8080");
}

TEST(SpdyFraming, HeaderNamesAreSentLowerCase) {
  auto block = EncodeHeaderBlock({{"StreamType", "stdin"}});
  auto headers = DecodeHeaderBlock(block);
  ASSERT_TRUE(headers);
  ASSERT_EQ(headers->size(), 1u);
  EXPECT_EQ((*headers)[0].first, "streamtype");
}

TEST(SpdyFraming, DataFramesCarryStreamFlagsAndPayload) {
  std::string payload(70000, 'x');
  auto bytes = EncodeSpdyDataFrame(5, kSpdyFlagFin, payload);
  EXPECT_EQ(bytes.size(), 8 + payload.size());
  EXPECT_EQ(SpdyFrameLength(bytes.data()), payload.size());
  SpdyHeaderDecompressor d;
  auto frame = Decode(bytes, d);
  ASSERT_TRUE(frame);
  EXPECT_FALSE(frame->control);
  EXPECT_EQ(frame->stream_id, 5u);
  EXPECT_TRUE(frame->fin());
  EXPECT_EQ(frame->data, payload);
}

TEST(SpdyFraming, ControlFramesDecodeTheirFields) {
  SpdyHeaderDecompressor d;
  auto rst = Decode(EncodeRstStream(7, kSpdyCancel), d);
  ASSERT_TRUE(rst);
  EXPECT_EQ(rst->type, SpdyType::kRstStream);
  EXPECT_EQ(rst->stream_id, 7u);
  EXPECT_EQ(rst->value, kSpdyCancel);
  auto ping = Decode(EncodePing(42), d);
  ASSERT_TRUE(ping);
  EXPECT_EQ(ping->type, SpdyType::kPing);
  EXPECT_EQ(ping->value, 42u);
  auto goaway = Decode(EncodeGoAway(3, 0), d);
  ASSERT_TRUE(goaway);
  EXPECT_EQ(goaway->type, SpdyType::kGoAway);
  EXPECT_EQ(goaway->stream_id, 3u);
}

TEST(SpdyFraming, RejectsBrokenFrames) {
  SpdyHeaderDecompressor d;
  auto bytes = EncodeSpdyDataFrame(1, 0, "hello");
  EXPECT_FALSE(Decode(bytes.substr(0, bytes.size() - 1), d));  // length says 5, has 4
  std::string v2 = EncodePing(1);
  v2[1] = 2;  // SPDY/2
  EXPECT_FALSE(Decode(v2, d));
  // A SYN_STREAM whose header block is not zlib at all.
  std::string garbage = EncodeSpdyControlFrame(SpdyType::kSynStream, 0,
                                               std::string("\0\0\0\1\0\0\0\0\0\0", 10) + "junk!");
  EXPECT_FALSE(Decode(garbage, d));
  EXPECT_FALSE(DecodeHeaderBlock(std::string("\0\0\0\2\0\0\0\1a", 9)));  // truncated pair
}

TEST(SpdyFraming, ConnectionsExchangeStreamsOverASocket) {
  auto [a, b] = SocketPair();
  SocketTransport ta(std::move(a)), tb(std::move(b));
  SpdyConnection client(ta), server(tb);
  std::string big(200 * 1024, 'z');
  std::thread writer([&] {
    ASSERT_TRUE(client.SendSynStream(1, {{"streamtype", "stdin"}}));
    ASSERT_TRUE(client.SendData(1, big, true));
  });
  auto syn = server.ReadFrame();
  ASSERT_TRUE(syn) << syn.error().ToString();
  EXPECT_EQ(HeaderValue(syn->headers, "streamtype"), "stdin");
  std::string received;
  int frames = 0;
  for (;;) {
    auto frame = server.ReadFrame();
    ASSERT_TRUE(frame) << frame.error().ToString();
    received += frame->data;
    ++frames;
    if (frame->fin()) break;
  }
  writer.join();
  EXPECT_EQ(received, big);
  EXPECT_GT(frames, 1);  // split into several frames
}

TEST(WebSocketFraming, AcceptKeyMatchesTheRfcExample) {
  EXPECT_EQ(WebSocketAccept("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

TEST(WebSocketFraming, MasksAsTheRfcExampleDoes) {
  // RFC 6455 5.7: a masked text frame "Hello".
  const unsigned char expected[] = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d,
                                    0x7f, 0x9f, 0x4d, 0x51, 0x58};
  auto bytes = EncodeWsFrame(WsOpcode::kText, "Hello", true, 0x37fa213d);
  EXPECT_EQ(bytes, std::string(reinterpret_cast<const char*>(expected), sizeof(expected)));
  WsFrame frame;
  auto used = DecodeWsFrame(bytes, frame, 1 << 20);
  ASSERT_TRUE(used);
  EXPECT_EQ(*used, bytes.size());
  EXPECT_TRUE(frame.masked);
  EXPECT_EQ(frame.payload, "Hello");
  EXPECT_EQ(frame.opcode, WsOpcode::kText);
}

TEST(WebSocketFraming, LengthsUseTheirThreeEncodings) {
  for (size_t size :
       {size_t{0}, size_t{125}, size_t{126}, size_t{65535}, size_t{65536}, size_t{300000}}) {
    std::string payload(size, 'p');
    auto bytes = EncodeWsFrame(WsOpcode::kBinary, payload, true, std::nullopt);
    size_t header = size < 126 ? 2 : size <= 65535 ? 4 : 10;
    EXPECT_EQ(bytes.size(), header + size) << size;
    WsFrame frame;
    auto used = DecodeWsFrame(bytes, frame, 1 << 20);
    ASSERT_TRUE(used);
    EXPECT_EQ(*used, bytes.size());
    EXPECT_EQ(frame.payload.size(), size);
    // Every strict prefix is an incomplete frame, not an error.
    auto partial =
        DecodeWsFrame(std::string_view(bytes).substr(0, bytes.size() - 1), frame, 1 << 20);
    ASSERT_TRUE(partial);
    EXPECT_EQ(*partial, 0u);
  }
  WsFrame frame;
  EXPECT_FALSE(DecodeWsFrame(EncodeWsFrame(WsOpcode::kBinary, std::string(1000, 'x'), true, {}),
                             frame, 999));
}

TEST(WebSocketFraming, ReassemblesFragmentsAndAnswersPingsBetweenThem) {
  auto [a, b] = SocketPair();
  SocketTransport client_side(std::move(a)), server_side(std::move(b));
  std::string wire = EncodeWsFrame(WsOpcode::kBinary, "Hel", false, 0x01020304) +
                     EncodeWsFrame(WsOpcode::kPing, "are you there", true, 0x0a0b0c0d) +
                     EncodeWsFrame(WsOpcode::kContinuation, "lo, ", false, 0x11223344) +
                     EncodeWsFrame(WsOpcode::kContinuation, "world", true, 0x55667788);
  ASSERT_TRUE(client_side.Write(wire));
  WebSocketConnection server(server_side, /*client=*/false);
  auto message = server.ReadMessage();
  ASSERT_TRUE(message) << message.error().ToString();
  ASSERT_TRUE(*message);
  EXPECT_EQ((*message)->opcode, WsOpcode::kBinary);
  EXPECT_EQ((*message)->data, "Hello, world");
  // The pong went back, unmasked, with the ping's payload.
  WebSocketConnection client(client_side, /*client=*/true);
  ASSERT_TRUE(server.WriteMessage(WsOpcode::kText, "after"));
  char buf[256];
  auto n = client_side.Read(buf, sizeof(buf));
  ASSERT_TRUE(n);
  WsFrame pong;
  auto used = DecodeWsFrame(std::string_view(buf, *n), pong, 1 << 20);
  ASSERT_TRUE(used);
  ASSERT_GT(*used, 0u);
  EXPECT_EQ(pong.opcode, WsOpcode::kPong);
  EXPECT_FALSE(pong.masked);
  EXPECT_EQ(pong.payload, "are you there");
}

TEST(WebSocketFraming, AServerRefusesUnmaskedClientFramesAndACloseEndsTheStream) {
  {
    auto [a, b] = SocketPair();
    SocketTransport client_side(std::move(a)), server_side(std::move(b));
    ASSERT_TRUE(client_side.Write(EncodeWsFrame(WsOpcode::kBinary, "x", true, std::nullopt)));
    WebSocketConnection server(server_side, false);
    EXPECT_FALSE(server.ReadMessage());
  }
  {
    auto [a, b] = SocketPair();
    SocketTransport client_side(std::move(a)), server_side(std::move(b));
    ASSERT_TRUE(client_side.Write(EncodeWsFrame(WsOpcode::kClose, "\x03\xe8", true, 7)));
    WebSocketConnection server(server_side, false);
    auto message = server.ReadMessage();
    ASSERT_TRUE(message);
    EXPECT_FALSE(*message);
    // ...and the server answered with a close frame of its own.
    char buf[16];
    auto n = client_side.Read(buf, sizeof(buf));
    ASSERT_TRUE(n);
    ASSERT_GE(*n, 2u);
    EXPECT_EQ(static_cast<uint8_t>(buf[0]), 0x88);
  }
}

}  // namespace
}  // namespace peapod::cri::streaming
