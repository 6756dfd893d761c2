// SPDY/3.1 as the streaming server reads it from a kubectl exec/attach/port-forward client:
// frames of any type off the connection, header blocks through one zlib decompressor with the
// SPDY dictionary, until the input ends or a frame is refused. The first byte sets the size of
// each read, as a socket would split the stream.
#include "fuzz_support.h"
#include "memory_transport.h"
#include "peapod/cri/streaming/spdy.h"

using namespace peapod::cri::streaming;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input = peapod::fuzz::AsText(data, size);
  if (input.empty()) return 0;
  size_t chunk = static_cast<uint8_t>(input[0]) + 1;
  input.remove_prefix(1);
  (void)DecodeHeaderBlock(input);
  peapod::fuzz::MemoryTransport transport(input, chunk);
  SpdyConnection conn(transport);
  for (int frames = 0; frames < 1024; ++frames) {
    auto frame = conn.ReadFrame();
    if (!frame) break;
    if (frame->control) (void)HeaderValue(frame->headers, "streamtype");
  }
  return 0;
}
