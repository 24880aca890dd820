#pragma once

// Every message type of the actor layer in one place: the atoms, the value
// types that travel between actors, and the errc <-> caf::error bridge.
// Actor messages never leave the process (federation speaks gRPC), so the
// model types are allowed as local-only message types. Requests that act
// for someone carry the principal: the actor that owns the state decides
// with parley/auth/access.hpp.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>

#include <caf/all.hpp>

#include "parley/auth/principal.hpp"
#include "parley/error.hpp"
#include "parley/federation/peers.hpp"
#include "parley/model/attention.hpp"
#include "parley/model/event.hpp"
#include "parley/model/manifest.hpp"
#include "parley/model/message.hpp"
#include "parley/model/room.hpp"
#include "parley/model/turns.hpp"
#include "parley/storage/outbox.hpp"
#include "parley/storage/records.hpp"
#include "parley/storage/state_store.hpp"

namespace parley {

/// The answer to an API send: the status and when the send took effect (for
/// a retried idempotency key, those of the first send).
struct send_receipt {
  message_status status = message_status::sent;
  timestamp sent_at = 0;
};

/// An event subscriber callback; runs on the subscription's own dispatcher.
/// Returns false when the subscriber is gone (its stream closed): the bus
/// then drops the subscription.
using event_sink = std::shared_ptr<std::function<bool(const event&)>>;

/// The answer of a peer node to the peer gateway's request `id`.
struct remote_result {
  uint64_t id = 0;
  expected<federation::remote_reply> reply;
};

/// Work a thread outside the actor system hands to a call relay: it sends
/// requests as the relay and handles their answers there.
struct relay_job {
  std::function<void(caf::event_based_actor*)> run;
};

/// Where an actor answers a call made from outside the actor system
/// without a relay (node/direct_call.hpp): straight to the waiting caller.
/// deliver() is called at most once per slot, from any thread; the caller's
/// call timeout ends a slot that is never delivered.
template <class T>
struct reply_sink {
  virtual ~reply_sink() = default;
  virtual void deliver(uint32_t slot, expected<T> r) = 0;
};

/// The reply address a direct call carries: the caller's sink and this
/// request's slot in it (a batch of sends shares one sink).
template <class T>
struct reply_to {
  std::shared_ptr<reply_sink<T>> sink;
  uint32_t slot = 0;
  void operator()(expected<T> r) const { sink->deliver(slot, std::move(r)); }
};
using receipt_reply = reply_to<send_receipt>;

/// What the storage writer answers a commit: applied, or (for a batch with
/// a precondition) the value already present under the guarded key, in
/// which case nothing of the batch was written.
struct commit_outcome {
  std::optional<std::string> already_present;
};

} // namespace parley

namespace parley::atoms {

// -- agent: input ------------------------------------------------------------
/// (deliver_direct, message) -> send_receipt: an API send to this agent; on
/// a durable node stored (with its idempotency record) before it enters the
/// inbox. A retried key answers the first send's receipt and delivers
/// nothing. (deliver_direct, message, receipt_reply): the same, answered to
/// the reply address (a message from another node).
using deliver_direct = caf::atom_constant<caf::atom("dlvdirect")>;
/// (deliver_post, message): a message for the inbox without reply: a direct
/// message from another agent's behaviour, or a room post fanned out by the
/// moderator (already stored, with its delivery number).
using deliver_post = caf::atom_constant<caf::atom("dlvpost")>;
/// (post_refused, message_id, recipient, caf::error): a deliver_post of
/// this agent's was refused by its recipient.
using post_refused = caf::atom_constant<caf::atom("postrefus")>;
/// (read_receipt, message_id, message_status): the recipient read it.
using read_receipt = caf::atom_constant<caf::atom("readrcpt")>;
/// (restore_inbox, std::vector<message>): inbox entries recovered from the
/// store, in delivery order.
using restore_inbox = caf::atom_constant<caf::atom("restinbox")>;
/// (backlog_loaded, std::vector<message>): backlog entries read back from
/// the store (answer of the reader's load_inbox).
using backlog_loaded = caf::atom_constant<caf::atom("backlogld")>;
/// (serve_inbox): work through the attention queue.
using serve_inbox = caf::atom_constant<caf::atom("serve")>;
/// (turn_granted, room_id, turn): the moderator granted this agent the turn.
using turn_granted = caf::atom_constant<caf::atom("granted")>;
/// (invited, room_id, by, room_role): this agent was invited into a room.
using invited = caf::atom_constant<caf::atom("invited")>;
/// (nudge): a stimulus for the behaviour.
using nudge = caf::atom_constant<caf::atom("nudge")>;
/// (joined_room, room_id) / (left_room, room_id): the moderator changed
/// this agent's membership.
using joined_room = caf::atom_constant<caf::atom("joinedroom")>;
using left_room = caf::atom_constant<caf::atom("leftroom")>;

// -- agent: requests (each carries the principal) -----------------------------
/// (send_as, principal, message) -> send_receipt: send as this agent.
/// (send_as, principal, message, receipt_reply): the same, answered to the
/// reply address instead of the requester (a call from outside the actor
/// system: no relay, node/direct_call.hpp).
using send_as = caf::atom_constant<caf::atom("sendas")>;
/// (read_manifest) -> manifest.
using read_manifest = caf::atom_constant<caf::atom("readman")>;
/// (update_manifest, principal, manifest) -> manifest.
using update_manifest = caf::atom_constant<caf::atom("updateman")>;
/// (retire, principal) -> ok.
using retire = caf::atom_constant<caf::atom("retire")>;
/// (erase_agent, principal) -> std::vector<std::string>: erase the agent's
/// personal data it holds (privacy law; see node::erase); answers the
/// manifest fields it erased.
using erase_agent = caf::atom_constant<caf::atom("eraseagent")>;
/// (join_as, principal, room_id) -> room: this agent joins a room (it asks
/// the room's moderator to admit it; see admit_member).
using join_as = caf::atom_constant<caf::atom("joinas")>;
/// (message_status_of, principal, message_id) -> message_status.
using message_status_of = caf::atom_constant<caf::atom("msgstatus")>;
/// (set_importance, principal, dialogue kind as uint8, id, double) and
/// (set_relationship, principal, peer, double) -> ok.
using set_importance = caf::atom_constant<caf::atom("importnc")>;
using set_relationship = caf::atom_constant<caf::atom("relation")>;
/// (restore_knobs, storage::attention_record): knobs recovered from the store.
using restore_knobs = caf::atom_constant<caf::atom("knobs")>;
/// (link_read_ahead, std::vector<uint64_t>): deliveries marked read before
/// the link took them; the agent drops them when it reaches them.
using link_read_ahead = caf::atom_constant<caf::atom("readahead")>;
/// (link_acked, std::vector<message>): an external agent acknowledged these.
using link_acked = caf::atom_constant<caf::atom("linkacked")>;

// -- room moderator ----------------------------------------------------------
/// (post_to_room, message, bool record_outcome) -> send_receipt; with
/// record_outcome the outcome is stored under the message's idempotency key
/// (a key that took effect before answers the first receipt).
using post_to_room = caf::atom_constant<caf::atom("roompost")>;
/// (request_turn, room_id, principal, agent_id) / (yield_turn, room_id,
/// principal, agent_id) -> ok. Every message an agent sends a room names the
/// room, so the peer gateway can carry it to a room of another node.
using request_turn = caf::atom_constant<caf::atom("turnreq")>;
using yield_turn = caf::atom_constant<caf::atom("turnyield")>;
/// (expire_turn, turn): a time slot may have run out.
using expire_turn = caf::atom_constant<caf::atom("expire")>;
/// (admit_member, room_id, agent_id) -> room: an agent that was allowed to act asks
/// to join (sent by the agent actor itself after join_as); the answer is the
/// room without its member list (the new member only, and the count).
using admit_member = caf::atom_constant<caf::atom("admit")>;
/// (remove_member, room_id, principal, agent_id, bool retiring) -> ok: leave, or
/// (retiring) the agent leaving its rooms as it retires.
using remove_member = caf::atom_constant<caf::atom("rleave")>;
/// (invite_member, principal, by, who, room_role) -> ok.
using invite_member = caf::atom_constant<caf::atom("rinvite")>;
/// (set_member_role, principal, by, target, room_role) -> ok.
using set_member_role = caf::atom_constant<caf::atom("rrole")>;
/// (close_room, principal, by) -> ok; `by` empty for a staff close.
using close_room = caf::atom_constant<caf::atom("rclose")>;
/// (read_room, principal) -> room; (read_turns, principal) -> turn_state.
using read_room = caf::atom_constant<caf::atom("rget")>;
using read_turns = caf::atom_constant<caf::atom("rturns")>;
/// (member_saturated, room_id, agent_id, bool): a member's backlog is full (true)
/// or has room again (false); the room refuses posts meanwhile.
using member_saturated = caf::atom_constant<caf::atom("saturated")>;

// -- event bus ---------------------------------------------------------------
/// (publish, event) or (publish, std::vector<event>): assign the next
/// offsets; subscribers get them once they are in the durable log.
using publish = caf::atom_constant<caf::atom("publish")>;
/// (subscribe_live, topic_mask, from_seq, event_sink) -> uint64_t id, or
/// out_of_range (the events from from_seq are gone) / a "replay from disk
/// first" answer (see event_bus.hpp).
using subscribe_live = caf::atom_constant<caf::atom("evsub")>;
/// (unsubscribe, uint64_t) -> ok.
using unsubscribe = caf::atom_constant<caf::atom("evunsub")>;
/// (events_since, from_seq, max) -> std::vector<event> from the memory ring.
using events_since = caf::atom_constant<caf::atom("evsince")>;
/// (sync_event_log) -> ok once every event published before is durable.
using sync_event_log = caf::atom_constant<caf::atom("evsync")>;
/// (prune_event_log): apply the event log's age limit.
using prune_event_log = caf::atom_constant<caf::atom("prune")>;
/// (retry_event_log): write the events whose write failed, again.
using retry_event_log = caf::atom_constant<caf::atom("evretry")>;
/// (scrub_agent_events, agent_id) -> uint64_t: erase the detail of the
/// events about an agent, in memory and on disk (erasure).
using scrub_agent_events = caf::atom_constant<caf::atom("evscrub")>;
/// (event_log_bounds) -> (first kept, next offset).
using event_log_bounds = caf::atom_constant<caf::atom("evbounds")>;
/// (hold_topics, topic_mask, uint32_t ms): publish these topics for the
/// next `ms` even if no local subscriber wants them (another node's
/// subscription polls this log, subscribed only while a poll runs).
using hold_topics = caf::atom_constant<caf::atom("evhold")>;
/// (release_topics, uint64_t generation): the hold of that generation ends
/// unless a later hold renewed it.
using release_topics = caf::atom_constant<caf::atom("evrelease")>;

// -- storage writer and reader -----------------------------------------------
/// (commit, storage::write_batch) -> commit_outcome once durable.
using commit = caf::atom_constant<caf::atom("commit")>;
/// (flush): write what is queued.
using flush = caf::atom_constant<caf::atom("flush")>;
/// (writer_stats) -> (writes issued, batches carried).
using writer_stats = caf::atom_constant<caf::atom("wstats")>;
/// (load_inbox, agent_id, std::vector<uint64_t>) -> std::vector<message>:
/// the inbox entries with these delivery numbers (those still stored).
using load_inbox = caf::atom_constant<caf::atom("loadinbox")>;
/// (read_events, from_seq, max) -> std::vector<event> from the durable log.
using read_events = caf::atom_constant<caf::atom("readevents")>;
/// (find_event_cutoff, timestamp) -> uint64_t: the first offset at or after
/// the time (the event log's age limit).
/// (find_outcome, message key) -> std::optional<storage::send_outcome>: the
/// stored outcome of a send under its idempotency key (storage::message_key).
using find_outcome = caf::atom_constant<caf::atom("findoutcm")>;
using find_event_cutoff = caf::atom_constant<caf::atom("evcutoff")>;

// -- population driver and janitor ---------------------------------------------
/// (drive): nudge the next agents. (sweep): run the node's upkeep.
using drive = caf::atom_constant<caf::atom("drive")>;
using sweep = caf::atom_constant<caf::atom("sweep")>;

// -- peer gateway -------------------------------------------------------------
/// (remote_answer, remote_result): a peer node answered request `id`.
using remote_answer = caf::atom_constant<caf::atom("remoteans")>;
/// (member_notice, agent_id, caf::message): a room's notice (joined_room,
/// left_room, invited, turn_granted) for a member of another node; a local
/// member gets the inner message itself (room_posts.hpp, tell_member).
using member_notice = caf::atom_constant<caf::atom("memnotice")>;
/// (deliver_room_post, message, std::vector<agent_id>): a room's post for
/// its members on other nodes: one request per node carries it.
using deliver_room_post = caf::atom_constant<caf::atom("roomdlv")>;
/// (resume_outbox, std::vector<storage::outbox_entry>): the durable outbox
/// as the node found it at start, oldest first: sent again.
using resume_outbox = caf::atom_constant<caf::atom("outboxrsm")>;

// -- call relay ---------------------------------------------------------------
/// (relay, relay_job): run the job as the relay (actors/call_relay.hpp).
using relay = caf::atom_constant<caf::atom("relay")>;

} // namespace parley::atoms

namespace parley {

/// CAF error category for parley::errc.
inline constexpr caf::atom_value errc_category = caf::atom("parley");

/// Wraps a parley error for a CAF reply.
caf::error to_caf(const error& e);
caf::error to_caf(errc code, std::string message);

/// Unwraps a CAF reply error; CAF's own errors become `unavailable` with
/// CAF's text, except a request timeout, which is deadline_exceeded (the
/// request may still take effect).
error from_caf(const caf::error& e, const caf::actor_system& sys);

} // namespace parley

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(parley::message)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(parley::manifest)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(parley::room)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(parley::event)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(parley::principal)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(parley::room_role)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(parley::message_status)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(parley::send_receipt)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(parley::commit_outcome)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(parley::turn_state)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(parley::event_sink)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(parley::relay_job)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(parley::remote_result)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(parley::receipt_reply)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::vector<parley::event>)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::vector<parley::storage::outbox_entry>)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::vector<parley::message>)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::vector<uint64_t>)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(parley::storage::write_batch)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(parley::storage::attention_record)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(parley::storage::moderator_record)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::optional<parley::storage::send_outcome>)
