// Catch boundaries: the places (thread entry points, request handlers) where an exception that
// nobody expected must become a logged error instead of reaching std::terminate and ending the
// agent, with every pod it supervises. Code inside still fails through Result; this is the net.
#pragma once

#include <exception>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <utility>

#include "peapod/error.h"

namespace peapod {

// Logs "<what>: unexpected exception: <detail>" as an error and returns it as kInternal.
Error UnexpectedException(std::string_view what, std::string_view detail) noexcept;

// Runs `body` (returning void or Status); an exception escaping it is logged and returned as
// a kInternal Error naming `what`.
template <typename F>
Status CatchAll(std::string_view what, F&& body) noexcept {
  try {
    if constexpr (std::is_void_v<std::invoke_result_t<F&>>) {
      body();
      return Ok();
    } else {
      return body();
    }
  } catch (const std::exception& e) {
    return std::unexpected(UnexpectedException(what, e.what()));
  } catch (...) {
    return std::unexpected(UnexpectedException(what, "not a std::exception"));
  }
}

// A std::thread whose whole body runs inside CatchAll(what, ...).
template <typename F>
std::thread StartGuardedThread(std::string what, F body) {
  return std::thread(
      [what = std::move(what), body = std::move(body)]() mutable { (void)CatchAll(what, body); });
}

}  // namespace peapod
