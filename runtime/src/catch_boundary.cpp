#include "peapod/catch_boundary.h"

#include <spdlog/spdlog.h>

#include <string>

namespace peapod {

Error UnexpectedException(std::string_view what, std::string_view detail) noexcept {
  try {
    std::string message = std::string(what) + ": unexpected exception: " + std::string(detail);
    spdlog::error("{}", message);
    return Error{ErrorCode::kInternal, 0, std::move(message)};
  } catch (...) {
    // Out of memory while reporting: the caller still gets an error, without the words.
    return Error{};
  }
}

}  // namespace peapod
