#pragma once

// Model values <-> API messages. Decoding checks what the wire allows but
// the model does not (unknown enum numbers, a message without recipient) and
// names the field; the model's own validation runs in the node.

#include "parley/v1/api.pb.h"

#include "parley/behavior/behavior.hpp"
#include "parley/model/erasure.hpp"
#include "parley/model/event.hpp"
#include "parley/model/manifest.hpp"
#include "parley/model/message.hpp"
#include "parley/model/room.hpp"
#include "parley/model/turns.hpp"

namespace parley::api {

namespace pb = ::parley::v1;

void to_pb(const manifest& m, pb::Manifest& out);
/// `introducing`: status UNSPECIFIED means active (else it is an error).
expected<manifest> from_pb(const pb::Manifest& m, bool introducing);

expected<behavior_spec> from_pb(const pb::Behavior& b);
void to_pb(const behavior_spec& b, pb::Behavior& out);

void to_pb(const room& r, pb::Room& out);
expected<speaker_rules> from_pb(const pb::SpeakerRules& r);
/// UNSPECIFIED = `fallback`.
expected<room_role> from_pb(pb::RoomRole r, room_role fallback);
pb::RoomRole to_pb(room_role r);

void to_pb(const message& m, pb::Message& out);
expected<message> from_pb(const pb::Message& m);
pb::MessageStatus to_pb(message_status s);

void to_pb(const turn_grant& g, pb::TurnGrant& out);
void to_pb(const turn_state& t, pb::TurnState& out);
void to_pb(const event& e, pb::Event& out);
/// An event as a peer sent it (a subscription across the network).
expected<event> from_pb(const pb::Event& p);
void to_pb(const erasure& e, pb::Erasure& out);
erasure from_pb(const pb::Erasure& p);

expected<std::optional<agent_status>> status_filter(pb::AgentStatus s);

} // namespace parley::api
