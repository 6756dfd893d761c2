// The systemd notification protocol (sd_notify(3)), by hand: one datagram of newline-separated
// VAR=VALUE assignments to the unix socket named in $NOTIFY_SOCKET. A unit of Type=notify is
// "started" when READY=1 arrives, so the daemon sends it only once its socket serves.
#pragma once

#include <string>
#include <string_view>

#include "peapod/error.h"

namespace peapod::runtime {

// Sends `state` (e.g. "READY=1\nSTATUS=serving", "STOPPING=1") to $NOTIFY_SOCKET: a path, or
// "@name" for an abstract socket. Ok and nothing sent when the variable is unset or empty (not
// started by a service manager).
Status NotifyServiceManager(std::string_view state);

// The same to an explicit socket address (what $NOTIFY_SOCKET holds).
Status NotifySocket(const std::string& address, std::string_view state);

}  // namespace peapod::runtime
