// Writes a List* answer as a Stream* answer (KEP-5825): the items in order, a bounded number per
// message so no message nears gRPC's 16 MiB limit, each item exactly once, and no message at all
// for an empty list (every message must carry at least one item).
#pragma once

#include <grpcpp/grpcpp.h>

#include <cstddef>

#include "google/protobuf/repeated_ptr_field.h"

namespace peapod::cri {

// Items per message: a container or sandbox is about 1-2 KiB on the wire, stats a few KiB.
inline constexpr int kStreamBatchItems = 256;

// `items` is the repeated field of a filled List* response; `field` picks the same repeated
// field of a Stream* response. Returns CANCELLED when the client went away mid-stream.
template <typename Item, typename Response>
grpc::Status WriteInBatches(google::protobuf::RepeatedPtrField<Item>* items,
                            grpc::ServerWriter<Response>* writer,
                            google::protobuf::RepeatedPtrField<Item>* (Response::*field)()) {
  Response batch;
  auto flush = [&]() {
    if ((batch.*field)()->empty()) return true;
    bool ok = writer->Write(batch);
    batch.Clear();
    return ok;
  };
  for (auto& item : *items) {
    (batch.*field)()->Add(std::move(item));
    if ((batch.*field)()->size() >= kStreamBatchItems && !flush()) {
      return grpc::Status(grpc::StatusCode::CANCELLED, "the client closed the stream");
    }
  }
  if (!flush()) return grpc::Status(grpc::StatusCode::CANCELLED, "the client closed the stream");
  return grpc::Status::OK;
}

}  // namespace peapod::cri
