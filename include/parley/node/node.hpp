#pragma once

// A Parley node: the agents, rooms and event bus of one process. Every
// public function is thread-safe and blocking (it waits for the actor that
// owns the state to answer), returns an expected value, and never throws.
// No CAF type appears here: the actor layer stays behind this facade.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "parley/behavior/behavior.hpp"
#include "parley/behavior/external.hpp"
#include "parley/model/attention.hpp"
#include "parley/model/caller.hpp"
#include "parley/model/clock.hpp"
#include "parley/model/event.hpp"
#include "parley/model/manifest.hpp"
#include "parley/model/message.hpp"
#include "parley/model/room.hpp"
#include "parley/model/turns.hpp"
#include "parley/storage/message_log.hpp"
#include "parley/storage/state_store.hpp"

namespace parley {

struct node_config {
  /// Name of this node in logs and (later) in federation. Default: "node-1".
  std::string node_id = "node-1";
  /// CAF scheduler worker threads. Default: 2.
  unsigned scheduler_threads = 2;
  /// Attention knobs shared by all agents (policy, weights, inbox limit).
  attention_params attention;
  /// Events the bus keeps in memory for late subscribers. Default: 65536.
  size_t event_retention = 65536;
  /// Where the node keeps its RocksDB store; required unless durability is
  /// memory. Default: empty.
  std::string data_dir;
  /// sync (fsync before acknowledging), async (no fsync: survives a process
  /// crash, not a power loss) or memory (no store). Default: memory.
  storage::durability durability = storage::durability::memory;
  /// Events kept in the durable log (oldest deleted first). Default: 1000000.
  uint64_t event_log_retention = 1'000'000;
  /// Durable events older than this are deleted; 0 = no limit. Default: 0.
  int64_t event_log_max_age_ms = 0;
  /// Tests only: makes the store's disk writes fail on demand. Default: nullptr.
  std::shared_ptr<storage::disk_faults> disk_faults;
  /// How long a blocking call waits for an actor. Default: 10 s.
  std::chrono::milliseconds call_timeout{10000};
  /// Publish message events (sent, delivered, read, refused) even when
  /// nobody subscribes, so that the event log has them for subscribers that
  /// resume later. Costs two events per message. Default: false.
  bool record_message_events = false;
  /// Time source; nullptr means wall time. Default: nullptr.
  std::shared_ptr<const clock> time_source;
  /// Makes the behaviour of an agent recovered from the store (its stored
  /// spec is passed in); nullptr, or a factory that returns nullptr, means
  /// make_behavior(spec). Lets embedders re-attach custom behaviours.
  /// Default: nullptr.
  std::function<std::shared_ptr<agent_behavior>(const agent_id&, const behavior_spec&)>
    behavior_factory;
};

struct agent_spec {
  manifest man;
  behavior_spec behavior;
  /// Overrides `behavior` when set (an external or custom behaviour).
  std::shared_ptr<agent_behavior> custom;
};

struct group_spec {
  /// Empty: the node picks "room-<n>".
  room_id id;
  std::string topic;
  speaker_rules rules;
  room_access access = room_access::open;
};

struct node_stats {
  uint64_t agents = 0;
  uint64_t rooms = 0;
  uint64_t rooms_closed = 0;
  uint64_t messages_sent = 0;
  uint64_t deliveries = 0;
  uint64_t served = 0;
  uint64_t refused = 0;
  uint64_t turns_granted = 0;
  /// Events that could not be written to the durable log.
  uint64_t event_log_failures = 0;
};

using event_callback = std::function<void(const event&)>;

/// Which agents find_agents returns (all set fields must match).
struct agent_filter {
  std::optional<agent_status> status;
  /// A skill id or name; empty = any.
  std::string skill;
  /// Members of this room only; empty = any.
  room_id room;
};

struct agent_page {
  std::vector<manifest> agents;
  /// Pass as `after` for the next page; empty on the last page.
  std::string next;
};

struct room_page {
  std::vector<room> rooms;
  std::string next;
};

/// The largest page find_agents / find_rooms return.
inline constexpr size_t max_list_page = 1000;

/// An open link of an external agent (behaviour external): what the agent
/// receives comes out of next(), the process acknowledges what it handled.
/// Closing (destroying) the link keeps unacknowledged messages for the next
/// one. Must not outlive its node.
class agent_link {
public:
  struct impl;
  explicit agent_link(std::unique_ptr<impl> p);
  ~agent_link();
  agent_link(const agent_link&) = delete;
  agent_link& operator=(const agent_link&) = delete;

  const agent_id& agent() const noexcept;
  /// Items waiting when the link opened (resent and queued).
  size_t pending_at_open() const noexcept;
  /// The next item, waiting up to `timeout`; nullopt on timeout.
  std::optional<link_item> next(std::chrono::milliseconds timeout);
  /// Lets the agent hand out `n` more messages.
  void add_credit(uint32_t n);
  /// The messages with these delivery numbers are handled: they leave the
  /// durable inbox and their senders' receipts move to read.
  void acknowledge(const std::vector<uint64_t>& deliveries);

private:
  std::unique_ptr<impl> impl_;
};

class node {
public:
  /// Starts the actor system and the event bus.
  static expected<std::unique_ptr<node>> start(node_config cfg);

  /// Stops every actor and waits for them (also done by the destructor).
  ~node();
  void stop();

  node(const node&) = delete;
  node& operator=(const node&) = delete;

  // -- agents ----------------------------------------------------------------

  /// Validates and starts an agent. already_exists for a taken id.
  expected<void> introduce(agent_spec spec);
  /// Introduces many agents without a round trip each (simulations, the
  /// benchmarks). Stops at the first failure; returns how many succeeded
  /// before it, or the failure.
  expected<size_t> introduce_many(std::vector<agent_spec> specs);
  /// Marks the agent retired and removes it from its rooms; it stays
  /// queryable and refuses messages.
  expected<void> retire(const agent_id& id);
  expected<manifest> get_manifest(const agent_id& id);
  /// Replaces the changeable fields (display name, bio, status but not
  /// retired, activities, skills, capacity, online, last seen). Only the
  /// agent itself or an admin.
  expected<manifest> update_manifest(const caller& who, manifest m);
  /// All agent ids, sorted.
  std::vector<agent_id> list_agents() const;
  /// A page of manifests, by id, after id `after` (empty: from the start),
  /// of at most `page_size` (1 to max_list_page) agents matching `f`.
  expected<agent_page> find_agents(const agent_filter& f, size_t page_size,
                                   const std::string& after);
  /// Attention knobs of one agent: importance of a dialogue, weight of a
  /// relationship with a peer.
  expected<void> set_importance(const agent_id& id, const dialogue_key& k, double w);
  expected<void> set_relationship(const agent_id& id, const agent_id& peer, double w);
  /// A stimulus for the agent's behaviour (no reply).
  expected<void> nudge(const agent_id& id);

  // -- rooms -----------------------------------------------------------------

  /// The direct room of a pair; the existing one if the pair has one.
  expected<room> create_direct(const agent_id& a, const agent_id& b);
  /// A group room with `creator` as owner.
  expected<room> create_group(const agent_id& creator, group_spec spec);
  expected<void> join(const room_id& r, const agent_id& who);
  /// Joins many agents to one room, pipelined (populations, benchmarks).
  /// Returns how many joined; the first failure if any failed (the others
  /// still joined).
  expected<size_t> join_many(const room_id& r, const std::vector<agent_id>& who);
  expected<void> leave(const room_id& r, const agent_id& who);
  expected<void> invite(const room_id& r, const agent_id& by, const agent_id& who, room_role role);
  expected<void> set_role(const room_id& r, const agent_id& by, const agent_id& target,
                          room_role role);
  expected<void> close_room(const room_id& r, const caller& who);
  expected<room> get_room(const room_id& r);
  /// All room ids, sorted.
  std::vector<room_id> list_rooms() const;
  /// A page of rooms by id after `after`; only rooms of `member` if set.
  expected<room_page> find_rooms(const agent_id& member, size_t page_size,
                                 const std::string& after);

  // -- turns -----------------------------------------------------------------

  expected<void> request_turn(const room_id& r, const agent_id& who);
  expected<void> yield_turn(const room_id& r, const agent_id& who);
  expected<turn_state> turns(const room_id& r);

  // -- messages --------------------------------------------------------------

  /// Sends `m` as m.from (to an agent or a room) and waits until it is
  /// delivered (in the recipient's inbox, or accepted by the room's
  /// moderator; on a durable node: committed to the store). Fills in id (if
  /// empty), sent_at and status. On a durable node (m.from, m.id) is an
  /// idempotency key: sending an id again that took effect returns the first
  /// send's status and time and delivers nothing. A refused send took no
  /// effect and may be retried under the same id.
  expected<message> send(message m);
  /// Sends many messages at once, pipelined (a batch from an agent link);
  /// one result per message, in order.
  std::vector<expected<message>> send_many(std::vector<message> ms);
  /// An external agent has handled these deliveries (as
  /// agent_link::acknowledge). failed_precondition for other agents.
  expected<void> mark_read(const agent_id& id, const std::vector<uint64_t>& deliveries);
  /// Opens the link of external agent `id` with a window of `credit`
  /// messages. failed_precondition if `id` is not external or already has
  /// a link.
  expected<std::unique_ptr<agent_link>> open_link(const agent_id& id, uint32_t credit);
  /// Like send, without waiting; failures are counted and published as
  /// message_refused events. For load generation.
  expected<void> post(message m);
  /// Status of a message sent with receipt = true (the newest 64 per sender).
  expected<message_status> status(const agent_id& from, const message_id& id);
  /// A page of a room's messages (durable nodes; failed_precondition in
  /// memory mode). Newest first by default; cursors continue a listing.
  expected<storage::history_page> room_history(const room_id& r, const storage::history_query& q);
  /// A page of the messages sent directly between `a` and `b`.
  expected<storage::history_page> direct_history(const agent_id& a, const agent_id& b,
                                                 const storage::history_query& q);
  /// Up to `limit` (1 to 1000) messages waiting in `id`'s durable inbox
  /// (delivered, not yet served), oldest first.
  expected<std::vector<message>> inbox(const agent_id& id, size_t limit);

  // -- events ----------------------------------------------------------------

  /// Calls `cb` (on the bus's thread, in sequence order) for every event of
  /// the topics in `mask`, first replaying retained events with seq >=
  /// from_seq (0 = live only). Returns the subscription id.
  expected<uint64_t> subscribe(topic_mask mask, uint64_t from_seq, event_callback cb);
  expected<void> unsubscribe(uint64_t id);
  /// Retained events with seq >= from_seq, at most `max`.
  expected<std::vector<event>> events_since(uint64_t from_seq, size_t max);

  // -- operation -------------------------------------------------------------

  /// Nudges `per_tick` random agents (seeded) every `interval` until stop.
  void start_driver(uint64_t seed, std::chrono::milliseconds interval, uint32_t per_tick);
  /// Adds an online backup of the node's store to `backup_dir` (RocksDB
  /// BackupEngine, incremental) and verifies every backup there.
  /// failed_precondition for a node without a store.
  expected<void> backup(const std::string& backup_dir);
  /// Stops the population driver and flushes the event log: the node keeps
  /// answering, but starts no work of its own (graceful shutdown, step 1).
  void drain();
  node_stats stats() const;
  const node_config& config() const noexcept;

private:
  struct impl;
  explicit node(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

} // namespace parley
