#include "peapod/cri/rpc_catch_boundary.h"

#include <spdlog/spdlog.h>

#include <string>

namespace peapod::cri {
namespace {

namespace gx = grpc::experimental;

// What grpc::internal::CatchingFunctionHandler answers for an exception (grpcpp 1.51).
constexpr char kCaughtByGrpc[] = "Unexpected error in RPC handling";

class ExceptionReporter final : public gx::Interceptor {
 public:
  explicit ExceptionReporter(const char* method) : method_(method ? method : "RPC") {}

  void Intercept(gx::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(gx::InterceptionHookPoints::PRE_SEND_STATUS)) {
      grpc::Status status = methods->GetSendStatus();
      if (status.error_code() == grpc::StatusCode::UNKNOWN &&
          status.error_message() == kCaughtByGrpc) {
        spdlog::error("{}: unexpected exception in the handler", method_);
        methods->ModifySendStatus(
            grpc::Status(grpc::StatusCode::INTERNAL,
                         std::string(method_) + ": unexpected exception in peapodd (see its log)"));
      }
    }
    methods->Proceed();
  }

 private:
  const char* method_;  // gRPC's own string, alive as long as the method is registered
};

class ExceptionReporterFactory final : public gx::ServerInterceptorFactoryInterface {
 public:
  gx::Interceptor* CreateServerInterceptor(gx::ServerRpcInfo* info) override {
    return new ExceptionReporter(info->method());
  }
};

}  // namespace

std::vector<std::unique_ptr<gx::ServerInterceptorFactoryInterface>> RpcCatchBoundary() {
  std::vector<std::unique_ptr<gx::ServerInterceptorFactoryInterface>> out;
  out.push_back(std::make_unique<ExceptionReporterFactory>());
  return out;
}

}  // namespace peapod::cri
