#pragma once

// Every message type of the actor layer in one place: the atoms, the value
// types that travel between actors, and the errc <-> caf::error bridge.
// Actor messages never leave the process (federation speaks gRPC), so the
// model types are allowed as local-only message types.

#include <cstdint>
#include <functional>
#include <memory>

#include <caf/all.hpp>

#include "parley/error.hpp"
#include "parley/model/attention.hpp"
#include "parley/model/caller.hpp"
#include "parley/model/event.hpp"
#include "parley/model/manifest.hpp"
#include "parley/model/message.hpp"
#include "parley/model/room.hpp"
#include "parley/model/turns.hpp"
#include "parley/storage/records.hpp"
#include "parley/storage/state_store.hpp"

namespace parley {

/// The answer to an API send: the status and when the send took effect (for
/// a retried idempotency key, those of the first send).
struct send_receipt {
  message_status status = message_status::sent;
  timestamp sent_at = 0;
};

/// An event subscriber callback; runs on the event bus actor.
using event_sink = std::shared_ptr<std::function<void(const event&)>>;

} // namespace parley

namespace parley::atoms {

// -- agent: messages in ------------------------------------------------------
/// (deliver, message) -> message_status: accept into the inbox or fail (an
/// API send: a durable node stores the outcome under its idempotency key).
using deliver = caf::atom_constant<caf::atom("deliver")>;
/// (post, message): like deliver, no reply; a refusal comes back as refused.
using post = caf::atom_constant<caf::atom("post")>;
/// (refused, message_id, recipient, caf::error): a post was refused.
using refused = caf::atom_constant<caf::atom("refused")>;
/// (receipt, message_id, message_status): the recipient read the message.
using receipt = caf::atom_constant<caf::atom("receipt")>;
/// (redeliver, message): an inbox entry recovered from the store.
using redeliver = caf::atom_constant<caf::atom("redeliver")>;
/// (say, message) -> send_receipt: send as this agent (from the API).
using say = caf::atom_constant<caf::atom("say")>;
/// (serve): work through the attention queue.
using serve = caf::atom_constant<caf::atom("serve")>;
/// (nudge): a stimulus for the behaviour.
using nudge = caf::atom_constant<caf::atom("nudge")>;
/// (get_manifest) -> manifest.
using get_manifest = caf::atom_constant<caf::atom("getman")>;
/// (update_manifest, caller, manifest) -> manifest.
using update_manifest = caf::atom_constant<caf::atom("updman")>;
/// (retire) -> ok.
using retire = caf::atom_constant<caf::atom("retire")>;
/// (status_of, message_id) -> message_status, for messages sent via say.
using status_of = caf::atom_constant<caf::atom("statusof")>;
/// (importance, dialogue kind as uint8, id, double) / (relation, peer, double).
using importance = caf::atom_constant<caf::atom("importnc")>;
using relation = caf::atom_constant<caf::atom("relation")>;
/// (restore_knobs, storage::attention_record): knobs recovered from the store.
using restore_knobs = caf::atom_constant<caf::atom("knobs")>;
/// (granted, room_id, turn): the moderator granted this agent the turn.
using granted = caf::atom_constant<caf::atom("granted")>;
/// (invited, room_id, by, room_role): this agent was invited into a room.
using invited = caf::atom_constant<caf::atom("invited")>;
/// (read_ahead, std::vector<uint64_t>): deliveries marked read before the
/// link took them; the agent drops them when it reaches them.
using read_ahead = caf::atom_constant<caf::atom("readahead")>;
/// (acked, std::vector<message>): an external agent acknowledged these.
using acked = caf::atom_constant<caf::atom("acked")>;
/// (room_added, room_id) / (room_removed, room_id): membership changed.
using room_added = caf::atom_constant<caf::atom("roomadd")>;
using room_removed = caf::atom_constant<caf::atom("roomdel")>;
/// (enter, room_id) -> ok: join a room (the agent forwards to the moderator).
using enter = caf::atom_constant<caf::atom("enter")>;

// -- room moderator ----------------------------------------------------------
/// (room_post, message, bool record_outcome) -> message_status; with
/// record_outcome the outcome is stored under the message's idempotency key.
using room_post = caf::atom_constant<caf::atom("roompost")>;
/// (turn_request, agent_id) -> ok.
using turn_request = caf::atom_constant<caf::atom("turnreq")>;
/// (turn_yield, agent_id) -> ok.
using turn_yield = caf::atom_constant<caf::atom("turnyield")>;
/// (expire, turn): a time slot may have run out.
using expire = caf::atom_constant<caf::atom("expire")>;
/// (join_room, agent_id, caf::actor) -> room.
using join_room = caf::atom_constant<caf::atom("rjoin")>;
/// (leave_room, agent_id) -> ok.
using leave_room = caf::atom_constant<caf::atom("rleave")>;
/// (invite, by, who, room_role) -> ok.
using invite = caf::atom_constant<caf::atom("rinvite")>;
/// (set_role, by, target, room_role) -> ok.
using set_role = caf::atom_constant<caf::atom("rrole")>;
/// (close_room, caller) -> ok.
using close_room = caf::atom_constant<caf::atom("rclose")>;
/// (get_room) -> room.
using get_room = caf::atom_constant<caf::atom("rget")>;
/// (get_turns) -> turn_state.
using get_turns = caf::atom_constant<caf::atom("rturns")>;

// -- event bus ---------------------------------------------------------------
/// (publish, event) or (publish, std::vector<event>): assign the next
/// sequence numbers and fan out.
using publish = caf::atom_constant<caf::atom("publish")>;
/// (subscribe, topic_mask, from_seq, event_sink) -> uint64_t subscription id.
using subscribe = caf::atom_constant<caf::atom("evsub")>;
/// (unsubscribe, uint64_t) -> ok.
using unsubscribe = caf::atom_constant<caf::atom("evunsub")>;
/// (events_since, from_seq, max) -> std::vector<event> from the retained ring.
using events_since = caf::atom_constant<caf::atom("evsince")>;
/// (sync) -> ok once every event published before is in the durable log.
using sync = caf::atom_constant<caf::atom("evsync")>;
/// (prune): apply the event log's age limit.
using prune = caf::atom_constant<caf::atom("prune")>;

// -- storage writer ----------------------------------------------------------
/// (commit, storage::write_batch) -> ok once durable.
using commit = caf::atom_constant<caf::atom("commit")>;
/// (flush): write what is queued.
using flush = caf::atom_constant<caf::atom("flush")>;
/// (writer_stats) -> (writes issued, batches carried).
using writer_stats = caf::atom_constant<caf::atom("wstats")>;

// -- population driver -------------------------------------------------------
using drive = caf::atom_constant<caf::atom("drive")>;

} // namespace parley::atoms

namespace parley {

/// CAF error category for parley::errc.
inline constexpr caf::atom_value errc_category = caf::atom("parley");

/// Wraps a parley error for a CAF reply.
caf::error to_caf(const error& e);
caf::error to_caf(errc code, std::string message);

/// Unwraps a CAF reply error; CAF's own errors (timeouts, dead actors)
/// become `unavailable` with CAF's text.
error from_caf(const caf::error& e, const caf::actor_system& sys);

} // namespace parley

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(parley::message)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(parley::manifest)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(parley::room)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(parley::event)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(parley::caller)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(parley::room_role)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(parley::message_status)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(parley::send_receipt)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(parley::turn_state)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(parley::event_sink)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::vector<parley::event>)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::vector<parley::message>)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::vector<uint64_t>)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(parley::storage::write_batch)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(parley::storage::attention_record)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(parley::storage::moderator_record)
