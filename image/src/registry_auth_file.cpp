// The docker `config.json` auth file, as kubelet's and containerd's users already have one: the
// `auths` map only, since credential helpers are programs of docker's client.
#include <openssl/evp.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "peapod/image/registry_client.h"
#include "peapod/json_field.h"

namespace peapod::image {
namespace {

using nlohmann::json;

// Strict base64 (the alphabet, padding only at the end): a damaged entry is an error, not a
// password of garbage.
std::optional<std::string> DecodeBase64(std::string_view in) {
  if (in.empty() || in.size() % 4 != 0) return std::nullopt;
  size_t pad = 0;
  for (size_t i = 0; i < in.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(in[i]);
    if (c == '=') {
      if (i + 2 < in.size()) return std::nullopt;
      ++pad;
    } else if (pad > 0 || !(std::isalnum(c) || c == '+' || c == '/')) {
      return std::nullopt;
    }
  }
  std::string out(3 * (in.size() / 4), '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(in.data()),
                          static_cast<int>(in.size()));
  if (n < 0 || static_cast<size_t>(n) < pad) return std::nullopt;
  out.resize(static_cast<size_t>(n) - pad);  // EVP_DecodeBlock counts padding as zero bytes
  return out;
}

Result<AuthConfig> ParseEntry(const json& entry, const std::string& where) {
  if (!entry.is_object()) return Fail(ErrorCode::kInvalidArgument, where + ": expected an object");
  JsonFields fields(entry, where);
  AuthConfig auth;
  auth.auth = fields.Get<std::string>("auth", "");
  auth.username = fields.Get<std::string>("username", "");
  auth.password = fields.Get<std::string>("password", "");
  auth.identity_token = fields.Get<std::string>("identitytoken", "");
  auth.registry_token = fields.Get<std::string>("registrytoken", "");
  if (auto s = fields.Status(); !s) return std::unexpected(s.error());
  if (!auth.auth.empty()) {
    auto decoded = DecodeBase64(auth.auth);
    size_t colon = decoded ? decoded->find(':') : std::string::npos;
    if (colon == std::string::npos || colon == 0) {
      return Fail(ErrorCode::kInvalidArgument,
                  where + ": \"auth\" is not base64 of \"username:password\"");
    }
    auth.username = decoded->substr(0, colon);
    auth.password = decoded->substr(colon + 1);
    auth.auth.clear();
  }
  if (auth.username.empty() != auth.password.empty()) {
    return Fail(ErrorCode::kInvalidArgument, where + ": a username needs a password and back");
  }
  if (auth.username.empty() && auth.identity_token.empty() && auth.registry_token.empty()) {
    return Fail(ErrorCode::kInvalidArgument,
                where +
                    ": no credentials (auth, username and password, identitytoken or "
                    "registrytoken)");
  }
  return auth;
}

}  // namespace

std::string NormalizeRegistryHost(std::string_view name) {
  std::string host(name);
  if (size_t scheme = host.find("://"); scheme != std::string::npos) host.erase(0, scheme + 3);
  if (size_t slash = host.find('/'); slash != std::string::npos) host.resize(slash);
  std::transform(host.begin(), host.end(), host.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (host == "index.docker.io" || host == "registry-1.docker.io") host = "docker.io";
  return host;
}

Result<std::map<std::string, AuthConfig>> ParseAuthFile(std::string_view text,
                                                        const std::string& path) {
  json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) {
    return Fail(ErrorCode::kInvalidArgument, "auth file " + path + ": not valid JSON");
  }
  if (!doc.is_object()) {
    return Fail(ErrorCode::kInvalidArgument, "auth file " + path + ": expected a JSON object");
  }
  std::map<std::string, AuthConfig> out;
  auto auths = doc.find("auths");
  if (auths == doc.end() || auths->is_null()) return out;
  if (!auths->is_object()) {
    return Fail(ErrorCode::kInvalidArgument, "auth file " + path + ": \"auths\" must be an object");
  }
  for (const auto& [key, entry] : auths->items()) {
    std::string host = NormalizeRegistryHost(key);
    std::string where = "auth file " + path + ": auths[\"" + key + "\"]";
    if (host.empty()) return Fail(ErrorCode::kInvalidArgument, where + ": no registry host");
    auto auth = ParseEntry(entry, where);
    if (!auth) return std::unexpected(auth.error());
    auth->server_address = host;
    if (!out.emplace(host, std::move(*auth)).second) {
      return Fail(ErrorCode::kInvalidArgument, where + ": a second entry for " + host);
    }
  }
  return out;
}

}  // namespace peapod::image
