#pragma once

// What one node asks of another: a request made on behalf of a principal,
// about an id whose shard the other node owns at a given epoch, and its
// reply. The node hands requests to a peer_transport (gRPC between
// parleyd processes, federation/peer_client) and serves the ones it
// receives with node::serve_remote. No gRPC type appears here.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "parley/auth/principal.hpp"
#include "parley/behavior/behavior.hpp"
#include "parley/error.hpp"
#include "parley/model/erasure.hpp"
#include "parley/model/event.hpp"
#include "parley/model/history.hpp"
#include "parley/model/manifest.hpp"
#include "parley/model/message.hpp"
#include "parley/model/room.hpp"
#include "parley/model/turns.hpp"
#include "parley/model/shard.hpp"

namespace parley::federation {

struct remote_request {
  enum class kind : uint8_t {
    /// A message from an agent of the sending node into the inbox of an
    /// agent of this one (the sender already authorized it; the receiver
    /// commits it under its idempotency key (from, id) like a local send).
    deliver_direct,
    /// A client's send as `msg.from`, an agent of this node.
    send_as,
    /// The manifest of agent `id`.
    read_manifest,
    /// Introduces the agent `man` with `behavior` here.
    introduce,
    /// Retires agent `id`.
    retire,
    /// Replaces the changeable fields of agent `man.id`'s manifest.
    update_manifest,
    /// Up to `limit` messages of agent `id`'s durable inbox.
    read_inbox,
    /// A call about room `room` (its shard), or a room's notice for member
    /// `id` (the member's shard): see room_op.
    room_call,
    /// A post `msg` into room `msg.to` from an agent of the sending node;
    /// `flag`: store its outcome under its idempotency key.
    room_post,
    /// A room's post `msg` for its members `agents` of this node: one
    /// request per node. Each member is checked on its own; the reply's
    /// `agents` are those this node does not serve.
    room_delivery,
    /// A page of room `room`'s history, or (`agents`, a pair of this node)
    /// of the pair's direct messages, as `query` asks. `flag`: only what
    /// this node keeps of a pair split over two nodes (the messages its
    /// agent agents[0] received); the asker merges the two halves.
    read_history,
    /// Agent `id`'s link marks `deliveries` read.
    mark_read,
    /// Up to `limit` manifests of this node's agents with ids after
    /// `after`, sorted by id, with `status` and `skill` if set (a listing
    /// across the network asks every node). Not about a shard.
    list_agents,
    /// Up to `limit` of the rooms this node holds with ids after `after`
    /// that the caller may see, sorted by id. Not about a shard.
    list_rooms,
    /// A long poll of this node's event log for a subscription across the
    /// network: up to `limit` events from `offset` (0: where the log is
    /// now, or with `flag` its oldest retained event) that the caller may
    /// see, filtered by `topics`, agent `id` and `room`; waits up to
    /// `wait_ms` for one. Not about a shard.
    events_since,
    /// Erases agent `id`'s personal data (its node; the reply's `erased`);
    /// `flag`: only read the tombstone.
    erase,
    /// Scrubs what this node keeps of erased agent `id` of another node
    /// (content of the messages it sent, detail of events about it). Not
    /// about a shard.
    scrub_agent,
    /// A piece of a moving shard's export (shard_moves.cpp): `data` at
    /// `offset` of the file of family `family`. `shard` and `epoch` are the
    /// move's: the shard's entry names this node as where it moves to.
    shard_chunk,
    /// Takes in shard `shard` from `files` (sent as chunks before): imports
    /// them, becomes the shard's owner and serves it. Answered once done, or
    /// at once if this node owns the shard already (a resumed move).
    adopt_shard,
    /// The coordinator asks this node to move `limit` of its shards to node
    /// `id` (a rebalance after a node joined). Not about a shard.
    move_shards,
  };
  /// One file of a moving shard, as its old owner exported it.
  struct moved_file {
    std::string family;
    uint64_t size = 0;
    uint64_t checksum = 0;
  };
  /// What a room_call does. The fields it uses: `room`; `id` the member
  /// concerned; `by` the member acting; `role`; `flag`; `turn`; `spec` the
  /// room to create; `agents` a direct room's pair.
  enum class room_op : uint8_t {
    create_group,
    create_direct,
    join, ///< at the member's node, which asks the room (admit)
    admit,
    leave, ///< flag: the member is retiring
    invite,
    set_role,
    close,
    read,
    request_turn,
    yield_turn,
    read_turns,
    saturated, ///< flag: the member's backlog is full (or not any more)
    joined,    ///< notices, at the member's node
    left,
    invited,
    granted,
  };
  kind what = kind::deliver_direct;
  /// Who asks: the client's principal (send_as, read_manifest, introduce),
  /// or the sending node's (deliver_direct).
  principal caller;
  /// The shard the request is about, and the epoch the sender resolved its
  /// owner at: the receiver refuses a stale epoch (failed_precondition) and
  /// the sender resolves again.
  shard_id shard = 0;
  uint64_t epoch = 0;
  message msg;
  agent_id id;
  manifest man;
  behavior_spec behavior;
  uint32_t limit = 0;
  room_op op = room_op::read;
  room_id room;
  agent_id by;
  room_role role = room_role::member;
  bool flag = false;
  uint64_t turn = 0;
  parley::room spec;
  std::vector<agent_id> agents;
  history_query query;
  std::vector<uint64_t> deliveries;
  std::optional<agent_status> status;
  std::string skill;
  std::string after;
  uint64_t offset = 0;
  uint32_t wait_ms = 0;
  topic_mask topics = all_topics;
  std::string family;
  std::string data;
  std::vector<moved_file> files;
};

std::string_view to_string(remote_request::kind k) noexcept;
std::string_view to_string(remote_request::room_op op) noexcept;
/// The agent or room a request is about: the id whose shard it names
/// (a room_delivery's first member).
const std::string& target_of(const remote_request& r);

struct remote_reply {
  /// deliver_direct and send_as: what the owner recorded.
  message_status status = message_status::sent;
  timestamp sent_at = 0;
  /// send_as: the message as sent (its id, if the owner chose it).
  message msg;
  /// read_manifest, introduce and update_manifest.
  manifest man;
  /// read_inbox and read_history.
  std::vector<message> messages;
  /// read_history: the cursor of the next page; list_agents: set when the
  /// node has more (empty: none).
  std::string next_cursor;
  /// list_agents.
  std::vector<manifest> manifests;
  /// list_rooms.
  std::vector<parley::room> rooms;
  /// room_call: the room read, created, joined or admitted to.
  parley::room found_room;
  /// room_call read_turns.
  turn_state turns;
  /// room_delivery: the members the node does not serve.
  std::vector<agent_id> agents;
  /// events_since: the events (in offset order), and the offset to ask
  /// next: every event before it was examined.
  std::vector<event> events;
  uint64_t next_offset = 0;
  /// erase and scrub_agent: what was erased (or the tombstone).
  std::optional<erasure> erased;
};

/// Is a refusal "the shard is not (or no longer) mine at that epoch"? The
/// sender then resolves the owner again and retries.
bool is_stale_owner(const error& e) noexcept;
/// The refusal a node answers a request for a shard it does not own at
/// the epoch given.
error stale_owner(shard_id shard, uint64_t asked_epoch, const std::string& owner, uint64_t epoch);

/// The transport's refusal when its outbox for `node` is full (overloaded,
/// RESOURCE_EXHAUSTED at the API), told apart from an owner's refusal of
/// the same code (a full inbox): the request never left this node.
error link_full(const std::string& node, const std::string& detail);
bool is_link_full(const error& e) noexcept;

/// The way to the other nodes. call() never blocks; `done` runs once, on a
/// thread of the transport, with the reply or the error (unavailable while
/// the peer cannot be reached, resource_exhausted when its outbox is full,
/// or the owner's refusal). It must not block.
class peer_transport {
public:
  virtual ~peer_transport() = default;
  virtual void call(const std::string& node, remote_request r,
                    std::function<void(expected<remote_reply>)> done) = 0;
  /// Ends every link and returns once the transport's threads are done;
  /// later calls fail (unavailable). The node closes its transport as it
  /// stops: a thread of the transport that touched the actor system keeps
  /// parts of it alive, and the actor system's destructor waits for them.
  virtual void close() {}
};

} // namespace parley::federation
