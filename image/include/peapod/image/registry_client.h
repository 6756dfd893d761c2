// RegistryClient: pulls manifests and blobs with the OCI distribution-spec v2 API over libcurl.
// Handles bearer-token and basic auth challenges, redirects for blobs, configured mirrors and
// insecure (plain HTTP) registries, and verifies every blob against its digest before storing.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "peapod/error.h"
#include "peapod/image/content_store.h"
#include "peapod/image/manifest.h"
#include "peapod/image/reference.h"

namespace peapod::image {

// The CRI AuthConfig.
struct AuthConfig {
  std::string username;
  std::string password;
  std::string auth;  // base64("username:password")
  std::string server_address;
  std::string identity_token;  // OAuth2 refresh token for the token endpoint
  std::string registry_token;  // bearer token sent as is
};

// Per registry host ("docker.io", "127.0.0.1:5000"), like containerd's hosts.toml.
struct RegistryHostConfig {
  // Endpoints tried in order, e.g. "http://127.0.0.1:5000". With any, they are the registry's
  // only endpoints (hosts.toml with the mirror as `server`): an air-gapped node never looks the
  // registry itself up, not even after a mirror answered 404.
  std::vector<std::string> mirrors;
  // After every mirror failed, try the registry itself too (hosts.toml's `[host]` mirrors in
  // front of the default `server`). Only when asked.
  bool upstream_fallback = false;
  // Plain HTTP for the registry itself. Loopback hosts (127.0.0.0/8, localhost, ::1) always are.
  bool insecure = false;
};

struct RegistryConfig {
  std::map<std::string, RegistryHostConfig> hosts;
  // Credentials per registry host as endpoints name it ("127.0.0.1:5000", "docker.io",
  // "mirror.example"), from an auth file (peapodd --auth-file). A pull whose request brings no
  // credentials uses, at each endpoint it tries, that endpoint's host's entry; a mirror never
  // gets the credentials of the registry it mirrors.
  std::map<std::string, AuthConfig> credentials;
  long connect_timeout_seconds = 30;
};

struct PullProgress {
  std::string digest;
  uint64_t bytes_done = 0;
  uint64_t bytes_total = 0;
  bool done = false;
};
// May be called from several download threads at once.
using ProgressCallback = std::function<void(const PullProgress&)>;

struct ResolvedManifest {
  std::string endpoint;         // the base URL that answered
  std::string manifest_digest;  // of the platform manifest
  std::string index_digest;     // when the reference named an index
  ParsedManifest manifest;
};

// One pull of one repository: keeps the endpoint and token between requests. Thread-safe.
class RegistrySession {
 public:
  virtual ~RegistrySession() = default;
  // Fetches the manifest for the reference (selecting `platform` from an index) and stores the
  // manifest (and index) blobs in `store`.
  virtual Result<ResolvedManifest> ResolveManifest(const Platform& platform) = 0;
  // Downloads a blob into `store` (no-op when present), verifying its digest.
  virtual Status FetchBlob(const Descriptor& blob, const ProgressCallback& progress) = 0;
};

class RegistryClient {
 public:
  RegistryClient(RegistryConfig config, ContentStore* store);
  Result<std::unique_ptr<RegistrySession>> Open(const Reference& ref, const AuthConfig& auth);
  // Base URLs to try for a registry host, in order ("http://127.0.0.1:5000"): its mirrors, else
  // (or after them, with upstream_fallback) the registry itself.
  std::vector<std::string> EndpointsFor(const std::string& host) const;

 private:
  RegistryConfig config_;
  ContentStore* store_;
};

// Parses `Bearer realm="...",service="...",scope="..."` into scheme + params (lowercase keys).
struct AuthChallenge {
  std::string scheme;  // "bearer", "basic"
  std::map<std::string, std::string> params;
};
AuthChallenge ParseAuthChallenge(const std::string& header);

bool IsLoopbackHost(const std::string& host);

// Adds one `--registry-mirror` to `config`: "HOST=URL[,fallback]", e.g.
// "gcr.io=http://127.0.0.1:5000" (the mirror is gcr.io's only endpoint) or
// "docker.io=http://127.0.0.1:5000,fallback" (docker.io itself after the mirror). Repeatable per
// host: mirrors are tried in the order given, and `fallback` on any of them applies to the host.
Status AddRegistryMirror(const std::string& spec, RegistryConfig& config);

// The registry host an auth file or a config names: "https://index.docker.io/v1/",
// "registry-1.docker.io" and "docker.io" are all "docker.io"; a scheme and a path are dropped
// ("http://127.0.0.1:5000/v2/" -> "127.0.0.1:5000").
std::string NormalizeRegistryHost(std::string_view name);

// Reads a docker `config.json`-style auth file: {"auths": {"HOST": {"auth": base64("user:pw")}
// or {"username": ..., "password": ...} or {"identitytoken": ...} or {"registrytoken": ...}}}.
// Other top-level keys (credHelpers, HttpHeaders, ...) are ignored, as they belong to docker's
// client. Keys are normalized with NormalizeRegistryHost. Errors name `path` and the host.
Result<std::map<std::string, AuthConfig>> ParseAuthFile(std::string_view text,
                                                        const std::string& path);

}  // namespace peapod::image
