#pragma once

// The one place a parley::error becomes a gRPC status.

#include <grpcpp/grpcpp.h>

#include "parley/error.hpp"

namespace parley::api {

/// The status code of each errc. storage_failure is UNAVAILABLE: the write
/// did not happen and nothing changed, so a retry is safe; INTERNAL is
/// kept for real bugs.
grpc::StatusCode status_code(errc e) noexcept;

grpc::Status to_status(const error& e);

/// A status for a call that may carry a retry hint: for overloaded, adds
/// the trailer retry-after-ms to `ctx`.
grpc::Status to_status(const error& e, grpc::ServerContextBase* ctx, int retry_after_ms);

/// The errc a status code maps back to (clients, tests).
errc from_status_code(grpc::StatusCode c) noexcept;

} // namespace parley::api
