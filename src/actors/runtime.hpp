#pragma once

// What every actor of one node shares: the directories that map ids to
// actors, the event bus, the clock, the attention knobs and the counters.
// Owned by the node; actors hold a plain pointer because the node outlives
// them (it stops every actor before it destroys the runtime).

#include <array>
#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <caf/all.hpp>

#include "parley/coordination/coordination.hpp"
#include "parley/federation/peers.hpp"
#include "parley/model/attention.hpp"
#include "parley/model/clock.hpp"
#include "parley/model/event.hpp"
#include "parley/model/manifest.hpp"
#include "parley/storage/state_store.hpp"
#include "actors/router.hpp"

namespace parley {

class deferred_writes;

/// Identical skills are stored once per node: agents of a population share
/// a catalogue of skills, and a manifest's skills are then pointers.
class skill_catalog {
public:
  std::shared_ptr<const skill> intern(const skill& s);
  size_t size() const;
  /// Drops the skills no agent holds any more (their only owner is the
  /// catalogue); intern() also does this every `sweep_every` new skills, so
  /// the catalogue stays as large as the skills in use. Returns how many went.
  size_t release_unused();
  static constexpr size_t sweep_every = 1024;

private:
  // Transparent, so intern() looks a skill up without copying it first.
  struct hash {
    using is_transparent = void;
    size_t operator()(const skill& s) const noexcept;
    size_t operator()(const std::shared_ptr<const skill>& s) const noexcept { return (*this)(*s); }
  };
  struct equal {
    using is_transparent = void;
    bool operator()(const std::shared_ptr<const skill>& a,
                    const std::shared_ptr<const skill>& b) const noexcept {
      return *a == *b;
    }
    bool operator()(const skill& a, const std::shared_ptr<const skill>& b) const noexcept {
      return a == *b;
    }
    bool operator()(const std::shared_ptr<const skill>& a, const skill& b) const noexcept {
      return *a == b;
    }
  };
  mutable std::mutex mtx_;
  std::unordered_set<std::shared_ptr<const skill>, hash, equal> set_;
  size_t added_since_sweep_ = 0;
};

/// A counter that every scheduler thread bumps on the message path: each
/// thread adds to a cache line of its own, readers sum them, so the hot path
/// never bounces one line between cores.
class striped_counter {
public:
  void add(uint64_t n = 1) noexcept { cells_[slot()].v.fetch_add(n, std::memory_order_relaxed); }
  uint64_t load() const noexcept {
    uint64_t sum = 0;
    for (auto& c : cells_)
      sum += c.v.load(std::memory_order_relaxed);
    return sum;
  }

private:
  static constexpr size_t cell_count = 16;
  static size_t slot() noexcept;
  struct alignas(64) cell {
    std::atomic<uint64_t> v{0};
  };
  std::array<cell, cell_count> cells_;
};

/// Monotonic counters for the live summary and the benchmarks.
struct node_counters {
  striped_counter messages_sent;
  striped_counter deliveries;
  striped_counter refused;
  striped_counter turns_granted;
  striped_counter served;
  /// Requests served for other nodes (node::serve_remote).
  std::atomic<uint64_t> peer_requests_served{0};
  /// Messages in the durable outbox, not yet taken by their nodes.
  std::atomic<uint64_t> outbox_pending{0};
  std::atomic<uint64_t> rooms_closed{0};
  /// Writes of the durable event log that failed (and were retried).
  std::atomic<uint64_t> event_log_failures{0};
  /// Events dropped (before they got an offset) while the disk refused the
  /// log for so long that the events waiting for it filled their bound.
  std::atomic<uint64_t> events_dropped{0};
  /// Automatic replies not sent because their chain reached the hop limit.
  striped_counter replies_stopped;
  /// Group commits of the storage writer, and the batches they carried.
  std::atomic<uint64_t> storage_writes{0};
  std::atomic<uint64_t> storage_batches{0};
};

/// The limits the actors enforce (node_config::limits copies into these).
struct actor_limits {
  /// Automatic replies (a behaviour answering a message) carry the hop
  /// count of what they answer plus one; beyond this they are not sent, so
  /// two agents that answer everything cannot loop forever. Default: 16.
  uint32_t max_reply_hops = 16;
  /// Room posts an agent keeps beyond its full inbox (on disk on a durable
  /// node, in memory otherwise) before its rooms refuse new posts with
  /// overloaded. Default: 4096.
  uint32_t backlog_limit = 4096;
  /// Deliveries marked read ahead of the agent (MarkRead of what it has
  /// not served yet) that an agent remembers. Default: 4096.
  uint32_t read_ahead_limit = 4096;
  /// How long a send's idempotency key counts. Default: 24 h.
  int64_t idempotency_window_ms = 24LL * 3600 * 1000;
  /// Members of one room (and pending invitations). Default: 100000.
  uint32_t max_members = 100000;
};

/// Where the shard of an id lives, as this node last saw the shard map.
struct placement {
  /// `moving`: between owners (a shard move); nobody serves it until the
  /// move ends, callers wait and resolve again.
  enum class where : uint8_t { here, there, nowhere, moving };
  where at = where::here;
  /// Served by another node, or about to be: a call goes through forward().
  bool elsewhere() const noexcept { return at == where::there || at == where::moving; }
  shard_id shard = 0;
  /// The owner (there) and the epoch its entry has.
  std::string node;
  uint64_t epoch = 0;
};

/// Lets threads outside the actor system (a transport's) send to actors
/// only while the actor system lives: the node closes it before it stops.
struct actor_gate {
  std::mutex mtx;
  bool open = true;
  /// Runs `f` under the gate if it is still open.
  template <class F>
  void run(F&& f) {
    std::lock_guard guard{mtx};
    if (open)
      f();
  }
  void close() {
    std::lock_guard guard{mtx};
    open = false;
  }
};

class runtime {
public:
  runtime(caf::actor_system& sys, std::shared_ptr<const clock> clk, attention_params attention)
    : sys(sys), clk(std::move(clk)), attention(attention) {}

  timestamp now() const noexcept { return clk->now(); }

  /// Publishes the event (kind, agent, room, detail): the one way actors
  /// and the node build events. Events of topics nobody subscribes to are
  /// skipped (per-message events would otherwise cost more than delivery).
  void publish(event_kind k, agent_id agent, room_id room = {}, std::string detail = {}) const;
  /// Publishes on the bus. Events of topics nobody subscribes to are
  /// skipped (per-message events would otherwise cost more than delivery).
  void publish(event e) const;
  /// Publishes many events as one message to the bus (mass introductions):
  /// in order, as if published one by one.
  void publish_all(std::vector<event> es) const;
  bool wants(topic t) const noexcept {
    return (subscribed.load(std::memory_order_relaxed) & mask_of(t)) != 0;
  }

  caf::actor_system& sys;
  std::shared_ptr<const clock> clk;
  const attention_params attention;
  /// Where each agent and room lives (see router.hpp).
  router routes;
  skill_catalog skills;
  actor_limits limits;
  node_counters counters;
  caf::actor bus;
  /// The node's store and its one writer; nullptr / invalid for a node in
  /// durability mode memory.
  storage::state_store* store = nullptr;
  caf::actor writer;
  /// Changes written behind, in the writer's next group (commit_later);
  /// nullptr: each is a commit of its own.
  deferred_writes* deferred = nullptr;
  /// Does the store's blocking reads for actors (a detached actor: its
  /// thread may wait for the disk, the scheduler's threads never do).
  caf::actor reader;
  /// Which start of the store this is (1 for a new store, +1 per restart);
  /// 0 without a store. Generated message ids and delivery numbers carry
  /// it, so they never repeat after a restart (idempotency keys and inbox
  /// positions stay unique).
  uint64_t incarnation = 0;
  /// This node's name, and the network it belongs to (nullptr: alone; see
  /// node_config::cluster) with the way to its peers.
  std::string node_id;
  std::shared_ptr<coordination::coordination> cluster;
  std::shared_ptr<federation::peer_transport> peers;
  std::shared_ptr<actor_gate> gate = std::make_shared<actor_gate>();
  /// Carries requests for agents of other nodes (actors/peer_gateway.hpp);
  /// invalid when the node is alone.
  caf::actor gateway;
  /// Where `id`'s shard lives: always here for a node alone.
  placement place(std::string_view id) const;
  /// Shards this node is taking in (the end of a move, shard_moves.cpp):
  /// `moving` until their agents and rooms are published here.
  std::array<std::atomic<bool>, shard_count> adopting{};
  /// Is `h` the gateway to other nodes (an agent or room there)?
  bool elsewhere(const caf::actor& h) const noexcept { return h && h == gateway; }
  /// A room's notice (joined_room, left_room, invited, turn_granted) for
  /// member `who`, whose actor is `h`: the notice itself for an actor here;
  /// for the gateway, wrapped with the member's id (one gateway carries the
  /// notices of every member elsewhere, so it must be told whose it is).
  caf::message notice_for(const caf::actor& h, const agent_id& who, caf::message notice) const;
  /// Publish message events even with no subscriber, so that a subscriber
  /// resuming later finds them in the log (node_config).
  bool record_message_events = false;
  /// A node-local id: "<prefix><n>" without a store, else
  /// "<prefix><incarnation>.<n>".
  std::string generated_id(std::string_view prefix, uint64_t n) const;
  /// Why agent `id` has no actor: not_found, or storage_failure for a
  /// dormant agent that could not be woken (its record is unreadable).
  error missing_agent(const std::string& id) const;
  /// The next inbox position; increases across restarts.
  uint64_t next_delivery() noexcept {
    return (incarnation << 40) + deliveries_issued.fetch_add(1, std::memory_order_relaxed) + 1;
  }
  std::atomic<uint64_t> deliveries_issued{0};
  /// The last outbox sequence number handed out (the gateway's entries and
  /// the room posts that carry theirs in their own batch); the highest
  /// found in the store at start.
  std::atomic<uint64_t> outbox_seq{0};
  /// Topics with at least one subscriber (maintained by the bus). The
  /// lifecycle, room and turn topics are always published, so that the
  /// retained ring has them; message events only when asked for.
  std::atomic<topic_mask> subscribed{0};
};

} // namespace parley
