// A stand-in for a registry that must never be asked: an HTTP server on a loopback address that
// records the request line of every request and answers each with 404 (a registry that has
// nothing). Tests point an image reference at it to prove the agent did or did not reach it.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "peapod/error.h"
#include "peapod/unique_fd.h"

namespace peapod::testing {

class RecordingHttpServer {
 public:
  // Serves on a free port of `address` (an IPv4 loopback address such as "127.0.0.3") from a
  // thread of its own until destroyed.
  static Result<std::unique_ptr<RecordingHttpServer>> Start(const std::string& address);
  RecordingHttpServer(const RecordingHttpServer&) = delete;
  RecordingHttpServer& operator=(const RecordingHttpServer&) = delete;
  ~RecordingHttpServer();

  // "127.0.0.3:PORT", as a registry host in image references.
  std::string HostPort() const;
  // "GET /v2/busybox/manifests/latest HTTP/1.1", one per request, in order.
  std::vector<std::string> Requests() const;

 private:
  RecordingHttpServer(std::string address, int port, UniqueFd listener, UniqueFd wake);
  void Serve();
  void Answer(int connection);

  std::string address_;
  int port_;
  UniqueFd listener_;
  UniqueFd wake_;  // eventfd that tells Serve to return
  mutable std::mutex mutex_;
  std::vector<std::string> requests_;
  std::thread thread_;
};

}  // namespace peapod::testing
