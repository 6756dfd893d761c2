// A ByteTransport over the fuzz input: reads serve the input (in pieces whose sizes also come
// from the input, as a socket delivers them), writes are counted and dropped.
#pragma once

#include <algorithm>
#include <string_view>

#include "peapod/cri/streaming/transport.h"

namespace peapod::fuzz {

class MemoryTransport final : public cri::streaming::ByteTransport {
 public:
  // `chunk` bounds each read (at least 1).
  MemoryTransport(std::string_view input, size_t chunk)
      : input_(input), chunk_(chunk ? chunk : 1) {}
  Result<size_t> Read(char* buf, size_t size) override {
    size_t n = std::min({size, chunk_, input_.size()});
    std::copy_n(input_.data(), n, buf);
    input_.remove_prefix(n);
    return n;
  }
  Status Write(std::string_view data) override {
    written_ += data.size();
    return Ok();
  }
  void CloseWrite() override {}
  void Abort() override { input_ = {}; }
  size_t written() const { return written_; }

 private:
  std::string_view input_;
  size_t chunk_;
  size_t written_ = 0;
};

}  // namespace peapod::fuzz
