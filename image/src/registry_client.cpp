#include "peapod/image/registry_client.h"

#include <curl/curl.h>
#include <openssl/evp.h>

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>

#include "peapod/json_field.h"

namespace peapod::image {
namespace {

using nlohmann::json;

constexpr char kManifestAccept[] =
    "Accept: application/vnd.oci.image.index.v1+json, "
    "application/vnd.docker.distribution.manifest.list.v2+json, "
    "application/vnd.oci.image.manifest.v1+json, "
    "application/vnd.docker.distribution.manifest.v2+json";
constexpr size_t kMaxManifestBytes = 4 << 20;
constexpr uint64_t kProgressStep = 1 << 20;

void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::string Base64(std::string_view in) {
  std::string out(4 * ((in.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(in.data()),
                          static_cast<int>(in.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

std::string Unbase64(std::string_view in) {
  std::string out(3 * (in.size() / 4) + 3, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(in.data()),
                          static_cast<int>(in.size()));
  if (n < 0) return {};
  out.resize(static_cast<size_t>(n));
  while (!in.empty() && in.back() == '=') {  // EVP_DecodeBlock counts padding as zero bytes
    in.remove_suffix(1);
    out.pop_back();
  }
  return out;
}

std::string Escape(const std::string& s) {
  char* e = curl_easy_escape(nullptr, s.c_str(), static_cast<int>(s.size()));
  std::string out = e ? e : "";
  curl_free(e);
  return out;
}

struct HttpResponse {
  long status = 0;
  std::map<std::string, std::string> headers;  // lowercase names
  std::string body;                            // error bodies and small documents
};

// Receives the body of a successful response; returns false to abort the transfer.
using BodySink = std::function<bool(const char*, size_t)>;

struct Transfer {
  HttpResponse* response;
  CURL* curl;
  const BodySink* sink;
  size_t limit;
  bool sink_failed = false;
};

size_t OnHeader(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  std::string_view line(data, size * n);
  if (line.starts_with("HTTP/")) t->response->headers.clear();  // a new response (redirect)
  size_t colon = line.find(':');
  if (colon != std::string_view::npos) {
    std::string value(line.substr(colon + 1));
    value.erase(0, value.find_first_not_of(" \t"));
    while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' '))
      value.pop_back();
    t->response->headers[Lower(std::string(line.substr(0, colon)))] = value;
  }
  return size * n;
}

size_t OnBody(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  long status = 0;
  curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &status);
  size_t len = size * n;
  if (status >= 200 && status < 300 && t->sink != nullptr && *t->sink) {
    if (!(*t->sink)(data, len)) {
      t->sink_failed = true;
      return 0;
    }
    return len;
  }
  if (t->response->body.size() + len > t->limit) return 0;
  t->response->body.append(data, len);
  return len;
}

struct HttpRequest {
  std::string method = "GET";
  std::string url;
  std::vector<std::string> headers;
  std::string post_body;
  std::string basic_user, basic_password;  // for token endpoints
  const BodySink* sink = nullptr;
  long connect_timeout = 30;
};

Result<HttpResponse> Perform(const HttpRequest& req) {
  GlobalInit();
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), curl_easy_cleanup);
  if (!curl) return Fail(ErrorCode::kInternal, "curl_easy_init failed");
  HttpResponse response;
  Transfer t{&response, curl.get(), req.sink, kMaxManifestBytes};
  curl_slist* headers = nullptr;
  for (const auto& h : req.headers) headers = curl_slist_append(headers, h.c_str());
  std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> header_guard(headers,
                                                                           curl_slist_free_all);
  CURL* c = curl.get();
  curl_easy_setopt(c, CURLOPT_URL, req.url.c_str());
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  // Blob URLs redirect to storage backends; curl drops our Authorization header on other hosts.
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, req.connect_timeout);
  // Abort a transfer stalled below 1 KB/s for a minute rather than hanging the pull forever.
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1024L);
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 60L);
  curl_easy_setopt(c, CURLOPT_USERAGENT, "peapod/" PEAPOD_VERSION);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, OnHeader);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &t);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, OnBody);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &t);
  if (req.method == "POST") curl_easy_setopt(c, CURLOPT_POSTFIELDS, req.post_body.c_str());
  if (!req.basic_user.empty()) {
    curl_easy_setopt(c, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
    curl_easy_setopt(c, CURLOPT_USERNAME, req.basic_user.c_str());
    curl_easy_setopt(c, CURLOPT_PASSWORD, req.basic_password.c_str());
  }
  CURLcode rc = curl_easy_perform(c);
  if (t.sink_failed) return Fail(ErrorCode::kInternal, "store data from " + req.url);
  if (rc != CURLE_OK) {
    return Fail(rc == CURLE_OPERATION_TIMEDOUT ? ErrorCode::kDeadlineExceeded
                                               : ErrorCode::kUnavailable,
                req.method + " " + req.url + ": " + curl_easy_strerror(rc));
  }
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &response.status);
  return response;
}

// "404 MANIFEST_UNKNOWN: manifest unknown" from a distribution-spec error body.
std::string DescribeError(const HttpResponse& r) {
  std::string out = std::to_string(r.status);
  json j = json::parse(r.body, nullptr, false);
  if (!j.is_discarded() && j.is_object() && j.contains("errors") && j["errors"].is_array()) {
    for (const auto& e : j["errors"]) {
      out += " " + JsonField<std::string>(e, "code", "").value_or("?") + ": " +
             JsonField<std::string>(e, "message", "").value_or("?");
    }
  } else if (!r.body.empty() && r.body.size() < 200) {
    out += " " + r.body;
  }
  return out;
}

ErrorCode CodeForStatus(long status) {
  if (status == 404) return ErrorCode::kNotFound;
  if (status == 401 || status == 403) return ErrorCode::kPermissionDenied;
  if (status == 429) return ErrorCode::kResourceExhausted;
  if (status >= 500) return ErrorCode::kUnavailable;
  return ErrorCode::kInvalidArgument;
}

std::string HostOf(const std::string& endpoint) {
  size_t start = endpoint.find("://");
  start = start == std::string::npos ? 0 : start + 3;
  size_t end = endpoint.find('/', start);
  return endpoint.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

class Session : public RegistrySession {
 public:
  Session(Reference ref, AuthConfig auth, std::vector<std::string> endpoints, ContentStore* store,
          long connect_timeout, const std::map<std::string, AuthConfig>* credentials)
      : ref_(std::move(ref)),
        request_auth_(Decoded(std::move(auth))),
        endpoints_(std::move(endpoints)),
        store_(store),
        connect_timeout_(connect_timeout),
        credentials_(credentials) {
    UseEndpointCredentials(endpoints_.empty() ? "" : endpoints_.front());
  }

  Result<ResolvedManifest> ResolveManifest(const Platform& platform) override {
    std::string wanted = ref_.digest.empty() ? ref_.tag : ref_.digest;
    std::optional<Error> first_error;
    std::string tried;
    for (const auto& ep : endpoints_) {
      auto resolved = ResolveAt(ep, wanted, platform);
      if (resolved) return resolved;
      // A definite answer (not found, denied, bad content) from one endpoint is kept over
      // "unreachable" from a later one.
      if (!first_error || (first_error->code == ErrorCode::kUnavailable &&
                           resolved.error().code != ErrorCode::kUnavailable))
        first_error = resolved.error();
      tried += (tried.empty() ? "" : "; ") + resolved.error().message;
    }
    Error err = *first_error;
    if (endpoints_.size() > 1) err.message += " (tried: " + tried + ")";
    return std::unexpected(err);
  }

  Status FetchBlob(const Descriptor& blob, const ProgressCallback& progress) override {
    if (auto st = CheckDigest(blob.digest); !st) return st;
    PullProgress p{blob.digest, 0, static_cast<uint64_t>(std::max<int64_t>(blob.size, 0)), false};
    if (store_->Has(blob.digest)) {
      p.bytes_done = p.bytes_total;
      p.done = true;
      if (progress) progress(p);
      return Ok();
    }
    std::string endpoint = Endpoint();
    auto writer = store_->Writer();
    if (!writer) return std::unexpected(writer.error());
    uint64_t next_report = kProgressStep;
    BodySink sink = [&](const char* data, size_t n) {
      if (!writer->Write(data, n)) return false;
      p.bytes_done += n;
      if (progress && p.bytes_done >= next_report) {
        next_report = p.bytes_done + kProgressStep;
        progress(p);
      }
      return true;
    };
    std::string url = endpoint + "/v2/" + ref_.path + "/blobs/" + blob.digest;
    auto resp = Get(url, {}, &sink, [&] {
      // A retry after a 401 starts the blob over.
      auto fresh = store_->Writer();
      if (fresh) writer.emplace(std::move(*fresh));
      p.bytes_done = 0;
    });
    if (!resp) return std::unexpected(resp.error());
    if (resp->status != 200) {
      return Fail(CodeForStatus(resp->status), "fetch blob " + blob.digest + " of " +
                                                   ref_.Name() + " from " + HostOf(endpoint) +
                                                   ": " + DescribeError(*resp));
    }
    if (blob.size > 0 && writer->written() != static_cast<uint64_t>(blob.size)) {
      return Fail(ErrorCode::kInvalidArgument,
                  "blob " + blob.digest + " has " + std::to_string(writer->written()) +
                      " bytes, its descriptor says " + std::to_string(blob.size));
    }
    if (auto st = writer->Commit(blob.digest); !st)
      return Fail(st.error().code, "blob " + blob.digest + " from " + HostOf(endpoint) + ": " +
                                       st.error().message);
    p.done = true;
    if (progress) progress(p);
    return Ok();
  }

 private:
  std::string Endpoint() {
    std::lock_guard lock(mutex_);
    return endpoint_;
  }

  static AuthConfig Decoded(AuthConfig auth) {
    if (!auth.auth.empty() && auth.username.empty()) {
      std::string decoded = Unbase64(auth.auth);
      size_t colon = decoded.find(':');
      if (colon != std::string::npos) {
        auth.username = decoded.substr(0, colon);
        auth.password = decoded.substr(colon + 1);
      }
    }
    return auth;
  }

  static bool Empty(const AuthConfig& a) {
    return a.username.empty() && a.password.empty() && a.auth.empty() && a.identity_token.empty() &&
           a.registry_token.empty();
  }

  // The credentials for `endpoint`: the request's when it brought any, else the auth file's
  // entry for the endpoint's own host. A token earned at one endpoint is never sent to another.
  // Called before any blob download starts, so auth_ is stable while threads read it.
  void UseEndpointCredentials(const std::string& endpoint) {
    std::lock_guard lock(mutex_);
    endpoint_ = endpoint;
    auth_ = request_auth_;
    if (Empty(auth_) && credentials_ != nullptr && !endpoint.empty()) {
      auto it = credentials_->find(NormalizeRegistryHost(HostOf(endpoint)));
      if (it != credentials_->end()) auth_ = Decoded(it->second);
    }
    authorization_ = auth_.registry_token.empty() ? "" : "Bearer " + auth_.registry_token;
  }

  Result<ResolvedManifest> ResolveAt(const std::string& ep, const std::string& wanted,
                                     const Platform& platform) {
    UseEndpointCredentials(ep);
    ResolvedManifest out;
    out.endpoint = ep;
    auto first = FetchManifest(ep, wanted, ref_.digest);
    if (!first) return std::unexpected(first.error());
    auto& [digest, parsed] = *first;
    if (parsed.kind == ManifestKind::kIndex) {
      out.index_digest = digest;
      auto chosen = SelectPlatform(parsed, platform);
      if (!chosen)
        return Fail(chosen.error().code,
                    "image \"" + ref_.String() + "\": " + chosen.error().message);
      auto second = FetchManifest(ep, chosen->digest, chosen->digest);
      if (!second) return std::unexpected(second.error());
      if (second->second.kind != ManifestKind::kManifest)
        return Fail(ErrorCode::kInvalidArgument, "index entry " + chosen->digest +
                                                     " of " + ref_.String() + " is not a manifest");
      out.manifest_digest = second->first;
      out.manifest = std::move(second->second);
    } else {
      out.manifest_digest = digest;
      out.manifest = std::move(parsed);
    }
    return out;
  }

  Result<std::pair<std::string, ParsedManifest>> FetchManifest(const std::string& ep,
                                                               const std::string& tag_or_digest,
                                                               const std::string& expected) {
    std::string url = ep + "/v2/" + ref_.path + "/manifests/" + tag_or_digest;
    auto resp = Get(url, {kManifestAccept}, nullptr, nullptr);
    if (!resp) {
      return Fail(resp.error().code, "pull image \"" + ref_.String() + "\" from " + HostOf(ep) +
                                         ": " + resp.error().message);
    }
    if (resp->status != 200) {
      std::string what = resp->status == 404 ? "not found in " : "cannot be pulled from ";
      return Fail(CodeForStatus(resp->status), "image \"" + ref_.String() + "\" " + what +
                                                   HostOf(ep) + ": " + DescribeError(*resp));
    }
    std::string digest = DigestOf(resp->body);
    if (!expected.empty() && digest != expected) {
      return Fail(ErrorCode::kInvalidArgument, "manifest of \"" + ref_.String() + "\" from " +
                                                   HostOf(ep) + " has digest " + digest +
                                                   ", expected " + expected);
    }
    auto header = resp->headers.find("docker-content-digest");
    if (expected.empty() && header != resp->headers.end() && IsValidDigest(header->second) &&
        header->second != digest) {
      return Fail(ErrorCode::kInvalidArgument, "manifest of \"" + ref_.String() + "\" from " +
                                                   HostOf(ep) + " hashes to " + digest +
                                                   ", registry says " + header->second);
    }
    std::string content_type;
    if (auto ct = resp->headers.find("content-type"); ct != resp->headers.end())
      content_type = ct->second.substr(0, ct->second.find(';'));
    auto parsed = ParseManifest(resp->body, content_type);
    if (!parsed)
      return Fail(parsed.error().code,
                  "manifest of \"" + ref_.String() + "\": " + parsed.error().message);
    if (auto stored = store_->Put(resp->body, digest); !stored)
      return std::unexpected(stored.error());
    return std::make_pair(digest, std::move(*parsed));
  }

  // GET with the session's credentials; on a 401 answers the challenge once and retries.
  Result<HttpResponse> Get(const std::string& url, std::vector<std::string> headers,
                           const BodySink* sink, const std::function<void()>& before_retry) {
    for (int attempt = 0; attempt < 2; ++attempt) {
      HttpRequest req;
      req.url = url;
      req.headers = headers;
      req.sink = sink;
      req.connect_timeout = connect_timeout_;
      std::string authz;
      {
        std::lock_guard lock(mutex_);
        authz = authorization_;
      }
      if (!authz.empty()) req.headers.push_back("Authorization: " + authz);
      auto resp = Perform(req);
      if (!resp || resp->status != 401 || attempt == 1) return resp;
      auto challenge = resp->headers.find("www-authenticate");
      if (challenge == resp->headers.end()) return resp;
      auto st = Authenticate(ParseAuthChallenge(challenge->second), url);
      if (!st) return std::unexpected(st.error());
      if (before_retry) before_retry();
    }
    return Fail(ErrorCode::kInternal, "unreachable");
  }

  Status Authenticate(const AuthChallenge& ch, const std::string& url) {
    bool have_user = !auth_.username.empty();
    if (ch.scheme == "basic") {
      if (!have_user)
        return Fail(ErrorCode::kPermissionDenied,
                    "registry " + HostOf(url) + " requires credentials for " + ref_.Name());
      std::lock_guard lock(mutex_);
      authorization_ = "Basic " + Base64(auth_.username + ":" + auth_.password);
      return Ok();
    }
    if (ch.scheme != "bearer")
      return Fail(ErrorCode::kUnimplemented, "unsupported auth scheme \"" + ch.scheme + "\" at " +
                                                 HostOf(url));
    auto realm = ch.params.find("realm");
    if (realm == ch.params.end())
      return Fail(ErrorCode::kPermissionDenied, "bearer challenge without realm from " + HostOf(url));
    std::string service = ch.params.contains("service") ? ch.params.at("service") : "";
    std::string scope = ch.params.contains("scope") ? ch.params.at("scope")
                                                    : "repository:" + ref_.path + ":pull";
    HttpRequest req;
    req.connect_timeout = connect_timeout_;
    if (!auth_.identity_token.empty()) {
      // OAuth2 refresh-token grant, as docker does with an identity token.
      req.method = "POST";
      req.url = realm->second;
      req.headers.push_back("Content-Type: application/x-www-form-urlencoded");
      req.post_body = "grant_type=refresh_token&client_id=peapod&service=" + Escape(service) +
                      "&scope=" + Escape(scope) + "&refresh_token=" + Escape(auth_.identity_token);
    } else {
      req.url = realm->second + (realm->second.find('?') == std::string::npos ? "?" : "&") +
                "service=" + Escape(service) + "&scope=" + Escape(scope);
      if (have_user) {
        req.basic_user = auth_.username;
        req.basic_password = auth_.password;
      }
    }
    auto resp = Perform(req);
    if (!resp) return Fail(resp.error().code, "get registry token: " + resp.error().message);
    if (resp->status != 200) {
      return Fail(ErrorCode::kPermissionDenied, "token server " + HostOf(realm->second) +
                                                    " refused access to " + ref_.Name() + ": " +
                                                    DescribeError(*resp));
    }
    json j = json::parse(resp->body, nullptr, false);
    std::string token;
    if (!j.is_discarded() && j.is_object()) {
      token = JsonField<std::string>(j, "token", "").value_or("");
      if (token.empty()) token = JsonField<std::string>(j, "access_token", "").value_or("");
    }
    if (token.empty())
      return Fail(ErrorCode::kPermissionDenied, "token server " + HostOf(realm->second) +
                                                    " answered without a token");
    std::lock_guard lock(mutex_);
    authorization_ = "Bearer " + token;
    return Ok();
  }

  Reference ref_;
  const AuthConfig request_auth_;  // from the pull request (CRI AuthConfig); may be empty
  AuthConfig auth_;                // what the current endpoint gets
  std::vector<std::string> endpoints_;
  ContentStore* store_;
  long connect_timeout_;
  const std::map<std::string, AuthConfig>* credentials_;  // the RegistryClient's; may be null
  std::mutex mutex_;
  std::string endpoint_;
  std::string authorization_;
};

}  // namespace

AuthChallenge ParseAuthChallenge(const std::string& header) {
  AuthChallenge ch;
  size_t space = header.find(' ');
  ch.scheme = Lower(header.substr(0, space));
  if (space == std::string::npos) return ch;
  size_t i = space + 1;
  while (i < header.size()) {
    while (i < header.size() && (header[i] == ' ' || header[i] == ',')) ++i;
    size_t eq = header.find('=', i);
    if (eq == std::string::npos) break;
    std::string key = Lower(header.substr(i, eq - i));
    i = eq + 1;
    std::string value;
    if (i < header.size() && header[i] == '"') {
      ++i;
      while (i < header.size() && header[i] != '"') {
        if (header[i] == '\\' && i + 1 < header.size()) ++i;
        value += header[i++];
      }
      ++i;
    } else {
      size_t end = header.find(',', i);
      value = header.substr(i, end == std::string::npos ? std::string::npos : end - i);
      i = end == std::string::npos ? header.size() : end;
    }
    ch.params[key] = value;
  }
  return ch;
}

bool IsLoopbackHost(const std::string& host) {
  std::string h = host;
  if (h.starts_with('[')) h = h.substr(1, h.find(']') - 1);
  else h = h.substr(0, h.find(':'));
  return h == "localhost" || h == "::1" || h.starts_with("127.");
}

Status AddRegistryMirror(const std::string& spec, RegistryConfig& config) {
  auto bad = [&](const std::string& why) {
    return Fail(ErrorCode::kInvalidArgument,
                "--registry-mirror \"" + spec + "\": " + why +
                    " (expected HOST=URL[,fallback], e.g. docker.io=http://127.0.0.1:5000)");
  };
  size_t eq = spec.find('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == spec.size()) return bad("no HOST=URL");
  std::string host = spec.substr(0, eq);
  if (host.find('/') != std::string::npos) {
    return bad("the registry is a host name such as docker.io, not a URL");
  }
  std::string url = spec.substr(eq + 1);
  bool fallback = false;
  if (size_t comma = url.find(','); comma != std::string::npos) {
    std::string option = url.substr(comma + 1);
    if (option != "fallback") return bad("unknown option \"" + option + "\"");
    fallback = true;
    url.resize(comma);
  }
  if (!url.starts_with("http://") && !url.starts_with("https://")) {
    return bad("the mirror must be an http(s) URL");
  }
  RegistryHostConfig& hc = config.hosts[host];
  hc.mirrors.push_back(std::move(url));
  hc.upstream_fallback = hc.upstream_fallback || fallback;
  return Ok();
}

RegistryClient::RegistryClient(RegistryConfig config, ContentStore* store)
    : config_(std::move(config)), store_(store) {}

std::vector<std::string> RegistryClient::EndpointsFor(const std::string& host) const {
  std::vector<std::string> out;
  RegistryHostConfig hc;
  if (auto it = config_.hosts.find(host); it != config_.hosts.end()) hc = it->second;
  for (std::string m : hc.mirrors) {
    while (m.ends_with('/')) m.pop_back();
    if (m.ends_with("/v2")) m.resize(m.size() - 3);
    if (m.find("://") == std::string::npos) m = "https://" + m;
    out.push_back(m);
  }
  if (!out.empty() && !hc.upstream_fallback) return out;
  bool insecure = hc.insecure || IsLoopbackHost(host);
  std::string upstream = host == "docker.io" ? "registry-1.docker.io" : host;
  out.push_back((insecure ? "http://" : "https://") + upstream);
  return out;
}

Result<std::unique_ptr<RegistrySession>> RegistryClient::Open(const Reference& ref,
                                                              const AuthConfig& auth) {
  return std::make_unique<Session>(ref, auth, EndpointsFor(ref.domain), store_,
                                   config_.connect_timeout_seconds, &config_.credentials);
}

}  // namespace peapod::image
