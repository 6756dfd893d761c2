// The one mapping from peapod's Error to a gRPC status: codes 1:1, the message as the user
// would read it (with strerror when the error came from a syscall).
#pragma once

#include <grpcpp/support/status.h>

#include "peapod/error.h"

namespace peapod::cri {

grpc::StatusCode ToGrpcCode(ErrorCode code);
grpc::Status ToGrpcStatus(const Error& error);

// OK for success, the mapped error otherwise.
inline grpc::Status ToGrpcStatus(const peapod::Status& status) {
  return status ? grpc::Status::OK : ToGrpcStatus(status.error());
}

}  // namespace peapod::cri
