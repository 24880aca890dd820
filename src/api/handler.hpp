#pragma once

// The frame every handler runs in: refuse while draining, find the caller's
// principal, take one request from its rate budget, run the body with it,
// and turn an escaped exception into INTERNAL (a bug, by definition here).
// handle() runs a blocking body on a gRPC thread; handle_async() runs a
// coroutine that awaits the node's asynchronous calls, so no thread waits
// for an actor: the call finishes from the actor's answer.

#include <string>
#include <type_traits>

#include "api/services.hpp"
#include "api/status.hpp"

namespace parley::api {

inline grpc::Status fail(const api_state& st, grpc::ServerContextBase* ctx, const error& e) {
  return to_status(e, ctx, st.opt.retry_after_ms);
}

inline grpc::Status internal_error(const std::exception& e) {
  return {grpc::StatusCode::INTERNAL, std::string{"internal error: "} + e.what()};
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
    return internal_error(e);
  }
}

/// `body(st, principal, ctx, req, out)` returns task<grpc::Status>. It must
/// capture nothing: its coroutine outlives the lambda object, and a capture
/// would dangle (everything it needs comes as a parameter; req and out live
/// until the call finishes).
template <class Req, class Resp, class Body>
grpc::ServerUnaryReactor* handle_async(api_state& st, grpc::CallbackServerContext* ctx, const Req* req,
                                       Resp* out, Body body) {
  static_assert(std::is_empty_v<Body>, "an asynchronous handler body captures nothing");
  auto* reactor = ctx->DefaultReactor();
  if (auto s = open_for_calls(st); !s.ok()) {
    reactor->Finish(s);
    return reactor;
  }
  auto who = caller_of(*ctx, st);
  if (!who) {
    reactor->Finish(to_status(who.error()));
    return reactor;
  }
  int wait_ms = 0;
  if (auto ok = st.admit.admit_request(*who, &wait_ms); !ok) {
    reactor->Finish(to_status(ok.error(), ctx, wait_ms));
    return reactor;
  }
  try {
    start(
      body(st, std::move(*who), ctx, req, out),
      [reactor](grpc::Status s) { reactor->Finish(std::move(s)); }, internal_error);
  } catch (const std::exception& e) { // before the body's first suspension
    reactor->Finish(internal_error(e));
  }
  return reactor;
}

inline size_t page_size_or(uint32_t asked, size_t fallback) {
  return asked == 0 ? fallback : asked;
}

} // namespace parley::api
