#pragma once

// A Parley node: the agents, rooms and event bus of one process. Every
// public function is thread-safe, returns an expected value, and never
// throws. The calls that go to an actor come in two forms: `x_async`
// returns a task (parley/task.hpp) that finishes from the actor's answer
// without holding a thread (the API server uses these), and `x` waits for
// it (tests, tools, embedders).
// Every request names the principal it acts for (parley/auth/principal.hpp):
// the node authorizes it in one place (parley/auth/access.hpp), also for
// its own callers (the daemon's demo, simulations, federation). No CAF,
// gRPC or RocksDB type appears here.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "parley/auth/principal.hpp"
#include "parley/behavior/behavior.hpp"
#include "parley/behavior/external.hpp"
#include "parley/coordination/coordination.hpp"
#include "parley/federation/peers.hpp"
#include "parley/model/attention.hpp"
#include "parley/model/clock.hpp"
#include "parley/model/durability.hpp"
#include "parley/model/erasure.hpp"
#include "parley/model/event.hpp"
#include "parley/model/event_cursor.hpp"
#include "parley/model/history.hpp"
#include "parley/model/manifest.hpp"
#include "parley/model/message.hpp"
#include "parley/model/room.hpp"
#include "parley/task.hpp"
#include "parley/model/turns.hpp"

namespace parley {

namespace storage {
class disk_faults;
} // namespace storage

/// What one caller can make the node hold, and for how long it keeps
/// messages. docs/api.md lists each with its default.
struct node_limits {
  /// Automatic replies (a behaviour answering a message) continue the hop
  /// count of what they answer; a chain longer than this is not continued.
  /// Default: 16.
  uint32_t max_reply_hops = 16;
  /// Room posts an agent keeps beyond its full inbox before its rooms refuse
  /// new posts (overloaded). Default: 4096.
  uint32_t backlog = 4096;
  /// Deliveries marked read ahead of the agent that it remembers.
  /// Default: 4096.
  uint32_t read_ahead = 4096;
  /// Open event subscriptions on the node. Default: 1024.
  uint32_t max_subscriptions = 1024;
  /// Events queued for one subscriber before it is cut off (and told where
  /// to resume). Default: 65536.
  uint32_t subscription_queue = 65536;
  /// Open agent links on the node. Default: 4096.
  uint32_t max_links = 4096;
  /// Members (and, apart, pending invitations) one room may have, at most
  /// limits::max_members. Default: 100000.
  uint32_t max_members = 100000;
  /// Messages older than this leave the history (unless still in an inbox);
  /// 0 = kept forever. Default: 0.
  int64_t history_max_age_ms = 0;
  /// The newest messages kept per dialogue (room or pair); 0 = all.
  /// Default: 0.
  uint64_t history_max_per_dialogue = 0;
  /// How long a send's idempotency key is remembered: a retry after this is
  /// a new message. Default: 24 h.
  int64_t idempotency_window_ms = 24LL * 3600 * 1000;
  /// How often retention runs (history, idempotency keys, unused skills).
  /// Default: 60 s.
  int64_t retention_interval_ms = 60'000;
};

struct node_config {
  /// Name of this node in logs and (later) in federation. Default: "node-1".
  std::string node_id = "node-1";
  /// CAF scheduler worker threads. Default: 2.
  unsigned scheduler_threads = 2;
  /// Attention knobs shared by all agents (policy, weights, inbox limit).
  attention_params attention;
  node_limits limits;
  /// Events the bus keeps in memory for late subscribers. Default: 65536.
  size_t event_retention = 65536;
  /// Where the node keeps its RocksDB store (created with its parents if
  /// missing); required unless durability is memory. Default: empty.
  std::string data_dir;
  /// sync (fsync before acknowledging), async (no fsync: survives a process
  /// crash, not a power loss) or memory (no store). Default: memory.
  parley::durability durability = parley::durability::memory;
  /// Events kept in the durable log (oldest deleted first). Default: 1000000.
  uint64_t event_log_retention = 1'000'000;
  /// Durable events older than this are deleted; 0 = no limit. Default: 0.
  int64_t event_log_max_age_ms = 0;
  /// Tests only: makes the store's disk writes fail on demand. Default: nullptr.
  std::shared_ptr<storage::disk_faults> disk_faults;
  /// How long a blocking call waits for an actor; then it answers
  /// deadline_exceeded (the change may still happen). Default: 10 s.
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
  /// The network this node belongs to: membership and the shard map
  /// (parley/coordination). nullptr: the node is alone and owns every
  /// shard. With one, the node serves only the agents of the shards it
  /// owns and hands every request about another shard to its owner through
  /// `peers` (docs/federation.md). Default: nullptr.
  std::shared_ptr<coordination::coordination> cluster;
  /// The way to the other nodes; required with `cluster`. Default: nullptr.
  std::shared_ptr<federation::peer_transport> peers;
  /// A pause of a shard move (hand_off) once the shard is marked moving,
  /// before it is released: spreads a hand-off's load (callers of a moving
  /// shard wait meanwhile), and lets tests crash a node mid-move.
  /// Default: 0.
  std::chrono::milliseconds move_pause{0};
  /// The durable outbox of messages for agents of other nodes
  /// (docs/federation.md): entries waiting for one node at most (beyond,
  /// sends are refused with overloaded), and how long a sender waits for
  /// the owner's answer before it is answered `sent`. Defaults: 100,000;
  /// 500 ms.
  size_t outbox_limit = 100000;
  std::chrono::milliseconds outbox_wait{500};
};

struct agent_spec {
  manifest man;
  behavior_spec behavior;
  /// Overrides `behavior` when set (an external or custom behaviour).
  std::shared_ptr<agent_behavior> custom;
};

struct group_spec {
  /// Empty: the node picks "room-<n>" (a form clients may not choose).
  room_id id;
  std::string topic;
  speaker_rules rules;
  room_access access = room_access::open;
};

struct node_stats {
  uint64_t agents = 0;
  /// Agents with a running actor; the others are dormant (recovered from
  /// the store and not used since): they wake on first use.
  uint64_t agents_active = 0;
  uint64_t rooms = 0;
  uint64_t rooms_closed = 0;
  uint64_t messages_sent = 0;
  uint64_t deliveries = 0;
  uint64_t served = 0;
  uint64_t refused = 0;
  uint64_t turns_granted = 0;
  /// Requests this node served for other nodes of its network.
  uint64_t peer_requests_served = 0;
  /// Messages for agents of other nodes in this node's durable outbox, not
  /// yet taken by their nodes.
  uint64_t outbox_pending = 0;
  /// Writes of the durable event log that failed (and were retried).
  uint64_t event_log_failures = 0;
  /// Events dropped because the event log could not be written for long.
  uint64_t events_dropped = 0;
  /// Automatic replies not sent: their chain reached limits.max_reply_hops.
  uint64_t replies_stopped = 0;
  /// Skills in the node's catalogue (shared by the agents that have them).
  uint64_t skills = 0;
  uint64_t subscriptions = 0;
  uint64_t links = 0;
  /// Writes (group commits) of the storage writer, and the batches (state
  /// changes) they carried: batches / writes is the mean group size.
  uint64_t storage_writes = 0;
  uint64_t storage_batches = 0;
};

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
  /// The next item without waiting, or nullopt; a miss arms the on_ready
  /// function (see external_behavior::try_next).
  std::optional<link_item> try_next();
  /// Sets the function a missed try_next wakes, once, from the thread that
  /// makes an item available (an actor's, or add_credit's caller): it must
  /// not block. nullptr clears it, and so does destroying the link; either
  /// waits for a call in progress, so after it the function is never
  /// called again.
  void on_ready(std::function<void()> fn);
  /// Lets the agent hand out `n` more messages (the window is capped at
  /// max_link_credit).
  void add_credit(uint32_t n);
  /// The messages with these delivery numbers are handled: they leave the
  /// durable inbox and their senders' receipts move to read.
  void acknowledge(const std::vector<uint64_t>& deliveries);

private:
  std::unique_ptr<impl> impl_;
};

/// What a subscription asks for.
struct subscription_spec {
  /// Topics; all_topics by default.
  topic_mask topics = all_topics;
  /// Only events about this agent / of this room (empty = any). An agent
  /// principal must set one: itself, or a room it is a member of.
  agent_id agent;
  room_id room;
  /// First offset wanted (0 = live events only); the retained events from
  /// there are replayed first, without gaps or duplicates. On a node of a
  /// network only with this_node_only (else: resume or from_oldest).
  uint64_t from_seq = 0;
  /// In a network, only this node's own events. Otherwise a subscription
  /// there covers every node (docs/api.md, "Events across a network").
  bool this_node_only = false;
  /// Resume where a stream stood (its cursor after the last event the
  /// client got): every node it names after its position, any other from
  /// its oldest retained event. With this_node_only, this node's position.
  std::optional<event_cursor> resume;
  /// Every node from its oldest retained event.
  bool from_oldest = false;
};

/// An open event subscription, read by its owner: replayed events
/// first (read from the store or the bus's memory in bounded chunks, on the
/// reader's thread, never on the bus), then live ones as they become
/// durable. If the reader falls more than limits.subscription_queue events
/// behind, the stream ends at the first event it could not keep and says
/// where to resume. Destroying it unsubscribes. Must not outlive its node.
class event_stream {
public:
  struct impl;
  explicit event_stream(std::unique_ptr<impl> p);
  ~event_stream();
  event_stream(const event_stream&) = delete;
  event_stream& operator=(const event_stream&) = delete;

  /// Up to `max` next events, waiting up to `timeout` for the first; empty
  /// on timeout. After the stream ended (ended() is set), returns what was
  /// queued before the end, then nothing.
  std::vector<event> next(size_t max, std::chrono::milliseconds timeout);
  /// Up to `max` events without waiting (replayed ones are read from the
  /// store on this thread). When it finds none and the stream has not
  /// ended, the on_ready function runs once, as soon as an event is queued
  /// or the stream ends.
  std::vector<event> try_next(size_t max);
  /// Sets the function a missed try_next wakes: it runs on the event bus's
  /// thread, so it must not block; it may call try_next. nullptr clears it,
  /// and so does destroying the stream; either waits for a call in
  /// progress, so after it the function is never called again.
  void on_ready(std::function<void()> fn);
  /// Why the stream ended: overloaded "fell behind; resume from offset N"
  /// (resume_from() says N), out_of_range (retention removed events it was
  /// replaying), or permission_denied (an agent left the room it followed);
  /// nullopt while it runs.
  std::optional<error> ended() const;
  /// Where to subscribe again to miss nothing: the offset after the last
  /// event next() returned.
  uint64_t resume_from() const;
  /// The same for the whole stream: per node, the offset after the last
  /// event of that node returned (or where the stream began there). Events
  /// of other nodes carry that node's id in event::node.
  event_cursor cursor() const;
  /// This node's offset up to which the stream examined its log: every
  /// event before it was returned or filtered out (a resumed poll need
  /// not look at them again).
  uint64_t examined() const;

private:
  std::unique_ptr<impl> impl_;
};

/// What a task that threw (a bug or bad_alloc) finishes with.
template <class T>
expected<T> internal_failure(const std::exception& e) {
  return unexpected{errc::internal, std::string{"internal error: "} + e.what()};
}

/// Blocks until `t` finishes.
template <class T>
expected<T> wait(task<expected<T>> t) {
  return wait(std::move(t), internal_failure<T>);
}

/// Runs `t`; `done(expected<T>)` runs once it finishes, on the thread that
/// finishes it (an actor's: do not block in it), maybe before start returns.
template <class T, class Done>
void start(task<expected<T>> t, Done done) {
  start(std::move(t), std::move(done), internal_failure<T>);
}

/// The largest credit window of an agent link.
inline constexpr uint32_t max_link_credit = 1u << 20;

class node {
public:
  /// Starts the actor system and the event bus, and recovers the store.
  static expected<std::unique_ptr<node>> start(node_config cfg);

  /// Stops every actor and waits for them (also done by the destructor).
  ~node();
  void stop();

  node(const node&) = delete;
  node& operator=(const node&) = delete;

  // -- agents ----------------------------------------------------------------

  /// Validates and starts an agent. already_exists for a taken id. The
  /// agent is visible to other calls only once its record is committed.
  expected<void> introduce(const principal& p, agent_spec spec);
  task<expected<void>> introduce_async(principal p, agent_spec spec);
  /// Introduces many agents without a round trip each (simulations, the
  /// benchmarks). Stops at the first failure; returns how many succeeded
  /// before it, or the failure.
  expected<size_t> introduce_many(const principal& p, std::vector<agent_spec> specs);
  /// Marks the agent retired and removes it from its rooms; it stays
  /// queryable and refuses messages.
  expected<void> retire(const principal& p, const agent_id& id);
  expected<manifest> get_manifest(const principal& p, const agent_id& id);
  /// Replaces the changeable fields (display name, bio, status but not
  /// retired, activities, skills, capacity, online, last seen).
  expected<manifest> update_manifest(const principal& p, manifest m);
  task<expected<void>> retire_async(principal p, agent_id id);
  task<expected<manifest>> get_manifest_async(principal p, agent_id id);
  task<expected<manifest>> update_manifest_async(principal p, manifest m);
  /// All agent ids, sorted.
  expected<std::vector<agent_id>> list_agents(const principal& p) const;
  /// A page of manifests, by id, after id `after` (empty: from the start),
  /// of at most `page_size` (1 to max_list_page) agents matching `f`. The
  /// manifests are fetched a window at a time, in parallel.
  expected<agent_page> find_agents(const principal& p, const agent_filter& f, size_t page_size,
                                   const std::string& after);
  /// Attention knobs of one agent: importance of a dialogue, weight of a
  /// relationship with a peer.
  expected<void> set_importance(const principal& p, const agent_id& id, const dialogue_key& k,
                                double w);
  expected<void> set_relationship(const principal& p, const agent_id& id, const agent_id& peer,
                                  double w);
  task<expected<void>> set_importance_async(principal p, agent_id id, dialogue_key k, double w);
  task<expected<void>> set_relationship_async(principal p, agent_id id, agent_id peer, double w);
  /// A stimulus for the agent's behaviour (no reply).
  expected<void> nudge(const principal& p, const agent_id& id);
  /// Erases agent `id`'s personal data (privacy law): its manifest's
  /// personal fields, its inbox, the content of the messages it sent (in
  /// history) and the detail of the events about it; the agent is retired.
  /// Leaves a tombstone (erasure()) that survives restarts and is part of
  /// every later backup, and compacts the store so that the erased data
  /// leaves the disk. Admins only.
  expected<erasure> erase(const principal& p, const agent_id& id);
  /// The tombstone of agent `id`'s erasure; not_found if it was not erased.
  expected<erasure> erasure_of(const principal& p, const agent_id& id);

  // -- rooms -----------------------------------------------------------------

  /// The direct room of a pair; the existing one if the pair has one.
  expected<room> create_direct(const principal& p, const agent_id& a, const agent_id& b);
  task<expected<room>> create_direct_async(principal p, agent_id a, agent_id b);
  /// A group room with `creator` as owner.
  expected<room> create_group(const principal& p, const agent_id& creator, group_spec spec);
  task<expected<room>> create_group_async(principal p, agent_id creator, group_spec spec);
  /// Joins `who` to `r`; answers the room without its member list (`who`
  /// alone, and room::member_count), so a join costs the same in any room.
  expected<room> join(const principal& p, const room_id& r, const agent_id& who);
  /// Joins many agents to one room, pipelined (populations, benchmarks).
  /// Returns how many joined; the first failure if any failed (the others
  /// still joined).
  expected<size_t> join_many(const principal& p, const room_id& r, const std::vector<agent_id>& who);
  /// Leaves a group room (a direct room cannot be left).
  expected<void> leave(const principal& p, const room_id& r, const agent_id& who);
  expected<void> invite(const principal& p, const room_id& r, const agent_id& by,
                        const agent_id& who, room_role role);
  expected<void> set_role(const principal& p, const room_id& r, const agent_id& by,
                          const agent_id& target, room_role role);
  /// Closes `r`: as member `by` (an owner or admin of the room), or with
  /// `by` empty as staff (an operator or admin).
  expected<void> close_room(const principal& p, const room_id& r, const agent_id& by);
  expected<room> get_room(const principal& p, const room_id& r);
  task<expected<room>> join_async(principal p, room_id r, agent_id who);
  task<expected<void>> leave_async(principal p, room_id r, agent_id who);
  task<expected<void>> invite_async(principal p, room_id r, agent_id by, agent_id who, room_role role);
  task<expected<void>> set_role_async(principal p, room_id r, agent_id by, agent_id target,
                                      room_role role);
  task<expected<void>> close_room_async(principal p, room_id r, agent_id by);
  task<expected<room>> get_room_async(principal p, room_id r);
  /// All room ids `p` may see, sorted.
  expected<std::vector<room_id>> list_rooms(const principal& p) const;
  /// A page of the rooms `p` may see, by id after `after`; only rooms of
  /// `member` if set.
  expected<room_page> find_rooms(const principal& p, const agent_id& member, size_t page_size,
                                 const std::string& after);

  // -- turns -----------------------------------------------------------------

  expected<void> request_turn(const principal& p, const room_id& r, const agent_id& who);
  expected<void> yield_turn(const principal& p, const room_id& r, const agent_id& who);
  expected<turn_state> turns(const principal& p, const room_id& r);
  task<expected<void>> request_turn_async(principal p, room_id r, agent_id who);
  task<expected<void>> yield_turn_async(principal p, room_id r, agent_id who);
  task<expected<turn_state>> turns_async(principal p, room_id r);

  // -- messages --------------------------------------------------------------

  /// Sends `m` as m.from (to an agent or a room) and waits until it is
  /// delivered (in the recipient's inbox, or accepted by the room's
  /// moderator; on a durable node: committed to the store). Fills in id (if
  /// empty), sent_at and status. On a durable node (m.from, m.id) is an
  /// idempotency key for limits.idempotency_window_ms: sending an id again
  /// that took effect returns the first send's status and time and delivers
  /// nothing. A refused send took no effect and may be retried under the
  /// same id; deadline_exceeded means the outcome is unknown (retry with the
  /// same id to find out).
  expected<message> send(const principal& p, message m);
  task<expected<message>> send_async(principal p, message m);
  /// Sends many messages at once, pipelined (a batch from an agent link);
  /// one result per message, in order.
  std::vector<expected<message>> send_many(const principal& p, std::vector<message> ms);
  task<std::vector<expected<message>>> send_many_async(principal p, std::vector<message> ms);
  /// An external agent has handled these deliveries (as
  /// agent_link::acknowledge). failed_precondition for other agents.
  expected<void> mark_read(const principal& p, const agent_id& id,
                           const std::vector<uint64_t>& deliveries);
  task<expected<void>> mark_read_async(principal p, agent_id id, std::vector<uint64_t> deliveries);
  /// Opens the link of external agent `id` with a window of `credit`
  /// messages. failed_precondition if `id` is not external or already has
  /// a link; overloaded when limits.max_links links are open.
  expected<std::unique_ptr<agent_link>> open_link(const principal& p, const agent_id& id,
                                                  uint32_t credit);
  /// The node of the network that serves agent or room `id`, when another
  /// one does, and the address it advertises (empty while it is not a
  /// member): where a call this node does not carry (an agent link) goes.
  struct serving_node {
    std::string node;
    std::string address;
  };
  std::optional<serving_node> served_elsewhere(const std::string& id) const;
  /// Like send, without waiting; failures are counted and published as
  /// message_refused events. For load generation.
  expected<void> post(const principal& p, message m);
  /// Status of a message sent with receipt = true (the newest 64 per sender).
  expected<message_status> status(const principal& p, const agent_id& from, const message_id& id);
  task<expected<message_status>> status_async(principal p, agent_id from, message_id id);
  /// A page of a room's messages (durable nodes; failed_precondition in
  /// memory mode). Newest first by default; cursors continue a listing.
  expected<history_page> room_history(const principal& p, const room_id& r, const history_query& q);
  /// A page of the messages sent directly between `a` and `b`.
  expected<history_page> direct_history(const principal& p, const agent_id& a, const agent_id& b,
                                        const history_query& q);
  /// Up to `limit` (1 to 1000) messages waiting in `id`'s durable inbox
  /// (delivered, not yet served), oldest first.
  expected<std::vector<message>> inbox(const principal& p, const agent_id& id, size_t limit);

  // -- events ----------------------------------------------------------------

  /// Opens an event stream (see event_stream). invalid_argument for an
  /// empty or unknown topic mask; out_of_range for an offset the node no
  /// longer keeps or one ahead of its log; overloaded at
  /// limits.max_subscriptions.
  expected<std::unique_ptr<event_stream>> subscribe(const principal& p, subscription_spec spec);
  task<expected<std::unique_ptr<event_stream>>> subscribe_async(principal p, subscription_spec spec);
  /// Returns once every event published before the call is durable and
  /// handed to the subscriptions' queues (tests, embedders that need a
  /// barrier).
  expected<void> sync_events(const principal& p);
  /// Retained events with seq >= from_seq, at most `max`, once every event
  /// published before the call is durable (from the store on a durable
  /// node, else from memory). Staff principals only.
  expected<std::vector<event>> events_since(const principal& p, uint64_t from_seq, size_t max);

  // -- operation -------------------------------------------------------------

  /// Nudges `per_tick` random agents (seeded) every `interval` until stop.
  void start_driver(uint64_t seed, std::chrono::milliseconds interval, uint32_t per_tick);
  /// Adds an online backup of the node's store to `backup_dir` (RocksDB
  /// BackupEngine, incremental) and verifies every backup there.
  /// failed_precondition for a node without a store.
  expected<void> backup(const principal& p, const std::string& backup_dir);
  /// Stops the population driver and flushes the event log: the node keeps
  /// answering, but starts no work of its own (graceful shutdown, step 1).
  expected<void> drain(const principal& p);
  /// Progress of a hand-off of this node's shards (hand_off).
  struct hand_off_state {
    bool running = false;
    /// Every shard is with another node and the durable outbox is empty
    /// (what it held for other nodes was taken): the node may leave.
    bool done = false;
    /// Shards moved by this hand-off, and shards this node still owns.
    uint32_t moved = 0;
    uint32_t left = 0;
    /// Why the last attempt stopped (empty while it goes well).
    std::string error;
  };
  /// Moves every shard this node owns, with its data, to the other `up`
  /// members of the network, fewest shards first (docs/federation.md,
  /// "Moving shards"); the node keeps serving meanwhile and then owns
  /// nothing. Returns once it started (progress: hand_off_progress).
  /// Operators and admins (action::drain). failed_precondition for a node
  /// alone or without a store; a call while one runs changes nothing.
  expected<void> hand_off(const principal& p);
  hand_off_state hand_off_progress() const;
  /// Moves `count` of this node's shards, with their data, to node `to`
  /// (an up member), in the background, as a hand-off moves them. Admins
  /// and nodes. Refused like hand_off; ignored while a move runs.
  expected<void> move_shards_to(const principal& p, const std::string& to, uint32_t count);
  /// The coordinator's rebalance (call it on the coordinator, e.g. every
  /// second): once no shard has moved for a few calls, asks the members
  /// with the most shards to move some to those with the fewest (a node
  /// that joined), at most 64 shards a round. Returns the shards asked for.
  uint32_t rebalance();
  /// Gives the shards of `lost`, a node that is gone for good (its volume
  /// lost) and no longer a member, to the up members, empty: their agents
  /// and rooms are gone with it. Admins only; logged. failed_precondition
  /// while `lost` is a member; not_found when it owns no shard. A node
  /// restored from a backup instead restarts under its own name and needs
  /// none of this. Returns the shards given.
  expected<uint32_t> remove_lost(const principal& p, const std::string& lost);
  /// Runs retention now (history, idempotency keys, unused skills); it also
  /// runs every limits.retention_interval_ms. Returns the records removed.
  expected<uint64_t> run_retention(const principal& p);
  node_stats stats() const;
  const node_config& config() const noexcept;
  /// How many times a node has started on this store, this start included
  /// (0 without a store): a restart is a new incarnation of the node.
  uint64_t incarnation() const noexcept;

  // -- federation --------------------------------------------------------------

  /// Serves a request another node made of this one (config().cluster):
  /// refused as a stale owner (federation::is_stale_owner) unless this node
  /// owns the request's shard at the epoch it names; otherwise what the
  /// same call made here would answer, as the caller's principal.
  task<expected<federation::remote_reply>> serve_remote(federation::remote_request r);

  struct impl;

private:
  explicit node(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

} // namespace parley
