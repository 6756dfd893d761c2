// WebSocket (RFC 6455) as the streaming server reads it from a client: frames with masks,
// fragments, pings (answered), close, until the input ends or a frame is refused. The first
// byte sets the size of each read.
#include "fuzz_support.h"
#include "memory_transport.h"
#include "peapod/cri/streaming/websocket.h"

using namespace peapod::cri::streaming;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input = peapod::fuzz::AsText(data, size);
  if (input.empty()) return 0;
  size_t chunk = static_cast<uint8_t>(input[0]) + 1;
  input.remove_prefix(1);
  WsFrame frame;
  (void)DecodeWsFrame(input, frame, 1 << 20);
  for (bool client : {false, true}) {
    peapod::fuzz::MemoryTransport transport(input, chunk);
    WebSocketConnection conn(transport, client);
    for (int messages = 0; messages < 1024; ++messages) {
      auto message = conn.ReadMessage();
      if (!message || !*message) break;
    }
  }
  return 0;
}
