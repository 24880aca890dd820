#pragma once

// Who is calling: the one place a call's credentials become its principal.
// A bearer token (metadata `authorization: Bearer <token>`, verified with
// parley/auth/token.hpp), else a verified client certificate, else, on a
// development node without credentials, the local admin. The claim a caller
// makes about itself is never trusted on its own.
//
// Verified once, before any handler runs: the transport's auth processor
// calls authenticate() and refuses the call (UNAUTHENTICATED) on failure.
// gRPC's auth context is shared by all calls of a connection, so the
// principal cannot be handed over there; the handler asks again and finds
// the verified token in a small cache.

#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include <grpcpp/grpcpp.h>
#include <grpcpp/security/auth_metadata_processor.h>

#include "parley/api/server.hpp"
#include "parley/auth/principal.hpp"

namespace parley::api {

class authenticator {
public:
  explicit authenticator(auth_options o);

  /// The principal of a call: `authorization` is the header's value (empty
  /// if none), `ctx` the connection's auth context (certificate). Fails with
  /// unauthenticated naming what is missing or wrong. Thread-safe.
  expected<principal> authenticate(std::string_view authorization, const grpc::AuthContext* ctx);

  /// Calls that need no principal: health checks (probes) and reflection.
  static bool exempt(std::string_view path) noexcept;

  const auth_options& options() const noexcept { return opt_; }

private:
  expected<principal> from_token(std::string_view token);

  auth_options opt_;
  struct cached {
    principal who;
    int64_t expires_at = 0;
  };
  std::mutex mtx_;
  // Verified tokens (the whole token is the key), oldest first in order_.
  std::unordered_map<std::string, cached> cache_;
  std::deque<std::string> order_;
};

/// The transport's hook: runs authenticate() for every call before its
/// handler; an exempt path passes.
std::shared_ptr<grpc::AuthMetadataProcessor> make_auth_processor(std::shared_ptr<authenticator> a);

} // namespace parley::api
