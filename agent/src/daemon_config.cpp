#include "peapod/agent/daemon_config.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <set>
#include <sstream>

#include "peapod/parse.h"
#include "peapod/yaml_document.h"

namespace peapod::agent {
namespace {

enum class Kind {
  kString,
  kLogLevel,
  kDuration,          // >= 0
  kPositiveDuration,  // > 0
  kQuantity,          // >= 0
  kPositiveQuantity,  // > 0
  kInteger,           // within [min, max]
  kStringList,
  kColonList,  // a string "a:b" or a sequence of strings
  kRegistries,
};

struct Key {
  std::string_view name;
  Kind kind;
  std::string DaemonConfig::*text = nullptr;
  int64_t DaemonConfig::*number = nullptr;
  std::vector<std::string> DaemonConfig::*list = nullptr;
  int64_t min = 0;
  int64_t max = 0;
  bool reserved = false;
};

using C = DaemonConfig;
// Every key, in the order --print-config writes them. The names are the flags' names.
const std::array kKeys = {
    Key{"listen", Kind::kString, &C::listen},
    Key{"state-root", Kind::kString, &C::state_root},
    Key{"run-root", Kind::kString, &C::run_root},
    Key{"cni-conf-dir", Kind::kString, &C::cni_conf_dir},
    Key{"cni-plugin-dirs", Kind::kColonList, &C::cni_plugin_dirs},
    Key{"pause-binary", Kind::kString, &C::pause_binary},
    Key{"runtime-handler", Kind::kStringList, nullptr, nullptr, &C::runtime_handlers},
    Key{"log-level", Kind::kLogLevel, &C::log_level},
    Key{"cgroup-parent", Kind::kString, &C::cgroup_parent},
    Key{"stream-address", Kind::kString, &C::stream_address},
    Key{"stream-token-ttl", Kind::kInteger, nullptr, &C::stream_token_ttl_seconds, nullptr, 1,
        3600},
    Key{"pid-file", Kind::kString, &C::pid_file},
    Key{"backoff-initial", Kind::kPositiveDuration, &C::backoff_initial},
    Key{"backoff-max", Kind::kPositiveDuration, &C::backoff_max},
    Key{"backoff-reset", Kind::kPositiveDuration, &C::backoff_reset},
    Key{"relist-period", Kind::kPositiveDuration, &C::relist_period},
    Key{"pod-log-root", Kind::kString, &C::pod_log_root},
    Key{"max-image-size", Kind::kQuantity, &C::max_image_size},
    Key{"max-image-entries", Kind::kQuantity, &C::max_image_entries},
    Key{"image-fs-reserve", Kind::kQuantity, &C::image_fs_reserve},
    Key{"seccomp-profile-root", Kind::kString, &C::seccomp_profile_root},
    Key{"registries", Kind::kRegistries},
    Key{"auth-file", Kind::kString, &C::auth_file},
    Key{"warm-pool-size", Kind::kInteger, nullptr, &C::warm_pool_size, nullptr, 0, 1000, true},
    Key{"container-log-max-size", Kind::kPositiveQuantity, &C::container_log_max_size},
    Key{"container-log-max-files", Kind::kInteger, nullptr, &C::container_log_max_files, nullptr, 2,
        1000},
    Key{"image-gc-high-threshold-percent", Kind::kInteger, nullptr,
        &C::image_gc_high_threshold_percent, nullptr, 0, 100},
    Key{"image-gc-low-threshold-percent", Kind::kInteger, nullptr,
        &C::image_gc_low_threshold_percent, nullptr, 0, 100},
    Key{"image-minimum-gc-age", Kind::kDuration, &C::image_minimum_gc_age},
    Key{"image-maximum-gc-age", Kind::kDuration, &C::image_maximum_gc_age},
};

const Key* FindKey(std::string_view name) {
  for (const Key& key : kKeys) {
    if (key.name == name) return &key;
  }
  return nullptr;
}

const char* TypeName(const yaml::Node& node) {
  switch (node.Type()) {
    case yaml::NodeType::kNull:
      return "null";
    case yaml::NodeType::kScalar:
      return "a scalar";
    case yaml::NodeType::kSequence:
      return "a sequence";
    case yaml::NodeType::kMap:
      return "a map";
    case yaml::NodeType::kUndefined:
      break;
  }
  return "nothing";
}

// Reads one file, keeping its name for every error.
class Reader {
 public:
  explicit Reader(const std::string& path) : path_(path) {}

  std::unexpected<Error> Fail(const yaml::Node& at, std::string_view key,
                              const std::string& what) const {
    yaml::Mark m = at.mark();
    std::string where = path_;
    if (m.line > 0) where += ":" + std::to_string(m.line) + ":" + std::to_string(m.column);
    return peapod::Fail(ErrorCode::kInvalidArgument, where + ": " + std::string(key) + ": " + what);
  }

  std::string Where(const yaml::Node& at) const {
    return path_ + ":" + std::to_string(at.mark().line);
  }

  // A scalar of text: plain, quoted or block. Anything else, null included, is the wrong type.
  Result<std::string> Text(const yaml::Node& node, std::string_view key,
                           std::string_view expected = "a string") const {
    if (!node.IsScalar()) {
      return Fail(node, key, "expected " + std::string(expected) + ", found " + TypeName(node));
    }
    return node.Scalar();
  }

  Result<bool> Bool(const yaml::Node& node, std::string_view key) const {
    if (node.IsScalar() && node.Style() == yaml::ScalarStyle::kPlain) {
      if (node.Scalar() == "true") return true;
      if (node.Scalar() == "false") return false;
    }
    return Fail(node, key, "expected true or false, found " + Describe(node));
  }

  Result<std::vector<std::string>> Strings(const yaml::Node& node, std::string_view key) const {
    if (!node.IsSequence()) {
      return Fail(node, key,
                  std::string("expected a sequence of strings, found ") + TypeName(node));
    }
    std::vector<std::string> out;
    for (const yaml::Node& item : node.Items()) {
      auto text = Text(item, key);
      if (!text) return std::unexpected(text.error());
      out.push_back(*text);
    }
    return out;
  }

  // A map with no duplicate and no unknown keys; the caller reads the values.
  Status Map(const yaml::Node& node, std::string_view key,
             std::initializer_list<std::string_view> known) const {
    if (!node.IsMap())
      return Fail(node, key, std::string("expected a map, found ") + TypeName(node));
    std::set<std::string> seen;
    for (const auto& [k, v] : node) {
      if (!k.IsScalar()) return Fail(k, key, "keys must be strings");
      if (!seen.insert(k.Scalar()).second) {
        return Fail(k, std::string(key) + "." + k.Scalar(), "given twice");
      }
      if (known.size() > 0 && std::find(known.begin(), known.end(), k.Scalar()) == known.end()) {
        std::string list;
        for (auto name : known) list += (list.empty() ? "" : ", ") + std::string(name);
        return Fail(k, std::string(key) + "." + k.Scalar(), "unknown key (known: " + list + ")");
      }
    }
    return Ok();
  }

  static std::string Describe(const yaml::Node& node) {
    if (node.IsScalar()) return "\"" + node.Scalar() + "\"";
    return TypeName(node);
  }

  Status Registries(const yaml::Node& node,
                    std::map<std::string, image::RegistryHostConfig>& out) const {
    if (auto s = Map(node, "registries", {}); !s) return s;
    std::map<std::string, image::RegistryHostConfig> hosts;
    for (const auto& [k, v] : node) {
      const std::string& host = k.Scalar();
      std::string key = "registries." + host;
      if (host.empty() || host.find('/') != std::string::npos ||
          host != image::NormalizeRegistryHost(host)) {
        return Fail(k, key,
                    "a registry is named by its host as images name it (docker.io, "
                    "registry.k8s.io, 127.0.0.1:5000), without a scheme or path");
      }
      if (auto s = Map(v, key, {"mirrors", "fallback", "insecure"}); !s) return s;
      image::RegistryHostConfig hc;
      if (auto mirrors = v["mirrors"]; mirrors.IsDefined()) {
        auto urls = Strings(mirrors, key + ".mirrors");
        if (!urls) return std::unexpected(urls.error());
        for (size_t i = 0; i < urls->size(); ++i) {
          const std::string& url = (*urls)[i];
          if (!url.starts_with("http://") && !url.starts_with("https://")) {
            return Fail(mirrors[i], key + ".mirrors",
                        "\"" + url +
                            "\": a mirror is an http:// or https:// URL (plain HTTP only when "
                            "written so)");
          }
        }
        hc.mirrors = std::move(*urls);
      }
      for (auto [name, target] :
           {std::pair{"fallback", &hc.upstream_fallback}, std::pair{"insecure", &hc.insecure}}) {
        if (auto value = v[name]; value.IsDefined()) {
          auto b = Bool(value, key + "." + name);
          if (!b) return std::unexpected(b.error());
          *target = *b;
        }
      }
      if (hc.upstream_fallback && hc.mirrors.empty()) {
        return Fail(v["fallback"], key + ".fallback",
                    "falls back from mirrors, but none are given");
      }
      hosts[host] = std::move(hc);
    }
    out = std::move(hosts);
    return Ok();
  }

  Status Value(const Key& key, const yaml::Node& node, DaemonConfig& config) const {
    switch (key.kind) {
      case Kind::kString:
      case Kind::kLogLevel:
      case Kind::kDuration:
      case Kind::kPositiveDuration:
      case Kind::kQuantity:
      case Kind::kPositiveQuantity: {
        auto text = Text(node, key.name);
        if (!text) return std::unexpected(text.error());
        if (auto s = CheckText(key, node, *text); !s) return s;
        config.*key.text = *text;
        return Ok();
      }
      case Kind::kColonList: {
        if (node.IsSequence()) {
          auto dirs = Strings(node, key.name);
          if (!dirs) return std::unexpected(dirs.error());
          std::string joined;
          for (const auto& d : *dirs) joined += (joined.empty() ? "" : ":") + d;
          config.*key.text = joined;
          return Ok();
        }
        auto text = Text(node, key.name, "a string or a sequence of strings");
        if (!text) return std::unexpected(text.error());
        config.*key.text = *text;
        return Ok();
      }
      case Kind::kInteger: {
        auto text = Text(node, key.name, "an integer");
        if (!text) return std::unexpected(text.error());
        auto n = node.Style() == yaml::ScalarStyle::kPlain ? ParseSigned(*text) : std::nullopt;
        if (!n) return Fail(node, key.name, "expected an integer, found " + Describe(node));
        if (*n < key.min || *n > key.max) {
          return Fail(node, key.name,
                      std::to_string(*n) + " is not within " + std::to_string(key.min) + ".." +
                          std::to_string(key.max));
        }
        config.*key.number = *n;
        return Ok();
      }
      case Kind::kStringList: {
        auto list = Strings(node, key.name);
        if (!list) return std::unexpected(list.error());
        config.*key.list = std::move(*list);
        return Ok();
      }
      case Kind::kRegistries:
        return Registries(node, config.registries);
    }
    return Ok();
  }

  Status CheckText(const Key& key, const yaml::Node& node, const std::string& text) const {
    switch (key.kind) {
      case Kind::kLogLevel: {
        static const std::set<std::string> kLevels = {"trace", "debug",    "info", "warn",
                                                      "error", "critical", "off"};
        if (!kLevels.contains(text)) {
          return Fail(
              node, key.name,
              "\"" + text + "\" is not one of trace, debug, info, warn, error, critical, off");
        }
        return Ok();
      }
      case Kind::kDuration:
      case Kind::kPositiveDuration: {
        auto d = ParseDuration(text);
        if (!d || (key.kind == Kind::kPositiveDuration && d->count() == 0)) {
          return Fail(node, key.name,
                      "\"" + text + "\": expected a " +
                          (key.kind == Kind::kPositiveDuration ? "positive " : "") +
                          "duration such as 500ms, 10s or 5m");
        }
        return Ok();
      }
      case Kind::kQuantity:
      case Kind::kPositiveQuantity: {
        auto q = ParseQuantity(text);
        if (!q || *q < 0 || (key.kind == Kind::kPositiveQuantity && *q == 0)) {
          return Fail(node, key.name,
                      "\"" + text + "\": expected a " +
                          (key.kind == Kind::kPositiveQuantity ? "positive" : "non-negative") +
                          " quantity such as 10Gi, 512Mi or 1M");
        }
        return Ok();
      }
      default:
        return Ok();
    }
  }

 private:
  const std::string& path_;
};

// Plain when a YAML reader takes it back as the same string, else double-quoted.
std::string Scalar(const std::string& text) {
  static const std::set<std::string> kSpecial = {"true", "false", "yes",   "no",   "on",   "off",
                                                 "null", "True",  "False", "Null", "NULL", "~"};
  bool plain = !text.empty() && !kSpecial.contains(text) &&
               (std::isalpha(static_cast<unsigned char>(text[0])) || text[0] == '/') &&
               std::all_of(text.begin(), text.end(), [](unsigned char c) {
                 return std::isalnum(c) || std::string_view("_./@+-").find(static_cast<char>(c)) !=
                                               std::string_view::npos;
               });
  if (plain) return text;
  // Escaped: what a reader would refuse (controls) or fold (the Unicode line breaks). The text
  // came through libyaml, so it is valid UTF-8.
  std::string out = "\"";
  for (size_t i = 0; i < text.size();) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    char buf[12];
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
      ++i;
      continue;
    }
    if (c < 0x20 || c == 0x7f) {
      std::snprintf(buf, sizeof(buf), "\\x%02x", c);
      out += buf;
      ++i;
      continue;
    }
    size_t length = c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
    length = std::min(length, text.size() - i);
    uint32_t code = length == 1 ? c : c & (0x7f >> length);
    for (size_t k = 1; k < length; ++k) {
      code = (code << 6) | (static_cast<unsigned char>(text[i + k]) & 0x3f);
    }
    if ((code >= 0x80 && code <= 0x9f) || code == 0x2028 || code == 0x2029 || code == 0xfeff ||
        code == 0xfffe || code == 0xffff) {
      std::snprintf(buf, sizeof(buf), "\\u%04x", static_cast<unsigned>(code));
      out += buf;
    } else {
      out.append(text, i, length);
    }
    i += length;
  }
  return out + "\"";
}

}  // namespace

std::vector<std::string_view> DaemonConfigKeys() {
  std::vector<std::string_view> out;
  for (const Key& key : kKeys) out.push_back(key.name);
  return out;
}

bool IsReservedDaemonConfigKey(std::string_view name) {
  const Key* key = FindKey(name);
  return key != nullptr && key->reserved;
}

Status ApplyDaemonConfigText(std::string_view text, const std::string& path, DaemonConfig& config) {
  auto docs = yaml::LoadAll(text);
  if (!docs) {
    const yaml::ParseError& e = docs.error();
    return Fail(ErrorCode::kInvalidArgument, path + ":" + std::to_string(e.mark.line) + ":" +
                                                 std::to_string(e.mark.column) + ": " +
                                                 e.Message());
  }
  Reader reader(path);
  if (docs->size() > 1) {
    return reader.Fail((*docs)[1], "document", "a config file holds one YAML document");
  }
  if (docs->empty() || (*docs)[0].IsNull()) return Ok();
  const yaml::Node& root = (*docs)[0];
  if (auto s = reader.Map(root, "config", {}); !s) return s;
  DaemonConfig next = config;
  for (const auto& [k, v] : root) {
    const Key* key = FindKey(k.Scalar());
    if (key == nullptr) {
      return reader.Fail(k, k.Scalar(),
                         "unknown key (peapodd --help lists the flags; each flag's name is a key)");
    }
    if (auto s = reader.Value(*key, v, next); !s) return s;
    if (key->reserved) next.reserved_keys_set.push_back(reader.Where(k) + ": " + k.Scalar());
  }
  if (next.image_gc_low_threshold_percent > next.image_gc_high_threshold_percent) {
    return reader.Fail(root["image-gc-low-threshold-percent"].IsDefined()
                           ? root["image-gc-low-threshold-percent"]
                           : root["image-gc-high-threshold-percent"],
                       "image-gc-low-threshold-percent", "must not be above the high threshold");
  }
  config = std::move(next);
  return Ok();
}

Status ApplyDaemonConfigFile(const std::string& path, DaemonConfig& config) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (errno == ENOENT) return Fail(ErrorCode::kNotFound, "config file " + path + " not found");
    return FailErrno("read config file " + path);
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return FailErrno("read config file " + path);
  return ApplyDaemonConfigText(text.str(), path, config);
}

Status ApplyRegistryMirrorFlags(const std::vector<std::string>& specs,
                                std::map<std::string, image::RegistryHostConfig>& registries) {
  image::RegistryConfig from_flags;
  for (const auto& spec : specs) {
    if (auto s = image::AddRegistryMirror(spec, from_flags); !s) return s;
  }
  for (auto& [host, hc] : from_flags.hosts) registries[host] = std::move(hc);
  return Ok();
}

std::string FormatDaemonConfig(const DaemonConfig& config) {
  std::ostringstream out;
  out << "# peapodd's effective configuration (peapodd --print-config)\n";
  for (const Key& key : kKeys) {
    if (key.reserved) {
      out << "# Reserved: " << key.name << " is read and checked, but without effect in this "
          << "version.\n";
    }
    out << key.name << ":";
    switch (key.kind) {
      case Kind::kInteger:
        out << " " << config.*key.number << "\n";
        break;
      case Kind::kStringList:
        if ((config.*key.list).empty()) {
          out << " []\n";
          break;
        }
        out << "\n";
        for (const auto& item : config.*key.list) out << "  - " << Scalar(item) << "\n";
        break;
      case Kind::kRegistries:
        if (config.registries.empty()) {
          out << " {}\n";
          break;
        }
        out << "\n";
        for (const auto& [host, hc] : config.registries) {
          out << "  " << Scalar(host) << ":\n";
          out << "    mirrors:" << (hc.mirrors.empty() ? " []" : "") << "\n";
          for (const auto& m : hc.mirrors) out << "      - " << Scalar(m) << "\n";
          out << "    fallback: " << (hc.upstream_fallback ? "true" : "false") << "\n";
          out << "    insecure: " << (hc.insecure ? "true" : "false") << "\n";
        }
        break;
      default:
        out << " " << Scalar(config.*key.text) << "\n";
        break;
    }
  }
  return out.str();
}

}  // namespace peapod::agent
