#pragma once

// What every service of the API shares: the node, the options, who calls
// (authenticator), what they may hold (admission), and the drain state. One
// service class per proto service; each handler finds its principal,
// decodes, calls the node with it (the node authorizes) and encodes.

#include <atomic>
#include <functional>
#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>

#include "api/admission.hpp"
#include "api/auth.hpp"
#include "api/streams.hpp"
#include "parley/api/server.hpp"
#include "parley/v1/api.grpc.pb.h"

namespace parley::api {

struct api_state {
  api_state(node& n, server_options o)
    : n(n), opt(std::move(o)), auth(std::make_shared<authenticator>(opt.auth)), admit(opt.limits) {}

  node& n;
  server_options opt;
  std::shared_ptr<authenticator> auth;
  admission admit;
  timestamp started_at = 0;
  /// Transport security and how callers are authenticated, for logs.
  std::string security;
  std::atomic<bool> draining{false};
  /// The open streams, which begin_drain() ends.
  stream_registry streams;
  /// Set once the server runs: a drain that comes before flips health then.
  std::atomic<grpc::Server*> grpc_server{nullptr};
  std::atomic<grpc::Server*> health_server{nullptr}; // api.health_listen's


  /// New calls get UNAVAILABLE, health says NOT_SERVING, open streams
  /// end. Safe from any thread, also before the server has started.
  void begin_drain();
};

/// The call's principal (the transport's processor verified it before the
/// handler ran; this finds it again), or UNAUTHENTICATED.
expected<principal> caller_of(const grpc::ServerContextBase& ctx, api_state& st);

/// UNAVAILABLE while draining.
grpc::Status open_for_calls(const api_state& st);

std::unique_ptr<grpc::Service> make_agents_service(api_state& st);
std::unique_ptr<grpc::Service> make_rooms_service(api_state& st);
std::unique_ptr<grpc::Service> make_turns_service(api_state& st);
std::unique_ptr<grpc::Service> make_messages_service(api_state& st);
std::unique_ptr<grpc::Service> make_events_service(api_state& st);
std::unique_ptr<grpc::Service> make_admin_service(api_state& st);
std::unique_ptr<grpc::Service> make_link_service(api_state& st);
/// Between nodes (src/federation/peer_service.cpp).
std::unique_ptr<grpc::Service> make_federation_service(api_state& st);

} // namespace parley::api
