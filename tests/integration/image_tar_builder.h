// Builds tar archives entry by entry with libarchive, for image tests that need exact (and
// hostile) layer contents: absolute names, "..", symlinks, hard links, whiteouts, devices.
#pragma once

#include <archive.h>
#include <archive_entry.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace peapod::testing {

class TarBuilder {
 public:
  enum class Compression { kNone, kGzip, kZstd };

  explicit TarBuilder(const std::string& path, Compression c = Compression::kNone)
      : a_(archive_write_new()) {
    archive_write_set_format_pax_restricted(a_);
    if (c == Compression::kGzip) {
      archive_write_add_filter_gzip(a_);
      // Fast: bombs of zeros are large, and level 1 still shrinks them a thousandfold.
      archive_write_set_filter_option(a_, "gzip", "compression-level", "1");
    }
    if (c == Compression::kZstd) archive_write_add_filter_zstd(a_);
    if (archive_write_open_filename(a_, path.c_str()) != ARCHIVE_OK)
      throw std::runtime_error("open " + path + ": " + archive_error_string(a_));
  }
  TarBuilder(const TarBuilder&) = delete;
  TarBuilder& operator=(const TarBuilder&) = delete;
  ~TarBuilder() { Close(); }

  TarBuilder& File(const std::string& name, const std::string& content, int mode = 0644,
                   int uid = 0, int gid = 0) {
    archive_entry* e = New(name, AE_IFREG, mode);
    archive_entry_set_size(e, static_cast<la_int64_t>(content.size()));
    archive_entry_set_uid(e, uid);
    archive_entry_set_gid(e, gid);
    Header(e);
    if (!content.empty()) archive_write_data(a_, content.data(), content.size());
    archive_entry_free(e);
    return *this;
  }
  // A regular file of `size` zero bytes, written in chunks (for decompression bombs).
  TarBuilder& Zeros(const std::string& name, int64_t size) {
    archive_entry* e = New(name, AE_IFREG, 0644);
    archive_entry_set_size(e, size);
    Header(e);
    static const std::string kChunk(1 << 20, '\0');
    for (int64_t left = size; left > 0;) {
      size_t n = static_cast<size_t>(std::min<int64_t>(left, static_cast<int64_t>(kChunk.size())));
      archive_write_data(a_, kChunk.data(), n);
      left -= static_cast<int64_t>(n);
    }
    archive_entry_free(e);
    return *this;
  }
  TarBuilder& Dir(const std::string& name, int mode = 0755) {
    archive_entry* e = New(name, AE_IFDIR, mode);
    Header(e);
    archive_entry_free(e);
    return *this;
  }
  TarBuilder& Symlink(const std::string& name, const std::string& target) {
    archive_entry* e = New(name, AE_IFLNK, 0777);
    archive_entry_set_symlink(e, target.c_str());
    Header(e);
    archive_entry_free(e);
    return *this;
  }
  TarBuilder& HardLink(const std::string& name, const std::string& target) {
    archive_entry* e = New(name, AE_IFREG, 0644);
    archive_entry_set_hardlink(e, target.c_str());
    archive_entry_set_size(e, 0);
    Header(e);
    archive_entry_free(e);
    return *this;
  }
  TarBuilder& CharDevice(const std::string& name, int major, int minor) {
    archive_entry* e = New(name, AE_IFCHR, 0600);
    archive_entry_set_rdevmajor(e, major);
    archive_entry_set_rdevminor(e, minor);
    Header(e);
    archive_entry_free(e);
    return *this;
  }
  void Close() {
    if (a_ == nullptr) return;
    archive_write_close(a_);
    archive_write_free(a_);
    a_ = nullptr;
  }

 private:
  archive_entry* New(const std::string& name, unsigned type, int mode) {
    archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, name.c_str());
    archive_entry_set_filetype(e, type);
    archive_entry_set_perm(e, static_cast<mode_t>(mode));
    archive_entry_set_mtime(e, 1700000000, 0);
    return e;
  }
  void Header(archive_entry* e) {
    if (archive_write_header(a_, e) != ARCHIVE_OK)
      throw std::runtime_error(std::string("tar header: ") + archive_error_string(a_));
  }
  archive* a_;
};

}  // namespace peapod::testing
