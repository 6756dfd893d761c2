// The HTTP/1.1 heads the streaming server parses (an exec/attach/port-forward request and its
// upgrade headers, query string) and the URL parser used for stream endpoints.
#include "fuzz_support.h"
#include "peapod/cri/streaming/http.h"

using namespace peapod::cri::streaming;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text = peapod::fuzz::AsText(data, size);
  for (bool request : {true, false}) {
    auto head = ParseHttpHead(text, request);
    if (!head) continue;
    (void)head->Header("upgrade");
    (void)head->HeaderList("x-stream-protocol-version");
    (void)head->HeaderList("sec-websocket-protocol");
    (void)head->Path();
    (void)head->Query();
  }
  (void)ParseHttpUrl(text);
  return 0;
}
