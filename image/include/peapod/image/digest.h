// Digests: streaming sha256 and verification of content against "sha256:<hex>" digests.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "peapod/error.h"

namespace peapod::image {

// Incremental sha256; Final() returns "sha256:<hex>".
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(Sha256&&) noexcept;
  Sha256& operator=(Sha256&&) noexcept;
  void Update(const void* data, size_t size);
  void Update(std::string_view data) { Update(data.data(), data.size()); }
  std::string Final();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// "sha256:<hex>" of a buffer.
std::string DigestOf(std::string_view data);
// "sha256:<hex>" of a file's content.
Result<std::string> DigestOfFile(const std::string& path);
// The hex part of "sha256:<hex>".
std::string_view DigestHex(std::string_view digest);
// kInvalidArgument unless `digest` is a well-formed sha256 digest.
Status CheckDigest(std::string_view digest);
// kInvalidArgument naming both digests when the content does not hash to `expected`.
Status VerifyDigest(std::string_view data, std::string_view expected);

}  // namespace peapod::image
