// Internal to the streaming server: the sessions that run once a connection is upgraded.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "peapod/cri/streaming/server.h"
#include "peapod/cri/streaming/spdy.h"
#include "peapod/cri/streaming/websocket.h"

namespace peapod::cri::streaming {

// Kubernetes' remote command protocol versions.
enum class ChannelVersion { kV1 = 1, kV2 = 2, kV3 = 3, kV4 = 4, kV5 = 5 };

struct RemoteCommandOptions {
  bool stdin = false, stdout = false, stderr = false, tty = false;
  std::string what;  // "command [sh -c exit 7]" or "attach": for error messages
};

// Exec or attach on an upgraded connection: waits for the client's streams, starts the target,
// copies both ways, reports the outcome on the error stream, and returns once every thread is
// joined and the target is gone.
void ServeRemoteCommandSpdy(SpdyConnection& conn, ChannelVersion version,
                            const RemoteCommandOptions& options,
                            std::chrono::milliseconds stream_timeout,
                            const std::function<Result<std::unique_ptr<StreamTarget>>()>& start);
void ServeRemoteCommandWebSocket(
    WebSocketConnection& conn, ChannelVersion version, const RemoteCommandOptions& options,
    const std::function<Result<std::unique_ptr<StreamTarget>>()>& start);

// Port-forward: SPDY streams in pairs (data, error) per request, each dialled in the pod.
void ServePortForwardSpdy(SpdyConnection& conn, StreamingRuntime& runtime,
                          const std::string& sandbox_id);
// Port-forward over WebSocket channels: per port, channel 2i data and 2i+1 error, each opened
// with the port number (2 bytes, little endian).
void ServePortForwardWebSocket(WebSocketConnection& conn, StreamingRuntime& runtime,
                               const std::string& sandbox_id, const std::vector<uint16_t>& ports);

// The metav1.Status JSON kubelet writes on the error stream (v4 and later).
std::string ExitStatusJson(int exit_code, const std::string& what);
std::string FailureStatusJson(const std::string& message);

}  // namespace peapod::cri::streaming
