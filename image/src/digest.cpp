#include "peapod/image/digest.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <unistd.h>

#include "peapod/image/reference.h"
#include "peapod/unique_fd.h"

namespace peapod::image {

struct Sha256::State {
  EVP_MD_CTX* ctx = nullptr;
  ~State() { EVP_MD_CTX_free(ctx); }
};

Sha256::Sha256() : state_(std::make_unique<State>()) {
  state_->ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(state_->ctx, EVP_sha256(), nullptr);
}
Sha256::~Sha256() = default;
Sha256::Sha256(Sha256&&) noexcept = default;
Sha256& Sha256::operator=(Sha256&&) noexcept = default;

void Sha256::Update(const void* data, size_t size) {
  EVP_DigestUpdate(state_->ctx, data, size);
}

std::string Sha256::Final() {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(state_->ctx, md, &len);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "sha256:";
  for (unsigned int i = 0; i < len; ++i) {
    out += kHex[md[i] >> 4];
    out += kHex[md[i] & 0xf];
  }
  EVP_DigestInit_ex(state_->ctx, EVP_sha256(), nullptr);
  return out;
}

std::string DigestOf(std::string_view data) {
  Sha256 h;
  h.Update(data);
  return h.Final();
}

Result<std::string> DigestOfFile(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return FailErrno("open " + path);
  Sha256 h;
  std::string buf(1 << 16, '\0');
  while (true) {
    ssize_t n = ::read(fd.Get(), buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return FailErrno("read " + path);
    if (n == 0) break;
    h.Update(buf.data(), static_cast<size_t>(n));
  }
  return h.Final();
}

std::string_view DigestHex(std::string_view digest) {
  size_t colon = digest.find(':');
  return colon == std::string_view::npos ? digest : digest.substr(colon + 1);
}

Status CheckDigest(std::string_view digest) {
  if (IsValidDigest(digest)) return Ok();
  return Fail(ErrorCode::kInvalidArgument,
              "invalid digest \"" + std::string(digest) + "\" (want sha256:<64 hex>)");
}

Status VerifyDigest(std::string_view data, std::string_view expected) {
  if (auto st = CheckDigest(expected); !st) return st;
  std::string actual = DigestOf(data);
  if (actual != expected) {
    return Fail(ErrorCode::kInvalidArgument, "digest mismatch: expected " +
                                                 std::string(expected) + ", content has " + actual);
  }
  return Ok();
}

}  // namespace peapod::image
