#pragma once

// What the parts of the node facade share (src/node/*.cpp, one file per
// responsibility): the actor system, the store, the runtime the actors see,
// and the few helpers every call uses (ask an actor, find one by id through
// the router, commit a batch, authorize).

#include <atomic>
#include <coroutine>
#include <tuple>
#include <map>
#include <mutex>
#include <optional>
#include <unordered_map>

#include <caf/all.hpp>

#include "actors/call_relay.hpp"
#include "actors/messages.hpp"
#include "actors/runtime.hpp"
#include "parley/auth/access.hpp"
#include "parley/node/node.hpp"
#include "parley/storage/state_store.hpp"

namespace parley {

unexpected no_agent(const agent_id& id);
unexpected no_room(const room_id& id);
unexpected stopped();

/// The node's own principal, for the reads it makes to decide (the facts
/// authorize() needs) and the work it does by itself (recovery, retention).
inline const principal& node_principal() {
  static const principal p = principal::admin("node");
  return p;
}

struct node::impl {
  impl(node_config c, std::unique_ptr<storage::state_store> s);
  ~impl() { stop(); }

  void stop();

  /// Sends a request to `dest` and waits for the answer (deadline_exceeded
  /// after the call timeout: the request may still take effect).
  template <class T, class... Ts>
  expected<T> ask(const caf::actor& dest, Ts&&... xs) {
    if (stopping)
      return stopped();
    caf::scoped_actor self{sys};
    std::optional<expected<T>> out;
    self->request(dest, caf::timespan{cfg.call_timeout}, std::forward<Ts>(xs)...)
      .receive([&](T& v) { out.emplace(std::move(v)); },
               [&](caf::error& e) { out.emplace(unexpected{from_caf(e, sys)}); });
    return std::move(*out);
  }

  /// The asynchronous ask: `co_await im.ask_async<T>(dest, xs...)` gives
  /// expected<T> (expected<void> for T = caf::ok_atom) without holding a
  /// thread. A call relay (actors/call_relay.hpp) sends the request and
  /// resumes the awaiting coroutine from the answer, on a scheduler thread
  /// (so what follows must not block). Await it straight from the call:
  /// g++ 12 destroys a braced temporary in a co_await twice.
  template <class T, class... Ts>
  class ask_awaiter {
  public:
    using result = std::conditional_t<std::is_same_v<T, caf::ok_atom>, expected<void>, expected<T>>;

    ask_awaiter(impl& im, caf::actor dest, Ts... xs)
      : im_(im), dest_(std::move(dest)), args_(std::move(xs)...) {}

    bool await_ready() {
      if (!im_.stopping)
        return false;
      out_.emplace(stopped());
      return true;
    }
    void await_suspend(std::coroutine_handle<> h) {
      auto call = std::make_shared<pending>(this, h);
      relay_job job{[call, dest = dest_, timeout = caf::timespan{im_.cfg.call_timeout},
                     args = std::move(args_)](caf::event_based_actor* self) mutable {
        std::apply(
          [&](auto&... xs) {
            self->request(dest, timeout, std::move(xs)...)
              .then(
                [call](T& v) {
                  if constexpr (std::is_same_v<T, caf::ok_atom>)
                    call->finish(expected<void>{});
                  else
                    call->finish(std::move(v));
                },
                [call, self](caf::error& e) { call->finish(unexpected{from_caf(e, self->system())}); });
          },
          args);
      }};
      caf::anon_send(im_.next_relay(), atoms::relay::value, std::move(job));
    }
    result await_resume() { return std::move(*out_); }

  private:
    // Shared by the job and the answer's handlers: whichever finishes the
    // call first resumes it. If none does (the node stopped and its relay
    // dropped the job or the pending answer), the last copy to go resumes
    // it with `stopped`, so no caller waits forever.
    struct pending {
      pending(ask_awaiter* aw, std::coroutine_handle<> h) : aw(aw), h(h) {}
      ~pending() {
        if (!finished)
          finish(stopped());
      }
      void finish(result r) {
        if (std::exchange(finished, true))
          return;
        aw->out_.emplace(std::move(r));
        h.resume(); // may end the coroutine, and the awaiter with it
      }
      ask_awaiter* aw;
      std::coroutine_handle<> h;
      bool finished = false;
    };

    impl& im_;
    caf::actor dest_;
    std::tuple<Ts...> args_;
    std::optional<result> out_;
  };

  template <class T, class... Ts>
  ask_awaiter<T, std::decay_t<Ts>...> ask_async(caf::actor dest, Ts&&... xs) {
    return ask_awaiter<T, std::decay_t<Ts>...>(*this, std::move(dest), std::forward<Ts>(xs)...);
  }

  template <class... Ts>
  expected<void> ask_ok(const caf::actor& dest, Ts&&... xs) {
    auto r = ask<caf::ok_atom>(dest, std::forward<Ts>(xs)...);
    if (!r)
      return unexpected{r.error()};
    return {};
  }

  /// The actor of agent / room `id` (validated), through the router.
  expected<caf::actor> agent(const agent_id& id);
  expected<caf::actor> room_actor(const room_id& id);
  /// The agent's actor if it exists and is not retired.
  expected<caf::actor> live_agent(const agent_id& id);
  /// The room as its moderator sees it now (for authorize()).
  expected<room> room_facts(const room_id& id);

  /// Commits `b` through the node's writer and waits until it is durable.
  expected<commit_outcome> commit(storage::write_batch b);
  task<expected<commit_outcome>> commit_async(storage::write_batch b);

  /// failed_precondition on a node without a store, naming what needs one.
  expected<void> need_store(const char* what) const;

  /// The behaviour of external agent `id`, or why there is none.
  expected<std::shared_ptr<external_behavior>> external(const agent_id& id);

  // -- parts (see their files) --------------------------------------------------
  expected<size_t> introduce(const principal& p, std::vector<agent_spec>& specs);   // agents.cpp
  expected<void> reserve_agent(const principal& p, agent_spec& spec, timestamp now,
                               storage::write_batch& batch);                       // agents.cpp
  void start_agents(std::vector<agent_spec*> specs);                               // agents.cpp
  void spawn_agent(manifest m, std::shared_ptr<agent_behavior> behavior);          // agents.cpp
  task<expected<room>> make_room(room r);                                          // rooms.cpp
  void remember_room(const room& r);                                               // rooms.cpp
  expected<void> recover();                                                        // recovery.cpp
  expected<uint64_t> retention_pass();                                             // retention.cpp

  node_config cfg;
  // Before sys: the store outlives every actor that writes to it.
  std::unique_ptr<storage::state_store> store;
  caf::actor_system_config caf_cfg;
  caf::actor_system sys;
  runtime rt;
  std::atomic<bool> stopping{false};
  // Relays for the asynchronous calls (ask_async), taken in turn.
  std::vector<caf::actor> relays;
  std::atomic<size_t> relay_turn{0};
  // (The handles stay after stop: a racing call then meets a dead relay.)
  const caf::actor& next_relay() {
    return relays[relay_turn.fetch_add(1, std::memory_order_relaxed) % relays.size()];
  }
  std::atomic<uint64_t> next_room{1};
  std::atomic<uint64_t> next_message{1};
  size_t recovered_turns = 0;
  std::mutex driver_mtx;
  caf::actor driver;
  caf::actor janitor;
  // External agents' behaviours, for their links.
  std::mutex externals_mtx;
  std::unordered_map<agent_id, std::shared_ptr<external_behavior>> externals;
  // Room kinds and access never change: who may see a room is known without
  // asking its moderator (listing rooms asks no actor per room).
  mutable std::mutex rooms_mtx;
  std::unordered_map<room_id, bool> public_rooms;
  std::atomic<uint32_t> open_links{0};
  std::atomic<uint32_t> open_subscriptions{0};
  // Tombstones of a node without a store (a durable node keeps them there).
  std::mutex erasures_mtx;
  std::map<agent_id, erasure> erasures;
};

} // namespace parley
