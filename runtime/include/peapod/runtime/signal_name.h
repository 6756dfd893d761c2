// Signal names as `kill -l` knows them, for every place a user names a signal (an image's
// StopSignal, a pod's lifecycle.stopSignal, CRI): one parser, which never throws.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace peapod::runtime {

// "SIGTERM", "term", "15", "SIGRTMIN+3", "RTMIN+3", "SIGRTMAX-2", "RTMAX" -> the number (the
// real-time ones as glibc numbers them: SIGRTMIN is 34). Case and a SIG prefix do not matter.
// Anything else, or a number outside 1..SIGRTMAX -> nullopt.
std::optional<int> ParseSignal(std::string_view name);

// The name `kill -l` prints, with SIG: "SIGTERM", "SIGRTMIN+3"; the number for others.
std::string SignalName(int number);

}  // namespace peapod::runtime
