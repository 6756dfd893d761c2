// Error and Result: the one way a peapod function fails.
// An Error carries a code that maps onto a gRPC status, the errno where there was one, and a
// message with the context a user needs to act on it.
#pragma once

#include <cerrno>
#include <expected>
#include <string>
#include <string_view>
#include <utility>

namespace peapod {

enum class ErrorCode {
  kInvalidArgument,
  kNotFound,
  kAlreadyExists,
  kFailedPrecondition,
  kDeadlineExceeded,
  kPermissionDenied,
  kResourceExhausted,
  kUnavailable,
  kUnimplemented,
  kInternal,
};

std::string_view ErrorCodeName(ErrorCode code);

struct Error {
  ErrorCode code = ErrorCode::kInternal;
  int sys_errno = 0;  // 0 when the failure did not come from a syscall
  std::string message;

  // "message" or "message: strerror(errno)".
  std::string ToString() const;
  // Prefixes the message with what the caller was doing: "start container x: <message>".
  Error&& Context(std::string_view what) &&;
};

template <typename T>
using Result = std::expected<T, Error>;
using Status = std::expected<void, Error>;

inline std::unexpected<Error> Fail(ErrorCode code, std::string message) {
  return std::unexpected(Error{code, 0, std::move(message)});
}

// A failed syscall: the message says what was being done, errno says why.
// ENOENT is kFailedPrecondition, never kNotFound: kNotFound is the CRI's "no such id", which
// kubelet reads as "already gone" on a stop or remove. A file missing deep inside a verb (a
// binary, a namespace pin, a bind source, a plugin) is a failure of that verb, so only an id
// lookup says kNotFound, explicitly.
inline std::unexpected<Error> FailErrno(std::string what, int err = errno) {
  ErrorCode code = ErrorCode::kInternal;
  if (err == ENOENT) code = ErrorCode::kFailedPrecondition;
  if (err == EEXIST) code = ErrorCode::kAlreadyExists;
  if (err == EINVAL) code = ErrorCode::kInvalidArgument;
  if (err == EPERM || err == EACCES) code = ErrorCode::kPermissionDenied;
  if (err == ETIMEDOUT) code = ErrorCode::kDeadlineExceeded;
  return std::unexpected(Error{code, err, std::move(what)});
}

inline Status Ok() { return {}; }

}  // namespace peapod
