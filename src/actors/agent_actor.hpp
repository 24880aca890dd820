#pragma once

#include <deque>
#include <memory>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "actors/messages.hpp"
#include "actors/runtime.hpp"
#include "parley/behavior/behavior.hpp"

namespace parley {

/// Input an agent holds beyond its inbox (the attention queue): room posts
/// that arrived while the inbox was full, and recovered entries beyond it.
/// On a durable node only the delivery numbers are kept (the messages stay
/// in the store and are read back as room frees up); in memory mode the
/// messages themselves. Order is arrival order; while anything waits here,
/// new input queues behind it, so no dialogue is served out of order.
struct inbox_backlog {
  std::deque<uint64_t> on_disk;
  std::deque<message> in_memory;
  /// Deliveries being read back from the store.
  size_t loading = 0;
  /// The agent told its rooms to hold posts back.
  bool saturated = false;

  size_t size() const noexcept { return on_disk.size() + in_memory.size() + loading; }
  bool empty() const noexcept { return size() == 0; }
};

/// Who gets the receipt of an API send: the requester (a response promise;
/// for node::post, nobody) or a caller outside the actor system that gave a
/// reply address (node/direct_call.hpp).
struct receipt_target {
  caf::typed_response_promise<send_receipt> rp;
  std::optional<receipt_reply> direct;

  void deliver(const caf::actor_system& sys, const caf::error* e, send_receipt r) {
    if (direct)
      (*direct)(e ? expected<send_receipt>{unexpected{from_caf(*e, sys)}} : expected<send_receipt>{r});
    else if (e)
      rp.deliver(*e);
    else
      rp.deliver(r);
  }
};

/// What only a busy agent needs, made on first use so that an idle agent
/// carries one pointer for all of it.
struct agent_extras {
  /// Status of messages sent via the API that asked for receipts: the newest
  /// few, oldest first.
  std::vector<std::pair<message_id, message_status>> tracked;
  /// Durable nodes: API sends being written, by id, with the retries of the
  /// same id that wait for the first's answer.
  std::unordered_map<message_id, std::vector<receipt_target>> sends_in_flight;
  /// External agents: deliveries marked read before the link was handed
  /// them (Messages.MarkRead); skipped when served. Bounded.
  std::unordered_set<uint64_t> read_ahead;
  inbox_backlog backlog;
  /// Hops of the messages served last (id -> hops), so that an answer an
  /// external agent sends with reply_to continues the chain. Bounded.
  std::deque<std::pair<message_id, uint32_t>> recent_hops;
};

/// One agent: its manifest, its attention queue (the bounded inbox) and its
/// behaviour. Kept small: a node holds a million of these.
struct agent_state {
  runtime* rt = nullptr;
  /// Public page; `skills` and `focus` stay empty here (see below).
  manifest man;
  /// Interned skills (shared with other agents that have the same skill).
  std::vector<std::shared_ptr<const skill>> skills;
  /// Made on first use (see attention()): an idle agent then carries a
  /// pointer instead of an empty queue of 128 bytes.
  std::unique_ptr<attention_queue> attention_queue_;
  std::shared_ptr<agent_behavior> behavior;
  std::unique_ptr<agent_extras> extras_;
  uint64_t next_message = 1;
  bool serve_scheduled = false;
  /// Direct messages accepted and being committed (pipelined durability),
  /// not yet in the queue. In the padding after serve_scheduled: no bytes
  /// added to an idle agent.
  uint16_t reserved = 0;
  static constexpr uint16_t max_reserved = UINT16_MAX;

  /// The attention queue (the bounded inbox), made on first use.
  attention_queue& attention() {
    if (!attention_queue_)
      attention_queue_ = std::make_unique<attention_queue>(&rt->attention);
    return *attention_queue_;
  }
  agent_extras& extras() {
    if (!extras_)
      extras_ = std::make_unique<agent_extras>();
    return *extras_;
  }
  /// No input pending (no queue yet counts as empty).
  bool inbox_empty() const noexcept { return !attention_queue_ || attention_queue_->empty(); }
  bool has_backlog() const noexcept { return extras_ && !extras_->backlog.empty(); }

  static inline const char* name = "parley.agent";
};

/// Everything an agent starts with.
struct agent_seed {
  manifest man;
  std::vector<std::shared_ptr<const skill>> skills;
  std::shared_ptr<agent_behavior> behavior;
};

/// The agent actor. Its message handlers are one behaviour object shared by
/// every agent of the process: with CAF 0.17 a behaviour built per actor
/// costs ~730 bytes per agent (one match case per handler), more than a third
/// of an idle agent. The shared handlers find the agent they run for through
/// a thread-local pointer that resume() sets (every handler, response handler
/// and the lazy initialisation run inside resume()).
///
/// Spawned as a class with its seed as constructor arguments, so the state
/// is filled on the spawning thread: a function-based spawn keeps the
/// arguments in a tuple that a scheduler thread moves out and frees, and
/// those cross-thread frees of the introducing thread's memory made a mass
/// introduction fight over glibc's arena lock (docs/performance.md).
class agent_actor : public caf::stateful_actor<agent_state> {
public:
  agent_actor(caf::actor_config& cfg, runtime* rt, agent_seed&& seed);

  caf::behavior make_behavior() override;

  resume_result resume(caf::execution_unit* ctx, size_t max_throughput) override;

  /// The agent whose resume() runs on this thread, or nullptr.
  static agent_actor* current() noexcept;
};

} // namespace parley
