// ContentStore: content-addressed blobs under <root>/blobs/sha256/<hex>. Content is written to a
// temp file under <root>/ingest while it is hashed, and renamed into place only when its digest
// matches, so a blob in the store is always what its name says.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "peapod/error.h"
#include "peapod/image/digest.h"
#include "peapod/unique_fd.h"

namespace peapod::image {

class ContentStore;

// One blob being written. Destroying an uncommitted writer removes its temp file.
class BlobWriter {
 public:
  BlobWriter(BlobWriter&&) noexcept;
  BlobWriter& operator=(BlobWriter&&) = delete;
  ~BlobWriter();

  Status Write(const void* data, size_t size);
  Status Write(std::string_view data) { return Write(data.data(), data.size()); }
  uint64_t written() const { return written_; }
  // Finishes hashing; returns the digest of what was written. Idempotent.
  Result<std::string> Digest();
  // Verifies the content against `expected` and moves it into the store. On mismatch the temp
  // file is removed and kInvalidArgument names both digests.
  Status Commit(std::string_view expected);
  // Commit under whatever digest the content has.
  Result<std::string> CommitAsIs();

 private:
  friend class ContentStore;
  BlobWriter(ContentStore* store, std::string temp_path, UniqueFd fd);
  void Abort();

  ContentStore* store_;
  std::string temp_path_;
  UniqueFd fd_;
  Sha256 hash_;
  std::string digest_;
  uint64_t written_ = 0;
  bool done_ = false;
};

class ContentStore {
 public:
  // Creates <root>/blobs/sha256 and <root>/ingest.
  static Result<std::unique_ptr<ContentStore>> Open(const std::string& root);

  Result<BlobWriter> Writer();
  // Stores a buffer, verifying it against `expected` (or under its own digest when empty).
  Result<std::string> Put(std::string_view data, std::string_view expected = {});
  bool Has(std::string_view digest) const;
  std::string PathOf(std::string_view digest) const;
  Result<std::string> Read(std::string_view digest) const;
  Result<uint64_t> SizeOf(std::string_view digest) const;
  Status Remove(std::string_view digest);
  // Every digest in the store.
  std::vector<std::string> List() const;

  const std::string& root() const { return root_; }

 private:
  friend class BlobWriter;
  explicit ContentStore(std::string root) : root_(std::move(root)) {}
  std::string root_;
};

}  // namespace peapod::image
