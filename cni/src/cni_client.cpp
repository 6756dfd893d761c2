#include "peapod/cni/cni_client.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <algorithm>

#include "peapod/cni/invocation.h"
#include "peapod/cni/plugin_exec.h"
#include "peapod/cni/result.h"
#include "peapod/cni/version.h"

namespace peapod::cni {

namespace {

using nlohmann::json;

constexpr size_t kMaxStderrInMessage = 2000;

std::string Trim(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  size_t start = 0;
  while (start < s.size() && std::isspace(static_cast<unsigned char>(s[start]))) ++start;
  s.erase(0, start);
  if (s.size() > kMaxStderrInMessage) s = s.substr(0, kMaxStderrInMessage) + "...";
  return s;
}

// One attachment's inputs: the config list and everything the plugins get besides it.
struct Attachment {
  NetworkConfigList list;
  std::string container_id;
  std::string netns;
  std::string ifname;
  std::string cni_args;
  json capability_args;
};

// A plugin that failed: name it and say what it said, as the spec's error object gives it.
Error PluginFailure(const std::string& type, const std::string& command, const PluginRun& run) {
  std::string prefix = "cni plugin \"" + type + "\" " + command + " failed";
  std::string stderr_text = Trim(run.stderr_data);
  if (auto err = ParsePluginError(run.stdout_data)) {
    std::string msg = prefix + " (code " + std::to_string(err->code) + "): " + err->msg;
    if (!err->details.empty()) msg += ": " + err->details;
    if (!stderr_text.empty()) msg += " (stderr: " + stderr_text + ")";
    // Code 11 is the spec's "try again later".
    return Error{err->code == 11 ? ErrorCode::kUnavailable : ErrorCode::kInternal, 0, msg};
  }
  std::string said = !stderr_text.empty() ? stderr_text : Trim(run.stdout_data);
  std::string msg = prefix + " (exit status " + std::to_string(run.exit_status) + ")";
  if (!said.empty()) msg += ": " + said;
  return Error{ErrorCode::kInternal, 0, msg};
}

class ChainRunner {
 public:
  explicit ChainRunner(const CniOptions& options) : options_(options) {}

  // Runs one plugin; returns its stdout.
  Result<std::string> Invoke(const Attachment& a, const PluginConfig& plugin,
                             const std::string& command, const std::optional<json>& prev) const {
    auto path = FindPlugin(plugin.type, options_.plugin_dirs);
    if (!path) {
      return Fail(ErrorCode::kUnavailable,
                  command + " on network \"" + a.list.name + "\": " + path.error().message);
    }
    json conf = BuildPluginStdin(a.list, plugin, a.capability_args, prev);
    auto env = BuildPluginEnv(
        {command, a.container_id, a.netns, a.ifname, a.cni_args, options_.plugin_dirs});
    spdlog::debug("cni: {} {} plugin {} network {}", command, a.container_id, plugin.type,
                  a.list.name);
    auto run = RunPlugin(*path, env, conf.dump(), options_.plugin_timeout);
    if (!run) {
      Error e = std::move(run.error());
      e.message = "cni plugin \"" + plugin.type + "\" " + command + " " + e.message;
      return std::unexpected(std::move(e));
    }
    if (run->exit_status != 0) return std::unexpected(PluginFailure(plugin.type, command, *run));
    return std::move(run->stdout_data);
  }

  // DEL through the list in reverse. prevResult only from 0.4.0 on, as libcni does.
  Status Del(const Attachment& a, const std::optional<json>& result) const {
    std::optional<json> prev = SupportsCheck(a.list.cni_version) ? result : std::nullopt;
    for (auto it = a.list.plugins.rbegin(); it != a.list.plugins.rend(); ++it) {
      auto out = Invoke(a, *it, "DEL", prev);
      if (!out) return std::unexpected(out.error());
    }
    return Ok();
  }

  // ADD through the list, chaining each result into the next plugin's prevResult. Returns
  // the final result; on failure `last` holds the last result that was returned.
  Result<json> Add(const Attachment& a, std::optional<json>& last) const {
    for (const auto& plugin : a.list.plugins) {
      auto out =
          Invoke(a, plugin, "ADD", SupportsChaining(a.list.cni_version) ? last : std::nullopt);
      if (!out) return std::unexpected(out.error());
      if (Trim(*out).empty() && last) continue;  // tolerate a chained plugin that says nothing
      json doc = json::parse(*out, nullptr, /*allow_exceptions=*/false);
      if (doc.is_discarded() || !doc.is_object()) {
        return Fail(ErrorCode::kInternal,
                    "cni plugin \"" + plugin.type +
                        "\" ADD returned a result that is not a JSON object: " + Trim(*out));
      }
      last = std::move(doc);
    }
    if (!last)
      return Fail(ErrorCode::kInternal, "network \"" + a.list.name + "\" returned no result");
    return *last;
  }

  Status Check(const Attachment& a, const json& result) const {
    for (const auto& plugin : a.list.plugins) {
      auto out = Invoke(a, plugin, "CHECK", result);
      if (!out) return std::unexpected(out.error());
    }
    return Ok();
  }

 private:
  const CniOptions& options_;
};

CacheEntry EntryFor(const Attachment& a) {
  return CacheEntry{a.container_id, a.ifname,   a.list.name,       a.netns,
                    a.cni_args,     a.list.raw, a.capability_args, std::nullopt};
}

// A netns that is already gone is passed as "", which every reference plugin accepts on DEL.
std::string NetnsForDel(const std::string& path) {
  struct stat st;
  if (path.empty() || ::stat(path.c_str(), &st) != 0) return "";
  return path;
}

Status ValidatePod(const PodNetwork& pod, bool need_netns) {
  if (pod.sandbox_id.empty()) return Fail(ErrorCode::kInvalidArgument, "sandbox id is empty");
  if (pod.ifname.empty()) return Fail(ErrorCode::kInvalidArgument, "interface name is empty");
  if (need_netns && pod.netns_path.empty()) {
    return Fail(ErrorCode::kInvalidArgument, "sandbox " + pod.sandbox_id + ": netns path is empty");
  }
  return Ok();
}

std::string NoConfigMessage(const std::string& dir, const ConfigSelection& sel) {
  std::string msg = "no valid CNI network config in " + dir;
  for (size_t i = 0; i < sel.skipped.size(); ++i) msg += (i == 0 ? ": " : "; ") + sel.skipped[i];
  return msg;
}

}  // namespace

CniClient::CniClient(CniOptions options)
    : options_(std::move(options)), cache_(options_.cache_dir) {}

Result<std::unique_ptr<CniClient>> CniClient::Create(CniOptions options) {
  if (options.cache_dir.empty()) return Fail(ErrorCode::kInvalidArgument, "CNI cache_dir is empty");
  if (options.conf_dir.empty()) return Fail(ErrorCode::kInvalidArgument, "CNI conf_dir is empty");
  if (options.plugin_timeout.count() <= 0) {
    return Fail(ErrorCode::kInvalidArgument, "CNI plugin timeout must be positive");
  }
  return std::unique_ptr<CniClient>(new CniClient(std::move(options)));
}

// What would make the selected config differ: the directory and every candidate file.
Result<std::string> CniClient::ConfigSignature() const {
  auto stamp = [](const struct stat& st) {
    return std::to_string(st.st_ino) + ":" + std::to_string(st.st_size) + ":" +
           std::to_string(st.st_mtim.tv_sec) + "." + std::to_string(st.st_mtim.tv_nsec) + ":" +
           std::to_string(st.st_ctim.tv_sec) + "." + std::to_string(st.st_ctim.tv_nsec);
  };
  struct stat st;
  if (::stat(options_.conf_dir.c_str(), &st) != 0) return "missing:" + std::to_string(errno);
  std::string sig = stamp(st);
  auto files = ListConfigFiles(options_.conf_dir);
  if (!files) return std::unexpected(files.error());
  for (const auto& f : *files) {
    sig += "|" + f + "=";
    if (::stat(f.c_str(), &st) == 0) sig += stamp(st);
  }
  return sig;
}

std::shared_ptr<const ConfigSelection> CniClient::CurrentConfig() {
  auto sig = ConfigSignature();
  std::string key = sig ? *sig : "error:" + sig.error().ToString();
  {
    std::lock_guard lock(mutex_);
    if (selection_ && key == signature_) return selection_;
  }
  // Parsing happens outside the lock; two threads racing here both produce the same answer.
  auto fresh = std::make_shared<const ConfigSelection>(SelectNetworkConfig(options_.conf_dir));
  if (fresh->network) {
    spdlog::info("cni: using network \"{}\" from {}", fresh->network->name,
                 fresh->network->source_path);
  }
  std::lock_guard lock(mutex_);
  signature_ = key;
  selection_ = fresh;
  return selection_;
}

Result<AddResult> CniClient::Add(const PodNetwork& pod) {
  if (auto st = ValidatePod(pod, true); !st) return std::unexpected(st.error());
  auto sel = CurrentConfig();
  if (!sel->network) {
    return Fail(ErrorCode::kUnavailable,
                "sandbox " + pod.sandbox_id + ": " + NoConfigMessage(options_.conf_dir, *sel));
  }
  Attachment a{*sel->network, pod.sandbox_id,    pod.netns_path,
               pod.ifname,    BuildCniArgs(pod), CapabilityArgs(pod)};
  // A missing plugin fails before anything is added.
  for (const auto& plugin : a.list.plugins) {
    if (auto path = FindPlugin(plugin.type, options_.plugin_dirs); !path) {
      return Fail(ErrorCode::kUnavailable, "sandbox " + pod.sandbox_id + ": ADD on network \"" +
                                               a.list.name + "\": " + path.error().message);
    }
  }
  // Recorded before the first plugin runs, so a crash mid-ADD still leaves DEL its config.
  CacheEntry entry = EntryFor(a);
  if (auto st = cache_.Write(entry); !st) return std::unexpected(st.error());

  ChainRunner runner(options_);
  std::optional<json> last;
  auto final_result = runner.Add(a, last);
  Result<AddResult> parsed =
      final_result ? ParseAddResult(final_result->dump()) : std::unexpected(final_result.error());
  if (parsed) {
    entry.result = *final_result;
    if (auto st = cache_.Write(entry); !st) parsed = std::unexpected(st.error());
  }
  if (!parsed) {
    Error failure = std::move(parsed.error()).Context("sandbox " + pod.sandbox_id);
    spdlog::warn("cni: ADD {} failed, rolling back: {}", pod.sandbox_id, failure.ToString());
    a.netns = NetnsForDel(a.netns);
    if (auto st = runner.Del(a, last); !st) {
      // Keep the cache entry: a later DEL retries with what was added.
      entry.result = last;
      (void)cache_.Write(entry);
      failure.message += "; rollback DEL also failed: " + st.error().ToString();
    } else {
      (void)cache_.Remove(entry);
    }
    return std::unexpected(std::move(failure));
  }
  parsed->network_name = a.list.name;
  std::string ips;
  for (const auto& ip : parsed->ips) ips += (ips.empty() ? "" : ",") + ip.address;
  spdlog::info("cni: sandbox {} attached to network \"{}\" ({})", pod.sandbox_id, a.list.name, ips);
  return parsed;
}

peapod::Status CniClient::Del(const PodNetwork& pod) {
  if (auto st = ValidatePod(pod, false); !st) return st;
  auto entries = cache_.Find(pod.sandbox_id, pod.ifname);
  if (!entries) return std::unexpected(entries.error());
  ChainRunner runner(options_);
  if (entries->empty()) {
    // Nothing cached: never added, already deleted, or added by an older agent. DEL with the
    // current config is harmless in every case.
    auto sel = CurrentConfig();
    if (!sel->network) {
      spdlog::debug("cni: DEL {}: nothing cached and no network config", pod.sandbox_id);
      return Ok();
    }
    Attachment a{*sel->network, pod.sandbox_id,    NetnsForDel(pod.netns_path),
                 pod.ifname,    BuildCniArgs(pod), CapabilityArgs(pod)};
    if (auto st = runner.Del(a, std::nullopt); !st) {
      return std::unexpected(std::move(st.error()).Context("sandbox " + pod.sandbox_id));
    }
    return Ok();
  }
  for (auto& entry : *entries) {
    auto list = ParseConfigList(entry.config.dump());
    if (!list) {
      return std::unexpected(
          std::move(list.error()).Context("sandbox " + pod.sandbox_id + ": cached network config"));
    }
    std::string netns = !pod.netns_path.empty() ? pod.netns_path : entry.netns;
    Attachment a{std::move(*list), pod.sandbox_id, NetnsForDel(netns),
                 pod.ifname,       entry.cni_args, entry.capability_args};
    if (auto st = runner.Del(a, entry.result); !st) {
      return std::unexpected(std::move(st.error()).Context("sandbox " + pod.sandbox_id));
    }
    if (auto st = cache_.Remove(entry); !st) return st;
    spdlog::info("cni: sandbox {} detached from network \"{}\"", pod.sandbox_id, a.list.name);
  }
  return Ok();
}

peapod::Status CniClient::Check(const PodNetwork& pod) {
  if (auto st = ValidatePod(pod, true); !st) return st;
  auto entries = cache_.Find(pod.sandbox_id, pod.ifname);
  if (!entries) return std::unexpected(entries.error());
  if (entries->empty()) {
    return Fail(ErrorCode::kNotFound, "sandbox " + pod.sandbox_id + ": no CNI attachment cached");
  }
  ChainRunner runner(options_);
  for (auto& entry : *entries) {
    auto list = ParseConfigList(entry.config.dump());
    if (!list) return std::unexpected(list.error());
    if (!entry.result) {
      return Fail(
          ErrorCode::kFailedPrecondition,
          "sandbox " + pod.sandbox_id + ": ADD on network \"" + list->name + "\" did not finish");
    }
    if (!SupportsCheck(list->cni_version) || list->disable_check) continue;
    Attachment a{std::move(*list), pod.sandbox_id, pod.netns_path,
                 pod.ifname,       entry.cni_args, entry.capability_args};
    if (auto st = runner.Check(a, *entry.result); !st) {
      return std::unexpected(std::move(st.error()).Context("sandbox " + pod.sandbox_id));
    }
  }
  return Ok();
}

NetworkStatus CniClient::GetNetworkStatus() {
  NetworkStatus status;
  auto sel = CurrentConfig();
  if (!sel->network) {
    status.reason = "NetworkPluginNotReady";
    status.message = "cni: " + NoConfigMessage(options_.conf_dir, *sel);
    return status;
  }
  status.network_name = sel->network->name;
  status.config_path = sel->network->source_path;
  for (const auto& plugin : sel->network->plugins) {
    if (auto path = FindPlugin(plugin.type, options_.plugin_dirs); !path) {
      status.reason = "NetworkPluginNotReady";
      status.message = "cni: network \"" + status.network_name + "\" (" + status.config_path +
                       "): " + path.error().message;
      return status;
    }
  }
  status.ready = true;
  return status;
}

}  // namespace peapod::cni
