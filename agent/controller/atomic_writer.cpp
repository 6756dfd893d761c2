#include "atomic_writer.h"

namespace peapod::agent::controller {

Status WriteAtomicVolume(const std::string& dir, const std::map<std::string, std::string>&,
                         int32_t) {
  return Fail(ErrorCode::kUnimplemented, "write volume " + dir + ": not implemented yet");
}

}  // namespace peapod::agent::controller
