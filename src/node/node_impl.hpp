#pragma once

// What the parts of the node facade share (src/node/*.cpp, one file per
// responsibility): the actor system, the store, the runtime the actors see,
// and the few helpers every call uses (ask an actor, find one by id through
// the router, commit a batch, authorize).

#include <atomic>
#include <coroutine>
#include <functional>
#include <thread>
#include <tuple>
#include <map>
#include <mutex>
#include <shared_mutex>
#include <optional>
#include <unordered_map>

#include <caf/all.hpp>

#include "actors/call_relay.hpp"
#include "actors/deferred_writes.hpp"
#include "actors/logger_pin.hpp"
#include "actors/messages.hpp"
#include "actors/runtime.hpp"
#include "node/call_deadlines.hpp"
#include "node/direct_call.hpp"
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
    logger_unpin_guard unpin;
    caf::scoped_actor self{sys};
    std::optional<expected<T>> out;
    self->request(dest, caf::timespan{cfg.call_timeout}, std::forward<Ts>(xs)...)
      .receive([&](T& v) { out.emplace(std::move(v)); },
               [&](caf::error& e) { out.emplace(unexpected{from_caf(e, sys)}); });
    return std::move(*out);
  }

  /// Resumes an awaiting coroutine once with `value`: when the answer put
  /// it there and called finish(), or else (the node stopped and its relay
  /// dropped the job or the pending answer) when the last copy goes, with
  /// what `value` held then (`stopped` for what never came), so no caller
  /// waits forever. Shared by a relay job and the handlers of its answers.
  template <class Result>
  struct relay_call {
    relay_call(std::optional<Result>* out, std::coroutine_handle<> h, const std::function<Result()>& initial)
      : value(initial()), out(out), h(h) {}
    ~relay_call() { finish(); }
    relay_call(const relay_call&) = delete;
    relay_call& operator=(const relay_call&) = delete;
    void finish() {
      if (std::exchange(finished, true))
        return;
      out->emplace(std::move(value));
      h.resume(); // may end the coroutine, and the awaiter that owns *out
    }
    Result value;
    std::optional<Result>* out;
    std::coroutine_handle<> h;
    bool finished = false;
  };

  /// The awaiter of a job that a call relay runs: `job(self, call)` sends
  /// requests as the relay and finishes `call` from their answers.
  template <class Result>
  class relay_awaiter {
  public:
    using call_ptr = std::shared_ptr<relay_call<Result>>;
    using job_fn = std::function<void(caf::event_based_actor*, call_ptr)>;

    /// `initial()`: what the call finishes with if nothing answers.
    /// `relay`: the relay to run the job (invalid: the next in turn).
    relay_awaiter(impl& im, job_fn job, std::function<Result()> initial, caf::actor relay = {})
      : im_(im), job_(std::move(job)), initial_(std::move(initial)), relay_(std::move(relay)) {}

    bool await_ready() {
      if (!im_.stopping)
        return false;
      out_.emplace(initial_());
      return true;
    }
    void await_suspend(std::coroutine_handle<> h) {
      auto call = std::make_shared<relay_call<Result>>(&out_, h, initial_);
      relay_job job{[call, job = std::move(job_)](caf::event_based_actor* self) { job(self, call); }};
      caf::anon_send(relay_ ? relay_ : im_.next_relay(), atoms::relay::value, std::move(job));
    }
    Result await_resume() { return std::move(*out_); }

  private:
    impl& im_;
    job_fn job_;
    // A function, not a value: g++ 12 warns (wrongly: -Wmaybe-uninitialized)
    // when an expected<room> is moved into the call.
    std::function<Result()> initial_;
    caf::actor relay_;
    std::optional<Result> out_;
  };

  template <class T>
  using ask_result = std::conditional_t<std::is_same_v<T, caf::ok_atom>, expected<void>, expected<T>>;

  // Sends one request as `self`; its answer (or error) goes to `put`.
  template <class T, class Put, class... Ts>
  static void request_as(caf::event_based_actor* self, const caf::actor& dest, caf::timespan timeout,
                         Put put, Ts&&... xs) {
    self->request(dest, timeout, std::forward<Ts>(xs)...)
      .then(
        [put](T& v) {
          if constexpr (std::is_same_v<T, caf::ok_atom>)
            put(expected<void>{});
          else
            put(std::move(v));
        },
        [put, self](caf::error& e) { put(unexpected{from_caf(e, self->system())}); });
  }

  /// The asynchronous ask: `co_await im.ask_async<T>(dest, xs...)` gives
  /// expected<T> (expected<void> for T = caf::ok_atom) without holding a
  /// thread. A call relay (actors/call_relay.hpp) sends the request and
  /// resumes the awaiting coroutine from the answer, on a scheduler thread
  /// (so what follows must not block). Await it straight from the call:
  /// g++ 12 destroys a braced temporary in a co_await twice.
  template <class T, class... Ts>
  relay_awaiter<ask_result<T>> ask_async(caf::actor dest, Ts&&... xs) {
    return ask_async_on<T>(caf::actor{}, std::move(dest), std::forward<Ts>(xs)...);
  }
  /// ask_async through `relay` (invalid: the next in turn). Asks made in
  /// order through one relay reach `dest` in that order (relay_for).
  template <class T, class... Ts>
  relay_awaiter<ask_result<T>> ask_async_on(caf::actor relay, caf::actor dest, Ts&&... xs) {
    using result = ask_result<T>;
    auto job = [timeout = caf::timespan{cfg.call_timeout}, dest = std::move(dest), args = std::tuple<std::decay_t<Ts>...>(std::forward<Ts>(xs)...)](
                 caf::event_based_actor* self, std::shared_ptr<relay_call<result>> call) mutable {
      std::apply(
        [&](auto&... x) {
          request_as<T>(self, dest, timeout, [call](result r) {
            call->value = std::move(r);
            call->finish();
          }, std::move(x)...);
        },
        args);
    };
    return relay_awaiter<result>(*this, std::move(job), [] { return result{stopped()}; }, std::move(relay));
  }

  /// A direct call (node/direct_call.hpp): `send(sink)` sends `n` requests,
  /// each with reply_to<T>{sink, slot}; the answering actors complete it.
  template <class T, class Send>
  direct_call<T, Send> call_direct(size_t n, Send& send) {
    return direct_call<T, Send>(deadlines, stopping, n, send);
  }

  template <class... Ts>
  expected<void> ask_ok(const caf::actor& dest, Ts&&... xs) {
    auto r = ask<caf::ok_atom>(dest, std::forward<Ts>(xs)...);
    if (!r)
      return unexpected{r.error()};
    return {};
  }

  /// The actor of agent / room `id` (validated), through the router; a
  /// dormant agent wakes.
  expected<caf::actor> agent(const agent_id& id);
  /// Whether agent `id` (validated) exists, without waking it: for reads
  /// served from the store.
  expected<void> known_agent(const agent_id& id);
  expected<caf::actor> room_actor(const room_id& id);
  /// The agent's actor if it exists and is not retired (asks it: callers
  /// on gRPC's callback threads must not wait for an actor).
  task<expected<caf::actor>> live_agent_async(agent_id id);
  /// The room as its moderator sees it now (for authorize()).
  expected<room> room_facts(const room_id& id);
  task<expected<room>> room_facts_async(room_id id);
  /// Resumes after `d` on a relay's thread (a coroutine's short wait; no
  /// thread sleeps).
  relay_awaiter<expected<void>> pause_async(std::chrono::milliseconds d);

  /// Commits `b` through the node's writer and waits until it is durable.
  expected<commit_outcome> commit(storage::write_batch b);
  /// `relay`: see ask_async_on (commits through one relay reach the writer,
  /// and are answered, in order).
  task<expected<commit_outcome>> commit_async(storage::write_batch b, caf::actor relay = {});

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
  caf::actor spawn_agent_actor(manifest m, std::shared_ptr<agent_behavior> behavior); // agents.cpp
  std::shared_ptr<agent_behavior> behavior_of(const agent_id& id, const behavior_spec& spec); // agents.cpp
  caf::actor wake_agent(const agent_id& id);                                       // activation.cpp
  std::optional<manifest> dormant_manifest(const agent_id& id);                    // activation.cpp
  task<expected<room>> make_room(room r);                                          // rooms.cpp
  void remember_room(const room& r);                                               // rooms.cpp
  expected<void> recover();                                                        // recovery.cpp
  struct recovered_counts {
    size_t agents = 0;
    size_t rooms = 0;
    size_t turns = 0;
    size_t inbox = 0;
    size_t orphans = 0;
    /// Agents and rooms stored here whose shard another node owns (or that
    /// is moving): kept, not served.
    size_t elsewhere = 0;
    uint64_t highest_delivery = 0;
  };
  expected<void> recover_records(std::string_view prefix, recovered_counts& got);  // recovery.cpp
  expected<uint64_t> retention_pass();                                             // retention.cpp
  void join_network();                                                             // federation.cpp
  /// OK when this node serves `id`'s shard; else unavailable, naming the
  /// node that does (or that none does yet).
  expected<void> serves(const std::string& id) const;                              // federation.cpp
  /// Hands `req` about `target` to the owner of its shard, resolving it
  /// again (a few times) while the owner answers that it is stale.
  task<expected<federation::remote_reply>> forward(federation::remote_request req, std::string target); // federation.cpp
  /// The same for a request that names only its agent (`limit`: inbox reads).
  task<expected<federation::remote_reply>> forward(federation::remote_request::kind what, principal caller,
                                                   agent_id id, uint32_t limit = 0); // federation.cpp
  /// A room call (`req.op`, `req.room`, ...) to the owner of the room's
  /// shard, or of the member's for a join.
  task<expected<federation::remote_reply>> forward_room(federation::remote_request req); // federation_rooms.cpp
  /// A page of the agents this node holds (of a room's members: wherever
  /// they live), and of every node's (in a network).
  expected<agent_page> agents_here(node& n, const principal& p, const agent_filter& f, size_t page_size,
                                   const std::string& after);                    // agents.cpp
  expected<agent_page> agents_everywhere(node& n, const principal& p, const agent_filter& f, size_t page_size,
                                         const std::string& after);              // federation_listings.cpp
  /// A page of the rooms this node holds that `p` may see, and of every
  /// node's (in a network).
  expected<room_page> rooms_here(node& n, const principal& p, size_t page_size, const std::string& after); // rooms.cpp
  expected<room_page> rooms_everywhere(node& n, const principal& p, size_t page_size,
                                       const std::string& after);                 // federation_listings.cpp
  /// `req` to node `peer` itself (a request not about a shard).
  task<expected<federation::remote_reply>> ask_node(std::string peer, federation::remote_request req); // federation_listings.cpp
  /// Whether agent `id` exists and is not retired, here or on its node (the
  /// members a room of this node names may live anywhere).
  task<expected<void>> agent_exists_async(agent_id id);                           // federation_rooms.cpp
  /// Creates group room `spec` (its id chosen) here, or on the owner of its
  /// shard.
  task<expected<room>> create_group(principal p, agent_id creator, group_spec spec); // rooms.cpp
  /// What another node asks of this one's rooms and members.
  task<expected<federation::remote_reply>> serve_room_call(node& n, federation::remote_request r); // federation_rooms.cpp
  task<expected<federation::remote_reply>> serve_room_post(federation::remote_request r);   // federation_rooms.cpp
  task<expected<federation::remote_reply>> serve_room_delivery(federation::remote_request r); // federation_rooms.cpp
  /// Erasure (erasure.cpp): the agent here, and what this node keeps of an
  /// agent of another node.
  expected<erasure> erase_here(const principal& p, const agent_id& id);
  expected<erasure> scrub_here(const agent_id& id);
  /// An erase, tombstone read or scrub another node asks for.
  task<expected<federation::remote_reply>> serve_erasure(node& n, federation::remote_request r); // erasure.cpp
  /// Runs `fn` (blocking: scans, compactions, waits) on the janitor's
  /// thread and resumes there with its result.
  template <class T>
  relay_awaiter<expected<T>> on_janitor(std::function<expected<T>()> fn) {
    auto job = [fn = std::move(fn)](caf::event_based_actor*, std::shared_ptr<relay_call<expected<T>>> call) {
      call->value = fn();
      call->finish();
    };
    return relay_awaiter<expected<T>>(*this, std::move(job), [] { return expected<T>{stopped()}; }, janitor);
  }
  /// Shard moves (shard_moves.cpp): the thread that hands this node's
  /// shards to others, and what a node taking one in does.
  void start_mover(std::vector<shard_id> shards, bool whole_node, std::string target = {});
  void run_mover(std::vector<shard_id> shards, bool whole_node, const std::string& target);
  /// Moves shard `s` to `target` (empty: the up member with the fewest).
  expected<void> move_shard(shard_id s, const std::string& target);
  expected<void> release_shard(shard_id s);
  void roll_back(shard_id s);
  expected<federation::remote_reply> peer_call_blocking(const std::string& peer, federation::remote_request r,
                                                        std::chrono::milliseconds timeout);
  task<expected<federation::remote_reply>> serve_shard_move(federation::remote_request r);
  expected<void> take_chunk(const federation::remote_request& r);
  expected<void> adopt_shard(const federation::remote_request& r);
  /// Shards left half-moved by a crash of this node: moved on at start.
  void resume_moves();
  /// Sends again what the durable outbox holds (a crash or a stop left it
  /// there): handed to the gateway before any new message.
  void resume_outbox();
  mutable std::mutex mover_mtx;
  std::thread mover;
  node::hand_off_state hand_off;
  /// The coordinator's calls to rebalance() since a shard last moved.
  uint32_t quiet_rebalances = 0;
  /// A long poll of this node's event log (events_since).
  task<expected<federation::remote_reply>> serve_events(node& n, federation::remote_request r); // network_events.cpp
  /// Generated room ids in a network: "room-<salt>.<n>", the salt drawn at
  /// start, so that nodes generating ids at once do not collide.
  uint32_t room_salt = 0;

  node_config cfg;
  // Before sys: the store outlives every actor that writes to it.
  std::unique_ptr<storage::state_store> store;
  // Changes written behind (rt.deferred), also outliving the actors.
  deferred_writes deferred;
  caf::actor_system_config caf_cfg;
  caf::actor_system sys;
  runtime rt;
  std::atomic<bool> stopping{false};
  /// Held (shared) by whoever spawns and publishes an actor at run time
  /// (an agent, a room), and (exclusive) by stop() as it sets `stopping`:
  /// an actor is either published before stop() collects the actors to
  /// stop, or not made at all (one made after would never be asked to quit,
  /// and the actor system would wait for it forever).
  std::shared_mutex life_mtx;
  // The call timeout of direct calls, and the actor that enforces it.
  call_deadlines deadlines;
  caf::actor sweeper;
  // Relays for the asynchronous calls (ask_async), taken in turn.
  std::vector<caf::actor> relays;
  std::atomic<size_t> relay_turn{0};
  // (The handles stay after stop: a racing call then meets a dead relay.)
  /// The relay of everything about `key` that must stay in order (a
  /// room's requests from a peer link).
  const caf::actor& relay_for(std::string_view key) const {
    return relays[std::hash<std::string_view>{}(key) % relays.size()];
  }
  const caf::actor& next_relay() {
    return relays[relay_turn.fetch_add(1, std::memory_order_relaxed) % relays.size()];
  }
  std::atomic<uint64_t> next_room{1};
  std::atomic<uint64_t> next_message{1};
  size_t recovered_turns = 0;
  std::mutex driver_mtx;
  caf::actor driver;
  caf::actor janitor;
  // The rooms of dormant agents (recovered, not woken yet): the one fact of
  // an agent's manifest that is not in its record. Taken when it wakes.
  std::mutex dormant_mtx;
  std::unordered_map<agent_id, std::vector<room_id>> dormant_rooms;
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
