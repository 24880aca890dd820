#pragma once

// What every service of the API shares: the node, the options, who calls,
// and the drain state. One service class per proto service.

#include <atomic>
#include <functional>
#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>

#include "parley/api/server.hpp"
#include "parley/v1/api.grpc.pb.h"

namespace parley::api {

struct api_state {
  node& n;
  server_options opt;
  timestamp started_at = 0;
  std::atomic<bool> draining{false};
  /// Called by Admin.Drain (the server flips health and ends streams).
  std::function<void()> begin_drain;
};

/// Who a call acts for: the agent named in metadata parley-agent, and
/// whether it presented the admin token (or the node has none).
struct caller_info {
  std::string agent;
  bool admin = false;
};

caller_info caller_of(const grpc::ServerContext& ctx, const api_state& st);

/// OK when the caller is `who` or an admin; else PERMISSION_DENIED naming
/// what was attempted.
grpc::Status acts_as(const caller_info& c, const std::string& who, const std::string& what);

/// UNAVAILABLE while draining.
grpc::Status open_for_calls(const api_state& st);

std::unique_ptr<grpc::Service> make_agents_service(api_state& st);
std::unique_ptr<grpc::Service> make_rooms_service(api_state& st);
std::unique_ptr<grpc::Service> make_turns_service(api_state& st);
std::unique_ptr<grpc::Service> make_messages_service(api_state& st);
std::unique_ptr<grpc::Service> make_events_service(api_state& st);
std::unique_ptr<grpc::Service> make_admin_service(api_state& st);
std::unique_ptr<grpc::Service> make_link_service(api_state& st);

} // namespace parley::api
