// A bearer-token server for docker-registry's `auth: token` on loopback, as Docker Hub's
// auth.docker.io plays it: it checks Basic credentials (or an OAuth2 refresh token) and issues
// RS256 JWTs granting the scopes asked for, signed with a key whose self-signed certificate the
// registry trusts through `rootcertbundle`. It records every request so tests can check the scope
// a client asked for.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "peapod/error.h"
#include "peapod/unique_fd.h"

namespace peapod::testing {

struct TokenServerOptions {
  std::string issuer = "peapod-test-issuer";
  std::string service = "peapod-test-registry";
  std::map<std::string, std::string> users;           // name -> password
  std::map<std::string, std::string> refresh_tokens;  // refresh token -> user it stands for
};

// The RSA key tokens are signed with (OpenSSL's, hence opaque here).
struct TokenSigningKey;

// One request the server answered.
struct TokenRequest {
  std::string method;  // GET (Basic credentials) or POST (OAuth2 form)
  std::string service;
  std::vector<std::string> scopes;  // "repository:busybox:pull"
  std::string user;                 // whose credentials were offered; empty when none
  std::string grant_type;           // of a POST: "refresh_token", "password"
  int status = 0;                   // what the server answered
};

class RegistryTokenServer {
 public:
  // Makes the signing key and certificate in a temporary directory and serves on a free port of
  // 127.0.0.1 from a thread of its own until destroyed.
  static Result<std::unique_ptr<RegistryTokenServer>> Start(TokenServerOptions options);
  RegistryTokenServer(const RegistryTokenServer&) = delete;
  RegistryTokenServer& operator=(const RegistryTokenServer&) = delete;
  ~RegistryTokenServer();

  // "http://127.0.0.1:PORT/token", the realm of the registry's challenge.
  std::string Realm() const;
  // PEM of the self-signed certificate of the signing key.
  std::string CertPath() const;
  // The registry's `auth: token:` section trusting this server, for LocalRegistryOptions.
  std::string RegistryAuthConfig() const;
  // A token for `subject` granting `scopes` ("repository:busybox:pull,push"), as the server
  // issues it.
  Result<std::string> Issue(const std::string& subject, const std::vector<std::string>& scopes);
  std::vector<TokenRequest> Requests() const;

 private:
  RegistryTokenServer(TokenServerOptions options, std::string dir,
                      std::unique_ptr<TokenSigningKey> key, UniqueFd listener, UniqueFd wake,
                      int port);
  void Serve();
  void Answer(int connection);

  TokenServerOptions options_;
  std::string dir_;
  std::unique_ptr<TokenSigningKey> key_;
  UniqueFd listener_;
  UniqueFd wake_;  // eventfd that tells Serve to return
  int port_;
  mutable std::mutex mutex_;
  std::vector<TokenRequest> requests_;
  std::thread thread_;
};

}  // namespace peapod::testing
