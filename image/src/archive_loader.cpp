#include "peapod/image/archive_loader.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <unistd.h>

#include <ctime>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>

#include "archive_text.h"
#include "peapod/image/layer_unpacker.h"
#include "peapod/json_field.h"
#include "peapod/unique_fd.h"

namespace peapod::image {
namespace {

using nlohmann::json;

constexpr size_t kSmallFile = 1 << 20;  // JSON documents are read back from memory
constexpr int kMaxLinkHops = 16;

struct ArchiveDeleter {
  void operator()(archive* a) const { archive_read_free(a); }
};
using ArchivePtr = std::unique_ptr<archive, ArchiveDeleter>;

std::string Join(const std::vector<std::string>& parts) {
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : "/") + p;
  return out;
}

std::string DirOf(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? std::string() : path.substr(0, slash);
}

// The archive's files, hashed into pending blob writers, plus its links.
struct Staged {
  std::map<std::string, BlobWriter> files;
  std::map<std::string, std::string> digests;
  std::map<std::string, std::string> small;  // content of small files
  std::map<std::string, std::string> links;  // name -> archive path it resolves to
  std::map<std::string, std::string> committed;  // name -> digest once committed

  std::optional<std::string> Resolve(std::string name) const {
    for (int i = 0; i < kMaxLinkHops; ++i) {
      auto it = links.find(name);
      if (it == links.end()) return files.count(name) || committed.count(name)
                                        ? std::optional<std::string>(name)
                                        : std::nullopt;
      name = it->second;
    }
    return std::nullopt;
  }
  Result<std::string> Text(const std::string& name) const {
    auto real = Resolve(name);
    if (real) {
      if (auto it = small.find(*real); it != small.end()) return it->second;
    }
    return Fail(ErrorCode::kInvalidArgument, "archive has no readable " + name);
  }
  // Moves the file into the store (verifying `expected` when given); returns its digest.
  Result<std::string> Commit(const std::string& name, const std::string& expected = {}) {
    auto real = Resolve(name);
    if (!real) return Fail(ErrorCode::kInvalidArgument, "archive has no file " + name);
    if (auto it = committed.find(*real); it != committed.end()) {
      if (!expected.empty() && it->second != expected)
        return Fail(ErrorCode::kInvalidArgument, name + ": digest mismatch: expected " + expected +
                                                     ", content has " + it->second);
      return it->second;
    }
    auto node = files.extract(*real);
    std::string digest = digests[*real];
    if (!expected.empty()) {
      if (auto st = node.mapped().Commit(expected); !st)
        return Fail(st.error().code, name + ": " + st.error().message);
    } else if (auto st = node.mapped().Commit(digest); !st) {
      return std::unexpected(st.error());
    }
    committed[*real] = digest;
    return digest;
  }
};

Result<Staged> Stage(ContentStore& store, const std::string& path) {
  ArchivePtr a(archive_read_new());
  archive_read_support_filter_all(a.get());
  archive_read_support_format_tar(a.get());
  if (archive_read_open_filename(a.get(), path.c_str(), 1 << 17) != ARCHIVE_OK)
    return Fail(ErrorCode::kInvalidArgument,
                "open image archive " + path + ": " + ArchiveErrorText(a.get()));
  Staged s;
  archive_entry* e = nullptr;
  std::string buf(1 << 17, '\0');
  while (true) {
    int r = archive_read_next_header(a.get(), &e);
    if (r == ARCHIVE_EOF) break;
    if (r < ARCHIVE_WARN)
      return Fail(ErrorCode::kInvalidArgument,
                  "read image archive " + path + ": " + ArchiveErrorText(a.get()));
    const char* raw = archive_entry_pathname(e);
    auto parts = ConfinedEntryPath(raw ? raw : "");
    if (!parts) return Fail(ErrorCode::kInvalidArgument, "image archive entry \"" +
                                                             std::string(raw ? raw : "") +
                                                             "\": " + parts.error().message);
    std::string name = Join(*parts);
    if (const char* hl = archive_entry_hardlink(e)) {
      auto t = ConfinedEntryPath(hl);
      if (t) s.links[name] = Join(*t);
      continue;
    }
    if (archive_entry_filetype(e) == AE_IFLNK) {
      std::string target = archive_entry_symlink(e) ? archive_entry_symlink(e) : "";
      auto t = ConfinedEntryPath(target.starts_with('/') ? target.substr(1)
                                                         : DirOf(name) + "/" + target);
      if (t) s.links[name] = Join(*t);
      continue;
    }
    if (archive_entry_filetype(e) != AE_IFREG) continue;
    auto w = store.Writer();
    if (!w) return std::unexpected(w.error());
    std::string small;
    bool keep = true;
    while (true) {
      la_ssize_t n = archive_read_data(a.get(), buf.data(), buf.size());
      if (n < 0)
        return Fail(ErrorCode::kInvalidArgument,
                    "read " + name + " from " + path + ": " + ArchiveErrorText(a.get()));
      if (n == 0) break;
      if (auto st = w->Write(buf.data(), static_cast<size_t>(n)); !st)
        return std::unexpected(st.error());
      if (keep && small.size() + static_cast<size_t>(n) <= kSmallFile) {
        small.append(buf.data(), static_cast<size_t>(n));
      } else {
        keep = false;
        small.clear();
      }
    }
    auto digest = w->Digest();
    if (!digest) return std::unexpected(digest.error());
    s.digests[name] = *digest;
    if (keep) s.small[name] = std::move(small);
    s.files.erase(name);
    s.files.emplace(name, std::move(*w));
  }
  return s;
}

std::string ManifestJson(const std::string& config_digest, int64_t config_size,
                         const std::vector<Descriptor>& layers) {
  json m = {{"schemaVersion", 2},
            {"mediaType", media::kOciManifest},
            {"config",
             {{"mediaType", media::kOciConfig},
              {"digest", config_digest},
              {"size", config_size}}},
            {"layers", json::array()}};
  for (const auto& l : layers)
    m["layers"].push_back({{"mediaType", l.media_type}, {"digest", l.digest}, {"size", l.size}});
  return m.dump();
}

Result<Descriptor> LayerDescriptor(ContentStore& store, const std::string& digest) {
  Descriptor d;
  d.digest = digest;
  auto type = DetectLayerMediaType(store.PathOf(digest));
  if (!type) return std::unexpected(type.error());
  d.media_type = *type;
  auto size = store.SizeOf(digest);
  if (!size) return std::unexpected(size.error());
  d.size = static_cast<int64_t>(*size);
  return d;
}

std::vector<std::string> NormalizeTags(const std::vector<std::string>& tags) {
  std::vector<std::string> out;
  for (const auto& t : tags) {
    auto ref = ParseReference(t);
    if (ref && !ref->tag.empty()) out.push_back(ref->RepoTag());
  }
  return out;
}

Result<std::vector<LoadedImage>> LoadDockerSave(ContentStore& store, Staged& s) {
  auto text = s.Text("manifest.json");
  if (!text) return std::unexpected(text.error());
  json m = json::parse(*text, nullptr, false);
  if (m.is_discarded() || !m.is_array())
    return Fail(ErrorCode::kInvalidArgument, "docker save manifest.json is not a JSON array");
  std::vector<LoadedImage> out;
  for (const auto& entry : m) {
    LoadedImage img;
    auto config = RequiredJsonField<std::string>(entry, "Config");
    if (!config) {
      return std::unexpected(std::move(config.error()).Context("docker save manifest.json"));
    }
    auto cfg = s.Commit(*config);
    if (!cfg) return std::unexpected(cfg.error());
    img.config_digest = *cfg;
    if (auto it = entry.find("RepoTags"); it != entry.end() && it->is_array()) {
      std::vector<std::string> tags;
      for (const auto& t : *it)
        if (t.is_string()) tags.push_back(t.get<std::string>());
      img.repo_tags = NormalizeTags(tags);
    }
    if (auto it = entry.find("Layers"); it != entry.end() && it->is_array()) {
      for (const auto& l : *it) {
        if (!l.is_string()) return Fail(ErrorCode::kInvalidArgument, "bad Layers entry");
        auto digest = s.Commit(l.get<std::string>());
        if (!digest) return std::unexpected(digest.error());
        auto d = LayerDescriptor(store, *digest);
        if (!d) return std::unexpected(d.error());
        img.layers.push_back(std::move(*d));
      }
    }
    auto size = store.SizeOf(img.config_digest);
    auto manifest = store.Put(ManifestJson(img.config_digest, size ? int64_t(*size) : 0, img.layers));
    if (!manifest) return std::unexpected(manifest.error());
    img.manifest_digest = *manifest;
    out.push_back(std::move(img));
  }
  return out;
}

Result<std::string> CommitOciBlob(Staged& s, const std::string& digest) {
  if (auto st = CheckDigest(digest); !st) return std::unexpected(st.error());
  return s.Commit("blobs/sha256/" + std::string(DigestHex(digest)), digest);
}

Result<LoadedImage> LoadOciManifest(ContentStore& store, Staged& s, const Descriptor& desc,
                                    const Platform& platform, int depth) {
  if (depth > 4) return Fail(ErrorCode::kInvalidArgument, "index nesting too deep");
  auto digest = CommitOciBlob(s, desc.digest);
  if (!digest) return std::unexpected(digest.error());
  auto text = store.Read(*digest);
  if (!text) return std::unexpected(text.error());
  auto parsed = ParseManifest(*text, desc.media_type);
  if (!parsed) return std::unexpected(parsed.error());
  if (parsed->kind == ManifestKind::kIndex) {
    auto chosen = SelectPlatform(*parsed, platform);
    if (!chosen) return std::unexpected(chosen.error());
    return LoadOciManifest(store, s, *chosen, platform, depth + 1);
  }
  LoadedImage img;
  img.manifest_digest = *digest;
  auto cfg = CommitOciBlob(s, parsed->config.digest);
  if (!cfg) return std::unexpected(cfg.error());
  img.config_digest = *cfg;
  for (const auto& l : parsed->layers) {
    auto ld = CommitOciBlob(s, l.digest);
    if (!ld) return std::unexpected(ld.error());
    img.layers.push_back(l);
  }
  return img;
}

Result<std::vector<LoadedImage>> LoadOciLayout(ContentStore& store, Staged& s,
                                               const Platform& platform,
                                               const std::string& base_name) {
  auto text = s.Text("index.json");
  if (!text) return std::unexpected(text.error());
  auto index = ParseManifest(*text, media::kOciIndex);
  if (!index || index->kind != ManifestKind::kIndex)
    return Fail(ErrorCode::kInvalidArgument, "OCI layout index.json is not an image index");
  std::vector<LoadedImage> out;
  for (const auto& desc : index->manifests) {
    // Entries for other platforms of a flat multi-platform layout are skipped.
    if (desc.has_platform && !SelectPlatform(ParsedManifest{ManifestKind::kIndex, {}, {desc}},
                                             platform))
      continue;
    auto img = LoadOciManifest(store, s, desc, platform, 0);
    if (!img) return std::unexpected(img.error());
    std::string name;
    if (auto it = desc.annotations.find("io.containerd.image.name"); it != desc.annotations.end())
      name = it->second;
    else if (auto ref = desc.annotations.find("org.opencontainers.image.ref.name");
             ref != desc.annotations.end()) {
      name = ref->second;
      // A bare tag ("1.36") names a tag of `base_name`.
      if (name.find_first_of("/:@") == std::string::npos)
        name = base_name.empty() ? std::string() : base_name + ":" + name;
    }
    if (!name.empty()) img->repo_tags = NormalizeTags({name});
    out.push_back(std::move(*img));
  }
  return out;
}

}  // namespace

Result<std::vector<LoadedImage>> LoadImageArchive(ContentStore& store,
                                                  const std::string& archive_path,
                                                  const Platform& platform,
                                                  const std::string& base_name) {
  auto staged = Stage(store, archive_path);
  if (!staged) return std::unexpected(staged.error());
  Result<std::vector<LoadedImage>> images;
  if (staged->Resolve("manifest.json")) {
    images = LoadDockerSave(store, *staged);
  } else if (staged->Resolve("index.json")) {
    images = LoadOciLayout(store, *staged, platform, base_name);
  } else {
    return Fail(ErrorCode::kInvalidArgument,
                archive_path + " is neither a docker save archive (manifest.json) nor an OCI "
                               "image layout (index.json)");
  }
  if (images && images->empty())
    return Fail(ErrorCode::kInvalidArgument, archive_path + " contains no image");
  return images;
}

Result<std::string> DetectLayerMediaType(const std::string& blob_path) {
  UniqueFd fd(::open(blob_path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return FailErrno("open " + blob_path);
  unsigned char magic[4] = {};
  ssize_t n = ::read(fd.Get(), magic, sizeof magic);
  if (n < 0) return FailErrno("read " + blob_path);
  if (n >= 2 && magic[0] == 0x1f && magic[1] == 0x8b) return std::string(media::kOciLayerGzip);
  if (n >= 4 && magic[0] == 0x28 && magic[1] == 0xb5 && magic[2] == 0x2f && magic[3] == 0xfd)
    return std::string(media::kOciLayerZstd);
  return std::string(media::kOciLayer);
}

Result<std::string> ComputeDiffId(const std::string& blob_path) {
  ArchivePtr a(archive_read_new());
  archive_read_support_filter_all(a.get());
  archive_read_support_format_raw(a.get());
  archive_entry* e = nullptr;
  if (archive_read_open_filename(a.get(), blob_path.c_str(), 1 << 17) != ARCHIVE_OK ||
      archive_read_next_header(a.get(), &e) != ARCHIVE_OK)
    return Fail(ErrorCode::kInvalidArgument,
                "read " + blob_path + ": " + ArchiveErrorText(a.get()));
  Sha256 h;
  std::string buf(1 << 17, '\0');
  while (true) {
    la_ssize_t n = archive_read_data(a.get(), buf.data(), buf.size());
    if (n < 0)
      return Fail(ErrorCode::kInvalidArgument,
                  "decompress " + blob_path + ": " + ArchiveErrorText(a.get()));
    if (n == 0) break;
    h.Update(buf.data(), static_cast<size_t>(n));
  }
  return h.Final();
}

Result<LoadedImage> ImportRootfsArchive(ContentStore& store, const std::string& tar_path,
                                        const Reference& name, const Platform& platform) {
  auto w = store.Writer();
  if (!w) return std::unexpected(w.error());
  {
    UniqueFd fd(::open(tar_path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) return FailErrno("open root filesystem archive " + tar_path);
    std::string buf(1 << 17, '\0');
    while (true) {
      ssize_t n = ::read(fd.Get(), buf.data(), buf.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return FailErrno("read " + tar_path);
      if (n == 0) break;
      if (auto st = w->Write(buf.data(), static_cast<size_t>(n)); !st)
        return std::unexpected(st.error());
    }
  }
  auto layer_digest = w->CommitAsIs();
  if (!layer_digest) return std::unexpected(layer_digest.error());
  auto diff_id = ComputeDiffId(store.PathOf(*layer_digest));
  if (!diff_id) return std::unexpected(diff_id.error());
  auto layer = LayerDescriptor(store, *layer_digest);
  if (!layer) return std::unexpected(layer.error());

  char created_buf[32];
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&now, &tm);
  std::strftime(created_buf, sizeof created_buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  std::string created = created_buf;
  json config = {{"created", created},
                 {"architecture", platform.architecture},
                 {"os", platform.os},
                 {"config", json::object()},
                 {"rootfs", {{"type", "layers"}, {"diff_ids", {*diff_id}}}},
                 {"history", {{{"created", created}, {"created_by", "peapod import"}}}}};
  if (!platform.variant.empty()) config["variant"] = platform.variant;
  std::string config_text = config.dump();
  auto config_digest = store.Put(config_text);
  if (!config_digest) return std::unexpected(config_digest.error());

  LoadedImage img;
  img.config_digest = *config_digest;
  img.layers.push_back(*layer);
  auto manifest = store.Put(
      ManifestJson(*config_digest, static_cast<int64_t>(config_text.size()), img.layers));
  if (!manifest) return std::unexpected(manifest.error());
  img.manifest_digest = *manifest;
  if (!name.tag.empty()) img.repo_tags.push_back(name.RepoTag());
  return img;
}

}  // namespace peapod::image
