// The ADD cache: one JSON file per sandbox+network+ifname holding the exact config the
// plugins were given and what they returned, so DEL can undo it later with the same inputs.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "peapod/error.h"

namespace peapod::cni {

struct CacheEntry {
  std::string container_id;
  std::string ifname;
  std::string network_name;
  std::string netns;
  std::string cni_args;
  nlohmann::json config;                 // the network config list, as a .conflist object
  nlohmann::json capability_args;        // the runtimeConfig values the pod was given
  std::optional<nlohmann::json> result;  // absent while ADD is in flight or after it failed
};

class ResultCache {
 public:
  explicit ResultCache(std::string dir) : dir_(std::move(dir)) {}

  // Writes atomically: temp file, fsync, rename, fsync of the directory.
  Status Write(const CacheEntry& entry) const;
  // Every entry for this sandbox and interface (normally one, one per network).
  Result<std::vector<CacheEntry>> Find(const std::string& container_id,
                                       const std::string& ifname) const;
  Status Remove(const CacheEntry& entry) const;
  std::string PathFor(const CacheEntry& entry) const;

 private:
  std::string dir_;
};

nlohmann::json CacheEntryToJson(const CacheEntry& entry);
Result<CacheEntry> CacheEntryFromJson(const std::string& text);

}  // namespace peapod::cni
