// Failure injection for recovery tests: PEAPOD_CRASH_AT=<name> makes the agent _exit(137) at
// the named point, as a kill -9 would, so every window between two side effects can be hit
// deterministically (a real kill cannot aim at one). Unset, a crash point is one pointer test.
#pragma once

#include <unistd.h>

#include <cstdlib>
#include <cstring>

namespace peapod::agent {

// The variable is read once, at the first crash point the agent passes.
inline const char* CrashPointName() {
  static const char* const name = [] {
    const char* v = std::getenv("PEAPOD_CRASH_AT");
    return v != nullptr && *v != '\0' ? v : nullptr;
  }();
  return name;
}

inline void CrashPoint(const char* name) {
  const char* at = CrashPointName();
  if (at != nullptr && std::strcmp(at, name) == 0) ::_exit(137);
}

}  // namespace peapod::agent
