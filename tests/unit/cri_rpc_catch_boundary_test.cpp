// The RPC handlers' catch boundary (peapod/cri/rpc_catch_boundary.h): a handler that throws
// fails its call with INTERNAL naming the method, and the server goes on serving.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <stdexcept>

#include "cri/proto/api.grpc.pb.h"
#include "peapod/cri/rpc_catch_boundary.h"

namespace peapod::cri {
namespace {

namespace v1 = ::runtime::v1;

class ThrowingRuntime final : public v1::RuntimeService::Service {
 public:
  grpc::Status Version(grpc::ServerContext*, const v1::VersionRequest* req,
                       v1::VersionResponse* resp) override {
    if (req->version() == "throw") throw std::out_of_range("stoll");
    resp->set_runtime_name("peapod");
    return grpc::Status::OK;
  }
  grpc::Status Status(grpc::ServerContext*, const v1::StatusRequest*,
                      v1::StatusResponse*) override {
    return grpc::Status(grpc::StatusCode::UNKNOWN, "a handler's own UNKNOWN is left alone");
  }
};

TEST(RpcCatchBoundary, AHandlerThatThrowsFailsItsCallWithInternalAndTheServerServesOn) {
  ThrowingRuntime service;
  grpc::ServerBuilder builder;
  builder.RegisterService(&service);
  builder.experimental().SetInterceptorCreators(RpcCatchBoundary());
  auto server = builder.BuildAndStart();
  ASSERT_NE(server, nullptr);
  auto stub = v1::RuntimeService::NewStub(server->InProcessChannel(grpc::ChannelArguments()));

  for (int i = 0; i < 3; ++i) {
    grpc::ClientContext ctx;
    v1::VersionRequest req;
    req.set_version("throw");
    v1::VersionResponse resp;
    auto status = stub->Version(&ctx, req, &resp);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INTERNAL);
    EXPECT_NE(status.error_message().find("/runtime.v1.RuntimeService/Version"), std::string::npos)
        << status.error_message();
  }
  grpc::ClientContext ok_ctx;
  v1::VersionResponse ok;
  ASSERT_TRUE(stub->Version(&ok_ctx, v1::VersionRequest(), &ok).ok());
  EXPECT_EQ(ok.runtime_name(), "peapod");
  grpc::ClientContext own_ctx;
  v1::StatusResponse own;
  auto status = stub->Status(&own_ctx, v1::StatusRequest(), &own);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNKNOWN);
  EXPECT_EQ(status.error_message(), "a handler's own UNKNOWN is left alone");
  server->Shutdown();
}

}  // namespace
}  // namespace peapod::cri
