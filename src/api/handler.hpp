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

/// The checks every call starts with: open for calls, who calls, one
/// request from its rate budget. OK and `who` set, or the status to end
/// the call with.
inline grpc::Status admit_call(api_state& st, grpc::ServerContextBase* ctx, principal& who) {
  if (auto s = open_for_calls(st); !s.ok())
    return s;
  auto p = caller_of(*ctx, st);
  if (!p)
    return to_status(p.error());
  int wait_ms = 0;
  if (auto ok = st.admit.admit_request(*p, &wait_ms); !ok)
    return to_status(ok.error(), ctx, wait_ms);
  who = std::move(*p);
  return grpc::Status::OK;
}

template <class F>
grpc::Status handle(api_state& st, grpc::ServerContext* ctx, F body) {
  principal who;
  if (auto s = admit_call(st, ctx, who); !s.ok())
    return s;
  try {
    return body(who);
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
  principal who;
  if (auto s = admit_call(st, ctx, who); !s.ok()) {
    reactor->Finish(s);
    return reactor;
  }
  try {
    start(
      body(st, std::move(who), ctx, req, out),
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
