#include "support/registry_token_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <utility>

namespace peapod::testing {

struct TokenSigningKey {
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> pkey{nullptr, EVP_PKEY_free};
  // The libtrust key ID docker-registry files the certificate's key under; a token names its
  // key with it in the JWT "kid" header.
  std::string key_id;
};

namespace {

using nlohmann::json;

constexpr int kTokenLifetimeSeconds = 300;
constexpr size_t kMaxRequestBytes = 64 << 10;

Error OpenSslError(const std::string& what) {
  char reason[256] = "no OpenSSL error queued";
  if (unsigned long code = ERR_get_error(); code != 0)
    ERR_error_string_n(code, reason, sizeof reason);
  return Error{ErrorCode::kInternal, 0, what + ": " + reason};
}

std::string Base64Url(std::string_view in) {
  std::string out(4 * ((in.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(in.data()),
                          static_cast<int>(in.size()));
  out.resize(static_cast<size_t>(n));
  while (!out.empty() && out.back() == '=') out.pop_back();
  for (char& c : out) {
    if (c == '+') c = '-';
    if (c == '/') c = '_';
  }
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

// libtrust's key ID (docker/libtrust keyIDFromCryptoKey): the first 240 bits of the SHA-256 of
// the DER SubjectPublicKeyInfo in unpadded base32, in groups of four joined by ':'.
Result<std::string> LibtrustKeyId(EVP_PKEY* pkey) {
  unsigned char* der = nullptr;
  int der_len = i2d_PUBKEY(pkey, &der);
  if (der_len <= 0) return std::unexpected(OpenSslError("encode public key as DER"));
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_len = 0;
  int ok =
      EVP_Digest(der, static_cast<size_t>(der_len), digest, &digest_len, EVP_sha256(), nullptr);
  OPENSSL_free(der);
  if (ok != 1) return std::unexpected(OpenSslError("SHA-256 of public key"));
  constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  std::string base32;
  // 30 bytes = 240 bits = exactly 48 base32 characters, so no padding arises.
  for (int bit = 0; bit < 240; bit += 5) {
    int value = 0;
    for (int b = bit; b < bit + 5; ++b) value = (value << 1) | ((digest[b / 8] >> (7 - b % 8)) & 1);
    base32 += kAlphabet[value];
  }
  std::string id;
  for (size_t i = 0; i < base32.size(); i += 4) {
    if (!id.empty()) id += ':';
    id += base32.substr(i, 4);
  }
  return id;
}

// An RSA key and a self-signed certificate for it in `cert_path`.
Result<std::unique_ptr<TokenSigningKey>> MakeSigningKey(const std::string& cert_path) {
  auto key = std::make_unique<TokenSigningKey>();
  key->pkey.reset(EVP_RSA_gen(2048));
  if (!key->pkey) return std::unexpected(OpenSslError("generate RSA key"));
  std::unique_ptr<X509, decltype(&X509_free)> cert(X509_new(), X509_free);
  if (!cert) return std::unexpected(OpenSslError("X509_new"));
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 24 * 3600);
  X509_set_pubkey(cert.get(), key->pkey.get());
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("peapod test token issuer"), -1,
                             -1, 0);
  X509_set_issuer_name(cert.get(), name);
  if (X509_sign(cert.get(), key->pkey.get(), EVP_sha256()) == 0) {
    return std::unexpected(OpenSslError("self-sign token certificate"));
  }
  std::unique_ptr<FILE, decltype(&fclose)> out(fopen(cert_path.c_str(), "we"), fclose);
  if (!out) return FailErrno("open " + cert_path);
  if (PEM_write_X509(out.get(), cert.get()) != 1) {
    return std::unexpected(OpenSslError("write " + cert_path));
  }
  auto key_id = LibtrustKeyId(key->pkey.get());
  if (!key_id) return std::unexpected(key_id.error());
  key->key_id = *key_id;
  return key;
}

Result<std::string> SignRs256(EVP_PKEY* pkey, const std::string& input) {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, pkey) != 1) {
    return std::unexpected(OpenSslError("start RS256 signature"));
  }
  size_t len = 0;
  const auto* data = reinterpret_cast<const unsigned char*>(input.data());
  if (EVP_DigestSign(ctx.get(), nullptr, &len, data, input.size()) != 1) {
    return std::unexpected(OpenSslError("size RS256 signature"));
  }
  std::string signature(len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &len, data,
                     input.size()) != 1) {
    return std::unexpected(OpenSslError("RS256 signature"));
  }
  signature.resize(len);
  return signature;
}

// {"type": "repository", "name": "busybox", "actions": ["pull"]} from "repository:busybox:pull".
// The name sits between the first and last colon.
json AccessEntry(const std::string& scope) {
  size_t first = scope.find(':');
  size_t last = scope.rfind(':');
  if (first == std::string::npos || first == last) return nullptr;
  json actions = json::array();
  std::string list = scope.substr(last + 1);
  for (size_t start = 0; start <= list.size();) {
    size_t comma = list.find(',', start);
    if (comma == std::string::npos) comma = list.size();
    if (comma > start) actions.push_back(list.substr(start, comma - start));
    start = comma + 1;
  }
  return {{"type", scope.substr(0, first)},
          {"name", scope.substr(first + 1, last - first - 1)},
          {"actions", actions}};
}

std::string RandomHex(size_t bytes) {
  std::string raw(bytes, '\0');
  RAND_bytes(reinterpret_cast<unsigned char*>(raw.data()), static_cast<int>(bytes));
  std::string hex;
  char buf[3];
  for (unsigned char c : raw) {
    snprintf(buf, sizeof buf, "%02x", c);
    hex += buf;
  }
  return hex;
}

std::string UrlDecode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%' && i + 2 < s.size()) {
      out += static_cast<char>(std::strtol(std::string(s.substr(i + 1, 2)).c_str(), nullptr, 16));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

// "a=1&scope=x&scope=y" into key -> values.
std::multimap<std::string, std::string> ParseForm(std::string_view form) {
  std::multimap<std::string, std::string> out;
  while (!form.empty()) {
    size_t amp = form.find('&');
    std::string_view pair = form.substr(0, amp);
    size_t eq = pair.find('=');
    out.emplace(UrlDecode(pair.substr(0, eq)),
                eq == std::string_view::npos ? "" : UrlDecode(pair.substr(eq + 1)));
    form = amp == std::string_view::npos ? std::string_view() : form.substr(amp + 1);
  }
  return out;
}

std::string FormValue(const std::multimap<std::string, std::string>& form, const std::string& key) {
  auto it = form.find(key);
  return it == form.end() ? "" : it->second;
}

struct HttpMessage {
  std::string method;
  std::string target;
  std::map<std::string, std::string> headers;  // lowercase names
  std::string body;
};

// Reads one HTTP/1.1 request; nullopt on a malformed or truncated one.
std::optional<HttpMessage> ReadRequest(int fd) {
  std::string data;
  char buf[4096];
  size_t header_end = std::string::npos;
  while ((header_end = data.find("\r\n\r\n")) == std::string::npos) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n <= 0 || data.size() > kMaxRequestBytes) return std::nullopt;
    data.append(buf, static_cast<size_t>(n));
  }
  HttpMessage msg;
  size_t line_end = data.find("\r\n");
  std::string request_line = data.substr(0, line_end);
  size_t sp1 = request_line.find(' ');
  size_t sp2 = request_line.find(' ', sp1 + 1);
  if (sp1 == std::string::npos || sp2 == std::string::npos) return std::nullopt;
  msg.method = request_line.substr(0, sp1);
  msg.target = request_line.substr(sp1 + 1, sp2 - sp1 - 1);
  for (size_t pos = line_end + 2; pos < header_end;) {
    size_t end = data.find("\r\n", pos);
    std::string line = data.substr(pos, end - pos);
    pos = end + 2;
    size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string name = line.substr(0, colon);
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string value = line.substr(colon + 1);
    value.erase(0, value.find_first_not_of(" \t"));
    msg.headers[name] = value;
  }
  msg.body = data.substr(header_end + 4);
  size_t length = 0;
  if (auto it = msg.headers.find("content-length"); it != msg.headers.end()) {
    length = std::strtoul(it->second.c_str(), nullptr, 10);
  }
  if (length > kMaxRequestBytes) return std::nullopt;
  while (msg.body.size() < length) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n <= 0) return std::nullopt;
    msg.body.append(buf, static_cast<size_t>(n));
  }
  return msg;
}

void WriteResponse(int fd, int status, const json& body) {
  const char* reason = status == 200   ? "OK"
                       : status == 401 ? "Unauthorized"
                       : status == 400 ? "Bad Request"
                                       : "Internal Server Error";
  std::string text = body.dump();
  std::string out =
      "HTTP/1.1 " + std::to_string(status) + " " + reason +
      "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(text.size()) +
      "\r\nConnection: close\r\n\r\n" + text;
  for (size_t done = 0; done < out.size();) {
    ssize_t n = write(fd, out.data() + done, out.size() - done);
    if (n <= 0) return;
    done += static_cast<size_t>(n);
  }
}

json ErrorBody(const std::string& code, const std::string& message) {
  return {{"errors", json::array({{{"code", code}, {"message", message}}})}};
}

}  // namespace

Result<std::unique_ptr<RegistryTokenServer>> RegistryTokenServer::Start(
    TokenServerOptions options) {
  char pattern[] = "/tmp/peapod-token-server-XXXXXX";
  if (mkdtemp(pattern) == nullptr) return FailErrno("mkdtemp /tmp/peapod-token-server-XXXXXX");
  std::string dir = pattern;
  auto cleanup_on_failure = [&dir](Error error) {
    std::error_code ignored;
    std::filesystem::remove_all(dir, ignored);
    return std::unexpected(std::move(error).Context("start token server"));
  };
  auto key = MakeSigningKey(dir + "/cert.pem");
  if (!key) return cleanup_on_failure(key.error());
  UniqueFd listener(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!listener) return cleanup_on_failure(FailErrno("socket").error());
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (bind(listener.Get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      listen(listener.Get(), 16) != 0 ||
      getsockname(listener.Get(), reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    return cleanup_on_failure(FailErrno("listen on 127.0.0.1").error());
  }
  UniqueFd wake(eventfd(0, EFD_CLOEXEC));
  if (!wake) return cleanup_on_failure(FailErrno("eventfd").error());
  return std::unique_ptr<RegistryTokenServer>(
      new RegistryTokenServer(std::move(options), std::move(dir), std::move(*key),
                              std::move(listener), std::move(wake), ntohs(addr.sin_port)));
}

RegistryTokenServer::RegistryTokenServer(TokenServerOptions options, std::string dir,
                                         std::unique_ptr<TokenSigningKey> key, UniqueFd listener,
                                         UniqueFd wake, int port)
    : options_(std::move(options)),
      dir_(std::move(dir)),
      key_(std::move(key)),
      listener_(std::move(listener)),
      wake_(std::move(wake)),
      port_(port),
      thread_([this] { Serve(); }) {}

RegistryTokenServer::~RegistryTokenServer() {
  uint64_t one = 1;
  if (write(wake_.Get(), &one, sizeof one) != sizeof one) std::abort();  // would hang in join
  thread_.join();
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

std::string RegistryTokenServer::Realm() const {
  return "http://127.0.0.1:" + std::to_string(port_) + "/token";
}

std::string RegistryTokenServer::CertPath() const { return dir_ + "/cert.pem"; }

std::string RegistryTokenServer::RegistryAuthConfig() const {
  return "auth:\n  token:\n    realm: " + Realm() + "\n    service: " + options_.service +
         "\n    issuer: " + options_.issuer + "\n    rootcertbundle: " + CertPath() + "\n";
}

std::vector<TokenRequest> RegistryTokenServer::Requests() const {
  std::lock_guard lock(mutex_);
  return requests_;
}

Result<std::string> RegistryTokenServer::Issue(const std::string& subject,
                                               const std::vector<std::string>& scopes) {
  const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  json access = json::array();
  for (const auto& scope : scopes) {
    json entry = AccessEntry(scope);
    if (!entry.is_null()) access.push_back(entry);
  }
  json header = {{"typ", "JWT"}, {"alg", "RS256"}, {"kid", key_->key_id}};
  json claims = {{"iss", options_.issuer},
                 {"sub", subject},
                 {"aud", options_.service},
                 {"exp", now + kTokenLifetimeSeconds},
                 // A little slack for the registry's clock check.
                 {"nbf", now - 10},
                 {"iat", now},
                 {"jti", RandomHex(16)},
                 {"access", access}};
  std::string signing_input = Base64Url(header.dump()) + "." + Base64Url(claims.dump());
  auto signature = SignRs256(key_->pkey.get(), signing_input);
  if (!signature) return std::unexpected(signature.error());
  return signing_input + "." + Base64Url(*signature);
}

void RegistryTokenServer::Serve() {
  while (true) {
    pollfd fds[2] = {{listener_.Get(), POLLIN, 0}, {wake_.Get(), POLLIN, 0}};
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[1].revents != 0) return;
    UniqueFd connection(accept4(listener_.Get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!connection) continue;
    timeval timeout{.tv_sec = 5, .tv_usec = 0};
    setsockopt(connection.Get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    Answer(connection.Get());
  }
}

void RegistryTokenServer::Answer(int connection) {
  auto msg = ReadRequest(connection);
  if (!msg) return;
  TokenRequest record;
  record.method = msg->method;
  std::string path = msg->target.substr(0, msg->target.find('?'));
  std::string query =
      path.size() < msg->target.size() ? msg->target.substr(path.size() + 1) : std::string();
  auto form = ParseForm(msg->method == "POST" ? msg->body : query);
  record.service = FormValue(form, "service");
  record.grant_type = FormValue(form, "grant_type");
  for (auto [it, end] = form.equal_range("scope"); it != end; ++it) {
    // Several scopes come as repeated parameters or space-separated in one.
    std::string list = it->second;
    for (size_t start = 0; start < list.size();) {
      size_t space = list.find(' ', start);
      if (space == std::string::npos) space = list.size();
      if (space > start) record.scopes.push_back(list.substr(start, space - start));
      start = space + 1;
    }
  }

  // Who asks: Basic credentials on a GET, a refresh token or password in a POSTed form.
  bool authenticated = false;
  if (msg->method == "POST" && record.grant_type == "refresh_token") {
    auto it = options_.refresh_tokens.find(FormValue(form, "refresh_token"));
    if (it != options_.refresh_tokens.end()) {
      record.user = it->second;
      authenticated = true;
    }
  } else if (msg->method == "POST" && record.grant_type == "password") {
    record.user = FormValue(form, "username");
    auto it = options_.users.find(record.user);
    authenticated = it != options_.users.end() && it->second == FormValue(form, "password");
  } else if (auto h = msg->headers.find("authorization");
             h != msg->headers.end() && h->second.starts_with("Basic ")) {
    std::string decoded = Unbase64(h->second.substr(6));
    size_t colon = decoded.find(':');
    record.user = decoded.substr(0, colon);
    auto it = options_.users.find(record.user);
    authenticated = colon != std::string::npos && it != options_.users.end() &&
                    it->second == decoded.substr(colon + 1);
  }

  json body;
  if (path != "/token" || record.service != options_.service) {
    record.status = 400;
    body = ErrorBody("INVALID_REQUEST", "unknown path or service \"" + record.service + "\"");
  } else if (!authenticated) {
    record.status = 401;
    body = ErrorBody("UNAUTHORIZED", record.user.empty() && record.grant_type.empty()
                                         ? "anonymous access is not allowed"
                                         : "invalid credentials");
  } else if (auto token = Issue(record.user, record.scopes); !token) {
    record.status = 500;
    body = ErrorBody("INTERNAL", token.error().ToString());
  } else {
    record.status = 200;
    body = {{"token", *token}, {"access_token", *token}, {"expires_in", kTokenLifetimeSeconds}};
  }
  {
    std::lock_guard lock(mutex_);
    requests_.push_back(record);
  }
  WriteResponse(connection, record.status, body);
}

}  // namespace peapod::testing
