#include "peapod/image/image_service.h"

#include <dirent.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <set>
#include <thread>

#include "files.h"
#include "peapod/atomic_file.h"
#include "peapod/catch_boundary.h"
#include "peapod/image/archive_loader.h"
#include "peapod/image/reference.h"

namespace peapod::image {
namespace {

constexpr size_t kLinkNameLength = 16;  // 64 bits of the chain id; 17 bytes per lowerdir entry
constexpr char kContainerImageFile[] = "image";

std::vector<std::string> ListDir(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return out;
  while (dirent* e = ::readdir(d)) {
    std::string_view n = e->d_name;
    if (n != "." && n != "..") out.emplace_back(n);
  }
  ::closedir(d);
  return out;
}

bool IsHex64(const std::string& s) {
  return s.size() == 64 && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

}  // namespace

Result<std::unique_ptr<ImageService>> ImageService::Open(ImageServiceOptions options) {
  if (options.root.empty() || options.root.front() != '/')
    return Fail(ErrorCode::kInvalidArgument, "image state root must be an absolute path");
  while (options.root.size() > 1 && options.root.ends_with('/')) options.root.pop_back();
  std::unique_ptr<ImageService> s(new ImageService(std::move(options)));
  const std::string& root = s->options_.root;
  for (const std::string& dir : {root + "/layers/l", root + "/containers"}) {
    if (auto st = files::MakeDirs(dir); !st) return std::unexpected(st.error());
  }
  auto content = ContentStore::Open(root);
  if (!content) return std::unexpected(content.error());
  s->content_ = std::move(*content);
  auto store = ImageStore::Open(root);
  if (!store) return std::unexpected(store.error());
  s->store_ = std::move(*store);
  s->registry_ = std::make_unique<RegistryClient>(s->options_.registries, s->content_.get());
  // Unpacks interrupted by a crash.
  for (const auto& name : ListDir(root + "/layers")) {
    if (name.starts_with(".tmp-")) (void)files::RemoveTree(root + "/layers/" + name);
  }
  if (auto st = s->LoadLeases(); !st) return std::unexpected(st.error());
  return s;
}

Status ImageService::LoadLeases() {
  std::string dir = options_.root + "/containers";
  for (const auto& id : ListDir(dir)) {
    auto image = ReadWholeFile(dir + "/" + id + "/" + kContainerImageFile);
    if (!image) {
      // Created dirs without a record: a creation that crashed half-way.
      spdlog::debug("image: removing half-made rootfs of container {}", id);
      if (auto st = RemoveContainerDirs(dir, id); !st) return st;
      continue;
    }
    leases_[id] = *image;
    if (auto st = LoadVolumeLeases(id); !st) return st;
  }
  return Ok();
}

std::string ImageService::LayerDir(const std::string& chain_id) const {
  return options_.root + "/layers/" + std::string(DigestHex(chain_id));
}
std::string ImageService::LinkName(const std::string& chain_id) const {
  return std::string(DigestHex(chain_id).substr(0, kLinkNameLength));
}
std::string ImageService::LinksDir() const { return options_.root + "/layers/l"; }

// One image being added. Its layers may unpack in parallel (a pull), so they share one budget;
// usage[i] is what layer i costs, filled in once per layer.
struct ImageService::ImageUnpack {
  struct LayerUsage {
    bool known = false;
    uint64_t bytes = 0;
    uint64_t entries = 0;
  };
  ImageUnpack(std::string image_name, const ImageServiceOptions& options, size_t layers)
      : name(std::move(image_name)),
        budget(options.max_image_bytes, options.max_image_entries),
        usage(layers) {}
  std::string name;  // for messages: the reference, a tag, or the id
  UnpackBudget budget;
  std::vector<LayerUsage> usage;
};

Status ImageService::EnsureLayer(const std::string& chain_id, const std::string& blob_digest,
                                 const std::string& diff_id, ImageUnpack& image, size_t index) {
  std::string dir = LayerDir(chain_id);
  struct stat st {};
  if (image.usage[index].known) {
    // Charged already, earlier in this operation.
  } else if (::lstat(dir.c_str(), &st) != 0) {
    UnpackOptions opts = options_.unpack;
    opts.expected_diff_id = diff_id;
    opts.budget = &image.budget;
    opts.min_free_bytes = options_.min_free_bytes;
    auto stats = UnpackLayer(content_->PathOf(blob_digest), dir, opts);
    if (!stats) {
      return Fail(stats.error().code, "image \"" + image.name + "\": layer " + blob_digest + ": " +
                                          stats.error().message);
    }
    image.usage[index] = {true, stats->content_bytes, stats->entries};
    spdlog::debug("image: unpacked layer {} ({} entries, {} bytes)", chain_id, stats->entries,
                  stats->content_bytes);
  } else if (auto s = ChargeUnpackedLayer(chain_id, blob_digest, image, index); !s) {
    return s;
  }
  std::string link = LinksDir() + "/" + LinkName(chain_id);
  std::string target = "../" + std::string(DigestHex(chain_id));
  if (::symlink(target.c_str(), link.c_str()) != 0 && errno != EEXIST)
    return FailErrno("link layer " + link);
  return Ok();
}

// A layer unpacked before, for another image, costs this image what it cost that one: an
// image's limits do not depend on what happens to be on the node already.
Status ImageService::ChargeUnpackedLayer(const std::string& chain_id,
                                         const std::string& blob_digest, ImageUnpack& image,
                                         size_t index) {
  ImageUnpack::LayerUsage usage{true, 0, 0};
  for (const auto& record : store_->List()) {
    for (const auto& layer : record.layers) {
      if (layer.chain_id != chain_id) continue;
      usage.bytes = std::max(usage.bytes, layer.unpacked_bytes);
      usage.entries = std::max(usage.entries, layer.unpacked_entries);
    }
  }
  image.usage[index] = usage;
  std::string what = "image \"" + image.name + "\": layer " + blob_digest +
                     " (unpacked already, for another image): ";
  if (!image.budget.TakeBytes(usage.bytes)) {
    return Fail(ErrorCode::kResourceExhausted, what + "the image would unpack to more than " +
                                                   HumanBytes(image.budget.max_bytes()) +
                                                   " (limit: --max-image-size)");
  }
  if (!image.budget.TakeEntries(usage.entries)) {
    return Fail(ErrorCode::kResourceExhausted, what + "the image would unpack more than " +
                                                   std::to_string(image.budget.max_entries()) +
                                                   " entries (limit: --max-image-entries)");
  }
  return Ok();
}

Result<ImageRecord> ImageService::Prepare(const std::string& manifest_digest,
                                          const std::string& config_digest,
                                          const std::vector<Descriptor>& layers,
                                          const std::vector<std::string>& repo_tags,
                                          const std::vector<std::string>& repo_digests,
                                          ImageUnpack& image) {
  auto config_text = content_->Read(config_digest);
  if (!config_text) return std::unexpected(config_text.error());
  auto config = ParseImageConfig(*config_text);
  if (!config) return std::unexpected(config.error());
  if (config->diff_ids.size() != layers.size() || image.usage.size() != layers.size()) {
    return Fail(ErrorCode::kInvalidArgument,
                "image " + config_digest + " has " + std::to_string(layers.size()) +
                    " layers but its config lists " + std::to_string(config->diff_ids.size()) +
                    " diff ids");
  }
  std::vector<std::string> chains = ChainIds(config->diff_ids);
  ImageRecord rec;
  rec.id = config_digest;
  rec.manifest_digest = manifest_digest;
  rec.repo_tags = repo_tags;
  rec.repo_digests = repo_digests;
  rec.created = config->created;
  rec.size = config_text->size();
  for (size_t i = 0; i < layers.size(); ++i) {
    if (auto st = EnsureLayer(chains[i], layers[i].digest, config->diff_ids[i], image, i); !st)
      return std::unexpected(st.error());
    rec.layers.push_back({layers[i].digest, layers[i].media_type, layers[i].size,
                          config->diff_ids[i], chains[i], image.usage[i].bytes,
                          image.usage[i].entries});
    rec.size += static_cast<uint64_t>(std::max<int64_t>(layers[i].size, 0));
  }
  return rec;
}

void ImageService::CollectRefusedContent() {
  std::unique_lock gc(gc_mutex_);
  if (auto st = CollectGarbage(); !st) {
    spdlog::warn("image: removing what a refused image left: {}", st.error().ToString());
  }
}

Result<std::string> ImageService::Pull(std::string_view ref_text, const AuthConfig& auth,
                                       const ProgressCallback& progress) {
  bool refused = false;
  auto id = PullShared(ref_text, auth, progress, refused);
  if (!id && refused) CollectRefusedContent();
  return id;
}

Result<std::string> ImageService::PullShared(std::string_view ref_text, const AuthConfig& auth,
                                             const ProgressCallback& progress, bool& refused) {
  auto ref = ParseReference(ref_text);
  if (!ref) return std::unexpected(ref.error());
  std::shared_lock gc(gc_mutex_);
  auto session = registry_->Open(*ref, auth);
  if (!session) return std::unexpected(session.error());
  auto resolved = (*session)->ResolveManifest(options_.platform);
  if (!resolved) return std::unexpected(resolved.error());
  const ParsedManifest& m = resolved->manifest;
  if (auto st = (*session)->FetchBlob(m.config, {}); !st) return std::unexpected(st.error());
  auto config_text = content_->Read(m.config.digest);
  if (!config_text) return std::unexpected(config_text.error());
  auto config = ParseImageConfig(*config_text);
  if (!config) return std::unexpected(config.error());
  if (config->diff_ids.size() != m.layers.size())
    return Fail(ErrorCode::kInvalidArgument, "image \"" + ref->String() +
                                                 "\": manifest and config disagree on the "
                                                 "number of layers");
  std::vector<std::string> chains = ChainIds(config->diff_ids);
  ImageUnpack image(ref->String(), options_, m.layers.size());

  // Layers download and unpack in parallel; each layer dir holds only its own diff. A download
  // that fails keeps what came (a retry resumes); a layer that is refused ends the pull, and
  // everything it added goes.
  std::atomic<size_t> next{0};
  std::mutex error_mutex;
  std::optional<Error> first_error;
  auto worker = [&] {
    while (true) {
      size_t i = next.fetch_add(1);
      if (i >= m.layers.size()) return;
      {
        std::lock_guard lock(error_mutex);
        if (first_error) return;
      }
      Status st = (*session)->FetchBlob(m.layers[i], progress);
      bool unpacking = st.has_value();
      if (st) st = EnsureLayer(chains[i], m.layers[i].digest, config->diff_ids[i], image, i);
      if (!st) {
        std::lock_guard lock(error_mutex);
        if (unpacking) refused = true;
        if (!first_error) first_error = st.error();
        return;
      }
    }
  };
  size_t n = std::min<size_t>(std::max(options_.parallel_downloads, 1), m.layers.size());
  // The pull's catch boundary: an exception in one download fails the pull, never the agent.
  auto guarded = [&] {
    auto done = CatchAll("pull " + ref->String(), worker);
    if (done) return;
    std::lock_guard lock(error_mutex);
    if (!first_error) first_error = done.error();
  };
  std::vector<std::thread> threads;
  for (size_t i = 1; i < n; ++i) threads.emplace_back(guarded);
  guarded();
  for (auto& t : threads) t.join();
  if (first_error) return std::unexpected(*first_error);

  std::vector<std::string> tags;
  if (!ref->tag.empty()) tags.push_back(ref->RepoTag());
  std::string top = resolved->index_digest.empty() ? resolved->manifest_digest
                                                   : resolved->index_digest;
  refused = true;  // from here on, a failure leaves nothing worth keeping
  auto rec = Prepare(resolved->manifest_digest, m.config.digest, m.layers, tags,
                     {ref->RepoDigest(top)}, image);
  if (!rec) return std::unexpected(rec.error());
  auto stored = store_->Put(*rec);
  if (!stored) return std::unexpected(stored.error());
  spdlog::info("image: pulled {} as {}", ref->String(), rec->id);
  return rec->id;
}

Result<std::vector<std::string>> ImageService::Load(const std::string& archive_path) {
  auto ids = LoadShared(archive_path);
  if (!ids) CollectRefusedContent();
  return ids;
}

Result<std::vector<std::string>> ImageService::LoadShared(const std::string& archive_path) {
  std::shared_lock gc(gc_mutex_);
  auto images = LoadImageArchive(*content_, archive_path, options_.platform);
  if (!images) return std::unexpected(images.error());
  // Every image is unpacked before any is stored, so a refused one takes the others with it.
  std::vector<ImageRecord> records;
  for (const auto& img : *images) {
    std::string name = img.repo_tags.empty() ? img.config_digest : img.repo_tags.front();
    ImageUnpack image(name, options_, img.layers.size());
    auto rec =
        Prepare(img.manifest_digest, img.config_digest, img.layers, img.repo_tags, {}, image);
    if (!rec) return std::unexpected(rec.error());
    records.push_back(std::move(*rec));
  }
  std::vector<std::string> ids;
  for (const auto& rec : records) {
    auto stored = store_->Put(rec);
    if (!stored) return std::unexpected(stored.error());
    spdlog::info("image: loaded {} from {}", rec.id, archive_path);
    ids.push_back(rec.id);
  }
  return ids;
}

Result<std::string> ImageService::Import(const std::string& tar_path, std::string_view name) {
  auto id = ImportShared(tar_path, name);
  if (!id) CollectRefusedContent();
  return id;
}

Result<std::string> ImageService::ImportShared(const std::string& tar_path, std::string_view name) {
  auto ref = ParseReference(name);
  if (!ref) return std::unexpected(ref.error());
  std::shared_lock gc(gc_mutex_);
  auto img = ImportRootfsArchive(*content_, tar_path, *ref, options_.platform);
  if (!img) return std::unexpected(img.error());
  ImageUnpack image(ref->String(), options_, img->layers.size());
  auto rec =
      Prepare(img->manifest_digest, img->config_digest, img->layers, img->repo_tags, {}, image);
  if (!rec) return std::unexpected(rec.error());
  auto stored = store_->Put(*rec);
  if (!stored) return std::unexpected(stored.error());
  return rec->id;
}

std::vector<ImageRecord> ImageService::List() const { return store_->List(); }

Result<ImageRecord> ImageService::ImageStatus(std::string_view ref) const {
  return store_->Find(ref);
}

Result<ResolvedImage> ImageService::Resolve(std::string_view ref) const {
  auto rec = store_->Find(ref);
  if (!rec) return std::unexpected(rec.error());
  auto text = content_->Read(rec->id);
  if (!text) return std::unexpected(text.error());
  auto config = ParseImageConfig(*text);
  if (!config) return std::unexpected(config.error());
  ResolvedImage out;
  out.links_dir = LinksDir();
  for (const auto& l : rec->layers) {
    out.layer_dirs.push_back(LayerDir(l.chain_id));
    out.layer_links.push_back(LinkName(l.chain_id));
  }
  out.record = std::move(*rec);
  out.config = std::move(*config);
  return out;
}

std::vector<std::string> ImageService::ContainersUsing(const std::string& image_id) const {
  std::lock_guard lock(lease_mutex_);
  std::vector<std::string> out;
  for (const auto& [container, image] : leases_)
    if (image == image_id) out.push_back(container);
  for (const auto& [container, image] : volume_leases_) {
    if (image == image_id && std::find(out.begin(), out.end(), container) == out.end())
      out.push_back(container);
  }
  return out;
}

Status ImageService::Remove(std::string_view ref_text) {
  std::unique_lock gc(gc_mutex_);
  auto rec = store_->Find(ref_text);
  if (!rec) return std::unexpected(rec.error());
  // "name:tag" of an image with other names only drops that name, as docker rmi does.
  auto ref = ParseReferenceNoDefaultTag(ref_text);
  if (ref && ref->digest.empty()) {
    if (ref->tag.empty()) ref->tag = "latest";
    bool named = std::find(rec->repo_tags.begin(), rec->repo_tags.end(), ref->RepoTag()) !=
                 rec->repo_tags.end();
    if (named && rec->repo_tags.size() > 1) return store_->Untag(ref->RepoTag());
  }
  std::vector<std::string> users = ContainersUsing(rec->id);
  if (!users.empty()) {
    std::string list;
    for (const auto& u : users) list += (list.empty() ? "" : ", ") + u;
    return Fail(ErrorCode::kFailedPrecondition, "image \"" + std::string(ref_text) + "\" (" +
                                                    rec->id + ") is in use by container(s) " +
                                                    list + "; remove them first");
  }
  if (auto st = store_->Delete(rec->id); !st) return st;
  spdlog::info("image: removed {}", rec->id);
  return CollectGarbage();
}

Status ImageService::CollectGarbage(uint64_t* freed) {
  std::set<std::string> blobs, chains;
  for (const auto& img : store_->List()) {
    blobs.insert(img.id);
    blobs.insert(img.manifest_digest);
    for (const auto& l : img.layers) {
      blobs.insert(l.digest);
      chains.insert(std::string(DigestHex(l.chain_id)));
    }
  }
  uint64_t bytes = 0;
  for (const auto& digest : content_->List()) {
    if (!blobs.contains(digest)) {
      bytes += files::DiskUsage(content_->PathOf(digest));
      if (auto st = content_->Remove(digest); !st) return st;
    }
  }
  std::string links = LinksDir();
  for (const auto& name : ListDir(links)) {
    char target[256];
    ssize_t n = ::readlink((links + "/" + name).c_str(), target, sizeof target - 1);
    std::string hex = n > 3 ? std::string(target + 3, static_cast<size_t>(n - 3)) : "";
    if (!chains.contains(hex)) ::unlink((links + "/" + name).c_str());
  }
  for (const auto& name : ListDir(options_.root + "/layers")) {
    if (IsHex64(name) && !chains.contains(name)) {
      bytes += files::DiskUsage(options_.root + "/layers/" + name);
      if (auto st = files::RemoveTree(options_.root + "/layers/" + name); !st) return st;
    }
  }
  if (freed != nullptr) *freed += bytes;
  return Ok();
}

Result<ImageFsUsage> ImageService::FsInfo() const {
  std::shared_lock gc(gc_mutex_);
  ImageFsUsage u;
  u.mountpoint = options_.root;
  for (const char* sub : {"/blobs", "/images", "/layers"}) {
    std::error_code ec;
    std::filesystem::recursive_directory_iterator it(options_.root + sub, ec), end;
    for (; !ec && it != end; it.increment(ec)) {
      struct stat st {};
      if (::lstat(it->path().c_str(), &st) != 0) continue;
      u.used_bytes += static_cast<uint64_t>(st.st_blocks) * 512;
      ++u.inodes_used;
    }
  }
  return u;
}

Result<ContainerRootfs> ImageService::RootfsFor(const std::string& container_id,
                                                const ImageRecord& rec) const {
  ContainerRootfs out;
  out.container_id = container_id;
  out.image_id = rec.id;
  out.dirs = ContainerDirsOf(options_.root + "/containers", container_id);
  std::vector<std::string> names;
  for (const auto& l : rec.layers) names.push_back(LinkName(l.chain_id));
  auto plan = BuildOverlayPlan(LinksDir(), names, out.dirs.upper, out.dirs.work);
  if (!plan) return std::unexpected(plan.error());
  out.plan = std::move(*plan);
  return out;
}

Result<ContainerRootfs> ImageService::CreateContainerRootfs(const std::string& container_id,
                                                            std::string_view image_ref) {
  std::shared_lock gc(gc_mutex_);
  auto rec = store_->Find(image_ref);
  if (!rec) return std::unexpected(rec.error());
  auto rootfs = RootfsFor(container_id, *rec);  // validates before anything is created
  if (!rootfs) return std::unexpected(rootfs.error());
  std::lock_guard lock(lease_mutex_);
  if (leases_.contains(container_id))
    return Fail(ErrorCode::kAlreadyExists, "container " + container_id + " already has a rootfs");
  auto dirs = CreateContainerDirs(options_.root + "/containers", container_id);
  if (!dirs) return std::unexpected(dirs.error());
  // Crash-safe is enough: a container does not outlive a reboot (its record is on /run), and
  // the agent's start-up sweep removes container dirs without a record.
  if (auto st = WriteFileAtomically(dirs->dir + "/" + kContainerImageFile, rec->id, 0644,
                                    Durability::kProcessCrash);
      !st) {
    (void)RemoveContainerDirs(options_.root + "/containers", container_id);
    return std::unexpected(st.error());
  }
  leases_[container_id] = rec->id;
  return rootfs;
}

Result<ContainerRootfs> ImageService::ContainerRootfsOf(const std::string& container_id) const {
  std::string image_id;
  {
    std::lock_guard lock(lease_mutex_);
    auto it = leases_.find(container_id);
    if (it == leases_.end())
      return Fail(ErrorCode::kNotFound, "container " + container_id + " has no rootfs");
    image_id = it->second;
  }
  auto rec = store_->Get(image_id);
  if (!rec) return Fail(ErrorCode::kInternal, "image " + image_id + " of container " +
                                                  container_id + " is missing");
  return RootfsFor(container_id, *rec);
}

Status ImageService::RemoveContainerRootfs(const std::string& container_id) {
  std::lock_guard lock(lease_mutex_);
  if (auto st = UnmountImageVolumes(options_.root + "/containers", container_id); !st) return st;
  if (auto st = RemoveContainerDirs(options_.root + "/containers", container_id); !st) return st;
  leases_.erase(container_id);
  volume_leases_.erase(container_id);
  return Ok();
}

}  // namespace peapod::image
