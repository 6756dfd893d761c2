// CriServer: the unix socket and the gRPC server around the two CRI services.
#include "peapod/cri/cri_server.h"

#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>

#include "peapod/cri/image_service.h"
#include "peapod/cri/streaming/agent_runtime.h"
#include "peapod/cri/streaming/server.h"
#include "peapod/cri/pod_service.h"
#include "peapod/cri/rpc_catch_boundary.h"
#include "peapod/cri/runtime_service.h"

namespace peapod::cri {
namespace {

constexpr int kMaxMessageBytes = 16 * 1024 * 1024;  // kubelet's limit as well
constexpr auto kShutdownGrace = std::chrono::seconds(5);

// True when a server accepts connections on the socket at `path`.
bool SomeoneListens(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  bool connected = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  ::close(fd);
  return connected;
}

// The socket's directory is 0700 so nobody else can reach the socket, not even during the
// moment between bind() and the chmod to 0660. Shared sticky directories (/tmp) are left alone.
peapod::Status PrepareDirectory(const std::filesystem::path& dir) {
  std::error_code ec;
  bool created = std::filesystem::create_directories(dir, ec);
  if (ec) return FailErrno("create socket directory " + dir.string(), ec.value());
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) return FailErrno("stat socket directory " + dir.string());
  if (!created && (st.st_mode & S_ISVTX)) {
    spdlog::warn("socket directory {} is a shared sticky directory; leaving its mode {:o}",
                 dir.string(), st.st_mode & 07777);
    return Ok();
  }
  if (::chmod(dir.c_str(), 0700) != 0) return FailErrno("chmod 0700 " + dir.string());
  return Ok();
}

peapod::Status PrepareSocketPath(const std::string& path) {
  if (path.empty() || path.front() != '/') {
    return Fail(ErrorCode::kInvalidArgument,
                "socket path \"" + path + "\" must be an absolute path (unix sockets only)");
  }
  if (path.size() >= sizeof(sockaddr_un::sun_path)) {
    return Fail(ErrorCode::kInvalidArgument, "socket path \"" + path + "\" is longer than " +
                                                 std::to_string(sizeof(sockaddr_un::sun_path) - 1) +
                                                 " bytes");
  }
  if (auto s = PrepareDirectory(std::filesystem::path(path).parent_path()); !s) return s;
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return Ok();
    return FailErrno("stat " + path);
  }
  if (!S_ISSOCK(st.st_mode)) {
    return Fail(ErrorCode::kAlreadyExists, path + " exists and is not a socket; not replacing it");
  }
  if (SomeoneListens(path)) {
    return Fail(ErrorCode::kAlreadyExists,
                "another server is listening on " + path + " (is peapodd already running?)");
  }
  spdlog::info("removing stale socket {}", path);
  if (::unlink(path.c_str()) != 0 && errno != ENOENT)
    return FailErrno("remove stale socket " + path);
  return Ok();
}

}  // namespace

CriServer::CriServer(CriServerOptions options) : options_(std::move(options)) {}

CriServer::~CriServer() { Shutdown(); }

Result<std::unique_ptr<CriServer>> CriServer::Start(agent::Agent& agent, CriServerOptions options) {
  if (auto s = PrepareSocketPath(options.socket_path); !s) {
    return std::unexpected(std::move(s.error()).Context("start CRI server"));
  }
  std::unique_ptr<CriServer> server(new CriServer(std::move(options)));
  server->runtime_service_ =
      std::make_unique<CriRuntimeService>(agent, server->options_.runtime_handlers);
  server->image_service_ = std::make_unique<CriImageService>(agent);
  if (!server->options_.stream_address.empty()) {
    server->streaming_runtime_ = streaming::MakeAgentStreamingRuntime(agent);
    streaming::StreamingServerOptions stream_options;
    stream_options.address = server->options_.stream_address;
    stream_options.token_ttl = server->options_.stream_token_ttl;
    auto streaming_server =
        streaming::StreamingServer::Start(stream_options, server->streaming_runtime_.get());
    if (!streaming_server) {
      return std::unexpected(std::move(streaming_server.error()).Context("start CRI server"));
    }
    server->streaming_server_ = std::move(*streaming_server);
    server->runtime_service_->SetStreamingServer(server->streaming_server_.get());
  }
  if (server->options_.pods) {
    server->pod_service_ = std::make_unique<PodService>(agent, *server->options_.pods,
                                                        server->options_.socket_path);
  }

  const std::string& path = server->options_.socket_path;
  grpc::ServerBuilder builder;
  builder.AddListeningPort("unix:" + path, grpc::InsecureServerCredentials());
  builder.SetMaxReceiveMessageSize(kMaxMessageBytes);
  builder.SetMaxSendMessageSize(kMaxMessageBytes);
  builder.RegisterService(server->runtime_service_.get());
  builder.RegisterService(server->image_service_.get());
  if (server->pod_service_) builder.RegisterService(server->pod_service_.get());
  builder.experimental().SetInterceptorCreators(RpcCatchBoundary());
  server->server_ = builder.BuildAndStart();
  if (!server->server_) {
    return Fail(ErrorCode::kUnavailable,
                "start CRI server: cannot listen on unix:" + path + " (see the gRPC error above)");
  }
  if (::chmod(path.c_str(), 0660) != 0) {
    auto err = FailErrno("chmod 0660 " + path);
    server->Shutdown();
    return err;
  }
  spdlog::info("serving CRI v1 on unix:{}", path);
  return server;
}

std::string CriServer::stream_address() const {
  return streaming_server_ ? streaming_server_->address() : "";
}

void CriServer::Shutdown() {
  // Streaming connections end first: their execs are killed, their threads joined.
  if (streaming_server_) streaming_server_->Shutdown();
  if (!server_) return;
  spdlog::info("stopping CRI server on unix:{}", options_.socket_path);
  server_->Shutdown(std::chrono::system_clock::now() + kShutdownGrace);
  server_->Wait();
  server_.reset();
  ::unlink(options_.socket_path.c_str());
}

}  // namespace peapod::cri
