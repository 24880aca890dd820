#pragma once

// What the parts of the node facade share (src/node/*.cpp, one file per
// responsibility): the actor system, the store, the runtime the actors see,
// and the few helpers every call uses (ask an actor, find one by id through
// the router, commit a batch, authorize).

#include <atomic>
#include <map>
#include <mutex>
#include <optional>
#include <unordered_map>

#include <caf/all.hpp>

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

  /// failed_precondition on a node without a store, naming what needs one.
  expected<void> need_store(const char* what) const;

  /// The behaviour of external agent `id`, or why there is none.
  expected<std::shared_ptr<external_behavior>> external(const agent_id& id);

  // -- parts (see their files) --------------------------------------------------
  expected<size_t> introduce(const principal& p, std::vector<agent_spec>& specs);   // agents.cpp
  void spawn_agent(manifest m, std::shared_ptr<agent_behavior> behavior);          // agents.cpp
  expected<room> make_room(room r);                                                // rooms.cpp
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
