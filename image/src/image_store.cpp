#include "peapod/image/image_store.h"

#include <dirent.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "files.h"
#include "peapod/atomic_file.h"
#include "peapod/image/digest.h"
#include "peapod/image/reference.h"
#include "peapod/json_field.h"

namespace peapod::image {
namespace {

using nlohmann::json;

void Erase(std::vector<std::string>& v, const std::string& s) {
  v.erase(std::remove(v.begin(), v.end(), s), v.end());
}
void AddUnique(std::vector<std::string>& v, const std::string& s) {
  if (std::find(v.begin(), v.end(), s) == v.end()) v.push_back(s);
}
bool Contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

}  // namespace

std::string ImageRecordToJson(const ImageRecord& r) {
  json layers = json::array();
  for (const auto& l : r.layers) {
    layers.push_back({{"digest", l.digest},
                      {"mediaType", l.media_type},
                      {"size", l.size},
                      {"diffID", l.diff_id},
                      {"chainID", l.chain_id},
                      {"unpackedSize", l.unpacked_bytes},
                      {"unpackedEntries", l.unpacked_entries}});
  }
  json j = {{"id", r.id},           {"manifestDigest", r.manifest_digest},
            {"repoTags", r.repo_tags}, {"repoDigests", r.repo_digests},
            {"layers", layers},     {"size", r.size},
            {"created", r.created}};
  return j.dump(2);
}

Result<ImageRecord> ImageRecordFromJson(std::string_view text) {
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return Fail(ErrorCode::kInvalidArgument, "image record is not a JSON object");
  ImageRecord r;
  JsonFields f(j, "image record");
  r.id = f.Get<std::string>("id", "");
  r.manifest_digest = f.Get<std::string>("manifestDigest", "");
  r.repo_tags = f.Get<std::vector<std::string>>("repoTags", {});
  r.repo_digests = f.Get<std::vector<std::string>>("repoDigests", {});
  r.size = f.Get<uint64_t>("size", 0);
  r.created = f.Get<std::string>("created", "");
  json layers = f.Get<json>("layers", json::array());
  if (auto st = f.Status(); !st) return std::unexpected(st.error());
  if (!layers.is_array())
    return Fail(ErrorCode::kInvalidArgument, "image record: layers: not an array");
  for (const auto& l : layers) {
    JsonFields lf(l, "image record: layer");
    r.layers.push_back({lf.Get<std::string>("digest", ""), lf.Get<std::string>("mediaType", ""),
                        lf.Get<int64_t>("size", 0), lf.Get<std::string>("diffID", ""),
                        lf.Get<std::string>("chainID", ""), lf.Get<uint64_t>("unpackedSize", 0),
                        lf.Get<uint64_t>("unpackedEntries", 0)});
    if (auto st = lf.Status(); !st) return std::unexpected(st.error());
  }
  if (!IsValidDigest(r.id)) return Fail(ErrorCode::kInvalidArgument, "image record without id");
  return r;
}

Result<std::unique_ptr<ImageStore>> ImageStore::Open(const std::string& root) {
  std::string dir = root + "/images";
  if (auto st = files::MakeDirs(dir); !st) return std::unexpected(st.error());
  std::unique_ptr<ImageStore> store(new ImageStore(dir));
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return FailErrno("read " + dir);
  std::vector<std::string> names;
  while (dirent* e = ::readdir(d)) names.emplace_back(e->d_name);
  ::closedir(d);
  for (const auto& name : names) {
    if (name.find(".tmp-") != std::string::npos) {
      ::unlink((dir + "/" + name).c_str());  // interrupted write
      continue;
    }
    if (!name.ends_with(".json")) continue;
    auto text = ReadWholeFile(dir + "/" + name);
    if (!text) return std::unexpected(text.error());
    auto rec = ImageRecordFromJson(*text);
    if (!rec) {
      // It would fail at every start: moved aside for a human, the other images still load.
      auto moved = QuarantineFile(dir + "/" + name);
      if (!moved) return std::unexpected(std::move(moved.error()).Context("image record " + name));
      spdlog::error("image record {} cannot be used, quarantined as {}: {}", name, *moved,
                    rec.error().ToString());
      continue;
    }
    store->images_[rec->id] = std::move(*rec);
  }
  return store;
}

std::string ImageStore::PathOf(std::string_view id) const {
  return dir_ + "/" + std::string(DigestHex(id)) + ".json";
}

Status ImageStore::WriteLocked(const ImageRecord& record) {
  return WriteFileAtomically(PathOf(record.id), ImageRecordToJson(record));
}

Result<ImageRecord> ImageStore::Put(const ImageRecord& record) {
  if (auto st = CheckDigest(record.id); !st) return std::unexpected(st.error());
  std::lock_guard lock(mutex_);
  ImageRecord merged = record;
  if (auto it = images_.find(record.id); it != images_.end()) {
    merged = it->second;
    for (const auto& t : record.repo_tags) AddUnique(merged.repo_tags, t);
    for (const auto& d : record.repo_digests) AddUnique(merged.repo_digests, d);
    if (merged.layers.empty()) merged.layers = record.layers;
    if (merged.manifest_digest.empty()) merged.manifest_digest = record.manifest_digest;
  }
  // The new record is written first: a crash in between leaves a tag on two images, which
  // Find resolves to the newest write, never a tag on none.
  if (auto st = WriteLocked(merged); !st) return std::unexpected(st.error());
  for (auto& [id, other] : images_) {
    if (id == merged.id) continue;
    bool changed = false;
    for (const auto& t : merged.repo_tags) {
      if (Contains(other.repo_tags, t)) {
        Erase(other.repo_tags, t);
        changed = true;
      }
    }
    if (changed) {
      if (auto st = WriteLocked(other); !st) return std::unexpected(st.error());
    }
  }
  images_[merged.id] = merged;
  return merged;
}

std::optional<ImageRecord> ImageStore::Get(std::string_view id) const {
  std::lock_guard lock(mutex_);
  auto it = images_.find(std::string(id));
  if (it == images_.end()) return std::nullopt;
  return it->second;
}

std::vector<ImageRecord> ImageStore::List() const {
  std::lock_guard lock(mutex_);
  std::vector<ImageRecord> out;
  for (const auto& [id, r] : images_) out.push_back(r);
  return out;
}

Result<ImageRecord> ImageStore::Find(std::string_view ref) const {
  std::lock_guard lock(mutex_);
  std::string text(ref);
  if (IsValidDigest(text)) {
    if (auto it = images_.find(text); it != images_.end()) return it->second;
  }
  if (text.size() == 64) {
    if (auto it = images_.find("sha256:" + text); it != images_.end()) return it->second;
  }
  if (auto parsed = ParseReferenceNoDefaultTag(text)) {
    Reference r = *parsed;
    if (r.tag.empty() && r.digest.empty()) r.tag = "latest";
    for (const auto& [id, img] : images_) {
      bool tag_ok = r.tag.empty() || Contains(img.repo_tags, r.RepoTag());
      bool digest_ok = r.digest.empty() || Contains(img.repo_digests, r.RepoDigest()) ||
                       (img.manifest_digest == r.digest && r.tag.empty() &&
                        std::any_of(img.repo_digests.begin(), img.repo_digests.end(),
                                    [&](const std::string& d) {
                                      return d.starts_with(r.Name() + "@");
                                    }));
      if (tag_ok && digest_ok) return img;
    }
  }
  // A short id prefix, as docker accepts ("3f57d9401f8d").
  std::string prefix = text.starts_with("sha256:") ? text.substr(7) : text;
  if (prefix.size() >= 4 && prefix.find_first_not_of("0123456789abcdef") == std::string::npos) {
    const ImageRecord* found = nullptr;
    for (const auto& [id, img] : images_) {
      if (DigestHex(id).starts_with(prefix)) {
        if (found != nullptr)
          return Fail(ErrorCode::kInvalidArgument, "image id prefix \"" + prefix + "\" is ambiguous");
        found = &img;
      }
    }
    if (found != nullptr) return *found;
  }
  return Fail(ErrorCode::kNotFound, "image \"" + text + "\" not found");
}

Status ImageStore::Untag(const std::string& repo_tag) {
  std::lock_guard lock(mutex_);
  for (auto& [id, img] : images_) {
    if (!Contains(img.repo_tags, repo_tag)) continue;
    ImageRecord updated = img;
    Erase(updated.repo_tags, repo_tag);
    if (auto st = WriteLocked(updated); !st) return st;
    img = std::move(updated);
    return Ok();
  }
  return Fail(ErrorCode::kNotFound, "no image is tagged " + repo_tag);
}

Status ImageStore::Delete(std::string_view id) {
  std::lock_guard lock(mutex_);
  auto it = images_.find(std::string(id));
  if (it == images_.end()) return Fail(ErrorCode::kNotFound, "image " + std::string(id) + " not found");
  if (::unlink(PathOf(id).c_str()) != 0 && errno != ENOENT)
    return FailErrno("remove image record " + std::string(id));
  if (auto st = FsyncDirectory(dir_); !st) return st;
  images_.erase(it);
  return Ok();
}

}  // namespace peapod::image
