#include "controller_ids.h"

#include <sys/random.h>

#include <chrono>
#include <string_view>

namespace peapod::agent::controller {
namespace {

// getrandom blocks only before the pool is first initialised and never fails for 16 bytes
// afterwards; a short read is topped up rather than leaving zeros (which would make every uid
// and suffix the same).
void RandomBytes(unsigned char* out, size_t size) {
  size_t got = 0;
  while (got < size) {
    ssize_t n = ::getrandom(out + got, size - got, 0);
    if (n > 0) got += static_cast<size_t>(n);
  }
}

}  // namespace

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string NewUid() {
  unsigned char b[16];
  RandomBytes(b, sizeof(b));
  b[6] = static_cast<unsigned char>((b[6] & 0x0f) | 0x40);
  b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80);
  constexpr std::string_view kHex = "0123456789abcdef";
  std::string out;
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
    out += kHex[b[i] >> 4];
    out += kHex[b[i] & 0xf];
  }
  return out;
}

std::string RandomSuffix(size_t length) {
  constexpr std::string_view kSafeAlphabet = "bcdfghjklmnpqrstvwxz2456789";
  unsigned char bytes[16];
  RandomBytes(bytes, sizeof(bytes));
  std::string out;
  for (size_t i = 0; i < length && i < sizeof(bytes); ++i) {
    out += kSafeAlphabet[bytes[i] % kSafeAlphabet.size()];
  }
  return out;
}

}  // namespace peapod::agent::controller
