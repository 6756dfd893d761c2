// The catch boundary of every RPC handler (CRI runtime and image services, peapod's pod API).
// gRPC's handler wrapper already catches what a handler throws and answers UNKNOWN "Unexpected
// error in RPC handling", silently; this interceptor logs it as an error naming the method and
// answers INTERNAL, so an exception in a handler is a failed call, seen, never std::terminate.
#pragma once

#include <grpcpp/support/server_interceptor.h>

#include <memory>
#include <vector>

namespace peapod::cri {

std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
RpcCatchBoundary();

}  // namespace peapod::cri
