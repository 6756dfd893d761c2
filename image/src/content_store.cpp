#include "peapod/image/content_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "files.h"
#include "peapod/atomic_file.h"
#include "peapod/image/reference.h"

namespace peapod::image {

BlobWriter::BlobWriter(ContentStore* store, std::string temp_path, UniqueFd fd)
    : store_(store), temp_path_(std::move(temp_path)), fd_(std::move(fd)) {}

BlobWriter::BlobWriter(BlobWriter&& other) noexcept
    : store_(other.store_),
      temp_path_(std::move(other.temp_path_)),
      fd_(std::move(other.fd_)),
      hash_(std::move(other.hash_)),
      digest_(std::move(other.digest_)),
      written_(other.written_),
      done_(std::exchange(other.done_, true)) {}

BlobWriter::~BlobWriter() { Abort(); }

void BlobWriter::Abort() {
  if (done_) return;
  done_ = true;
  fd_.Reset();
  ::unlink(temp_path_.c_str());
}

Status BlobWriter::Write(const void* data, size_t size) {
  if (done_ || !digest_.empty())
    return Fail(ErrorCode::kFailedPrecondition, "write to a finished blob");
  hash_.Update(data, size);
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    ssize_t n = ::write(fd_.Get(), p, size);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return FailErrno("write " + temp_path_);
    p += n;
    size -= static_cast<size_t>(n);
    written_ += static_cast<uint64_t>(n);
  }
  return Ok();
}

Result<std::string> BlobWriter::Digest() {
  if (done_) return Fail(ErrorCode::kFailedPrecondition, "blob writer already finished");
  if (digest_.empty()) {
    if (::fsync(fd_.Get()) != 0) return FailErrno("fsync " + temp_path_);
    fd_.Reset();
    digest_ = hash_.Final();
  }
  return digest_;
}

Status BlobWriter::Commit(std::string_view expected) {
  if (auto st = CheckDigest(expected); !st) {
    Abort();
    return st;
  }
  auto actual = Digest();
  if (!actual) {
    Abort();
    return std::unexpected(actual.error());
  }
  if (*actual != expected) {
    Abort();
    return Fail(ErrorCode::kInvalidArgument, "digest mismatch: expected " +
                                                 std::string(expected) + ", content has " +
                                                 *actual + " (" + std::to_string(written_) +
                                                 " bytes); blob rejected");
  }
  std::string final_path = store_->PathOf(expected);
  ::chmod(temp_path_.c_str(), 0444);
  if (::rename(temp_path_.c_str(), final_path.c_str()) != 0) {
    int err = errno;
    Abort();
    return FailErrno("store blob " + std::string(expected), err);
  }
  done_ = true;
  return FsyncDirectory(store_->root_ + "/blobs/sha256");
}

Result<std::string> BlobWriter::CommitAsIs() {
  auto digest = Digest();
  if (!digest) return digest;
  std::string d = *digest;
  if (auto st = Commit(d); !st) return std::unexpected(st.error());
  return d;
}

Result<std::unique_ptr<ContentStore>> ContentStore::Open(const std::string& root) {
  for (const char* sub : {"/blobs/sha256", "/ingest"}) {
    if (auto st = files::MakeDirs(root + sub); !st) return std::unexpected(st.error());
  }
  // Leftovers of writers interrupted by a crash.
  (void)files::RemoveTree(root + "/ingest");
  if (auto st = files::MakeDirs(root + "/ingest"); !st) return std::unexpected(st.error());
  return std::unique_ptr<ContentStore>(new ContentStore(root));
}

Result<BlobWriter> ContentStore::Writer() {
  std::string path = root_ + "/ingest/" + files::UniqueSuffix();
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!fd) return FailErrno("create ingest file " + path);
  return BlobWriter(this, std::move(path), std::move(fd));
}

Result<std::string> ContentStore::Put(std::string_view data, std::string_view expected) {
  if (!expected.empty()) {
    if (auto st = VerifyDigest(data, expected); !st) return std::unexpected(st.error());
    if (Has(expected)) return std::string(expected);
  }
  auto w = Writer();
  if (!w) return std::unexpected(w.error());
  if (auto st = w->Write(data); !st) return std::unexpected(st.error());
  return w->CommitAsIs();
}

std::string ContentStore::PathOf(std::string_view digest) const {
  return root_ + "/blobs/sha256/" + std::string(DigestHex(digest));
}

bool ContentStore::Has(std::string_view digest) const {
  if (!IsValidDigest(digest)) return false;
  struct stat st;
  return ::stat(PathOf(digest).c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

Result<std::string> ContentStore::Read(std::string_view digest) const {
  if (auto st = CheckDigest(digest); !st) return std::unexpected(st.error());
  auto data = ReadWholeFile(PathOf(digest));
  if (!data) {
    return Fail(data.error().code, "read blob " + std::string(digest) + ": " +
                                       data.error().ToString());
  }
  return data;
}

Result<uint64_t> ContentStore::SizeOf(std::string_view digest) const {
  struct stat st;
  if (::stat(PathOf(digest).c_str(), &st) != 0) return FailErrno("stat blob " + std::string(digest));
  return static_cast<uint64_t>(st.st_size);
}

Status ContentStore::Remove(std::string_view digest) {
  if (auto st = CheckDigest(digest); !st) return st;
  if (::unlink(PathOf(digest).c_str()) != 0 && errno != ENOENT)
    return FailErrno("remove blob " + std::string(digest));
  return Ok();
}

std::vector<std::string> ContentStore::List() const {
  std::vector<std::string> out;
  DIR* dir = ::opendir((root_ + "/blobs/sha256").c_str());
  if (dir == nullptr) return out;
  while (dirent* e = ::readdir(dir)) {
    std::string d = std::string("sha256:") + e->d_name;
    if (IsValidDigest(d)) out.push_back(d);
  }
  ::closedir(dir);
  return out;
}

}  // namespace peapod::image
