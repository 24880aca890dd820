#pragma once

// The frame every handler runs in: refuse while draining, find the caller's
// principal, take one request from its rate budget, run the body with it,
// and turn an escaped exception into INTERNAL (a bug, by definition here).

#include <string>

#include "api/services.hpp"
#include "api/status.hpp"

namespace parley::api {

inline grpc::Status fail(const api_state& st, grpc::ServerContext* ctx, const error& e) {
  return to_status(e, ctx, st.opt.retry_after_ms);
}

template <class F>
grpc::Status handle(api_state& st, grpc::ServerContext* ctx, F body) {
  if (auto s = open_for_calls(st); !s.ok())
    return s;
  auto who = caller_of(*ctx, st);
  if (!who)
    return to_status(who.error());
  int wait_ms = 0;
  if (auto ok = st.admit.admit_request(*who, &wait_ms); !ok)
    return to_status(ok.error(), ctx, wait_ms);
  try {
    return body(*who);
  } catch (const std::exception& e) {
    return {grpc::StatusCode::INTERNAL, std::string{"internal error: "} + e.what()};
  }
}

inline size_t page_size_or(uint32_t asked, size_t fallback) {
  return asked == 0 ? fallback : asked;
}

} // namespace parley::api
