// CniClient: attaches pods to the node's CNI network and detaches them, as libcni does.
// Thread-safe: Add/Del/Check for different sandboxes may run concurrently; no lock is held
// while a plugin runs. Calls for the same sandbox must be serialised by the caller.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "peapod/cni/config.h"
#include "peapod/cni/result_cache.h"
#include "peapod/cni/types.h"
#include "peapod/error.h"

namespace peapod::cni {

class CniClient {
 public:
  static Result<std::unique_ptr<CniClient>> Create(CniOptions options);

  // Runs ADD through the chain. On failure everything added is rolled back with DEL.
  Result<AddResult> Add(const PodNetwork& pod);
  // Runs CHECK with the cached config and result (a no-op for versions before 0.4.0 and
  // for lists with disableCheck).
  peapod::Status Check(const PodNetwork& pod);
  // Runs DEL in reverse order with the cached config and result (the current config when
  // nothing is cached). Idempotent; succeeds when the netns is already gone.
  peapod::Status Del(const PodNetwork& pod);
  // The CRI NetworkReady condition; re-reads the config directory if it changed.
  NetworkStatus GetNetworkStatus();

  const CniOptions& options() const { return options_; }

 private:
  explicit CniClient(CniOptions options);
  // The current config, re-selected when the directory's contents changed.
  std::shared_ptr<const ConfigSelection> CurrentConfig();
  Result<std::string> ConfigSignature() const;

  CniOptions options_;
  ResultCache cache_;
  std::mutex mutex_;  // guards the two members below, never held across a plugin exec
  std::string signature_;
  std::shared_ptr<const ConfigSelection> selection_;
};

}  // namespace peapod::cni
