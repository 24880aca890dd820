#include "api/status.hpp"

#include <string>

namespace parley::api {

grpc::StatusCode status_code(errc e) noexcept {
  switch (e) {
    case errc::invalid_argument: return grpc::StatusCode::INVALID_ARGUMENT;
    case errc::not_found: return grpc::StatusCode::NOT_FOUND;
    case errc::already_exists: return grpc::StatusCode::ALREADY_EXISTS;
    case errc::permission_denied: return grpc::StatusCode::PERMISSION_DENIED;
    case errc::failed_precondition: return grpc::StatusCode::FAILED_PRECONDITION;
    case errc::overloaded: return grpc::StatusCode::RESOURCE_EXHAUSTED;
    case errc::unavailable: return grpc::StatusCode::UNAVAILABLE;
    case errc::out_of_range: return grpc::StatusCode::OUT_OF_RANGE;
    // The write did not happen and state is unchanged: the caller may retry.
    case errc::storage_failure: return grpc::StatusCode::UNAVAILABLE;
    case errc::internal: return grpc::StatusCode::INTERNAL;
    case errc::unauthenticated: return grpc::StatusCode::UNAUTHENTICATED;
    // The outcome is unknown: only a send with an id is safe to retry.
    case errc::deadline_exceeded: return grpc::StatusCode::DEADLINE_EXCEEDED;
  }
  return grpc::StatusCode::INTERNAL;
}

grpc::Status to_status(const error& e) {
  return {status_code(e.code), e.message};
}

grpc::Status to_status(const error& e, grpc::ServerContextBase* ctx, int retry_after_ms) {
  if (e.code == errc::overloaded && ctx)
    ctx->AddTrailingMetadata("retry-after-ms", std::to_string(retry_after_ms));
  return to_status(e);
}

errc from_status_code(grpc::StatusCode c) noexcept {
  switch (c) {
    case grpc::StatusCode::INVALID_ARGUMENT: return errc::invalid_argument;
    case grpc::StatusCode::NOT_FOUND: return errc::not_found;
    case grpc::StatusCode::ALREADY_EXISTS: return errc::already_exists;
    case grpc::StatusCode::PERMISSION_DENIED: return errc::permission_denied;
    case grpc::StatusCode::FAILED_PRECONDITION: return errc::failed_precondition;
    case grpc::StatusCode::RESOURCE_EXHAUSTED: return errc::overloaded;
    case grpc::StatusCode::UNAVAILABLE: return errc::unavailable;
    case grpc::StatusCode::OUT_OF_RANGE: return errc::out_of_range;
    case grpc::StatusCode::UNAUTHENTICATED: return errc::unauthenticated;
    case grpc::StatusCode::DEADLINE_EXCEEDED: return errc::deadline_exceeded;
    default: return errc::internal;
  }
}

} // namespace parley::api
