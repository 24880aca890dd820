#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "actors/messages.hpp"
#include "actors/runtime.hpp"

namespace parley {

/// One room: its members and roles, who may speak (turn_scheduler), and the
/// fan-out of posts to members. Every room has one; direct rooms run with
/// speaker_policy::none.
struct room_moderator_state {
  runtime* rt = nullptr;
  room r;
  turn_scheduler turns{speaker_rules{}};
  /// Actor of each member, parallel to r.members.
  std::vector<caf::actor> handles;
  /// Pending invitations: who -> role they join with.
  std::map<agent_id, room_role> invitations;
  /// Side effects (events, grants, the fan-out) of a change being written:
  /// on a durable node they run only once the change is on disk.
  std::vector<std::function<void()>> effects;
  bool deferring = false;
  /// Durable nodes: the turn state as last written, so that only changes
  /// are written.
  std::string stored_turns;

  static inline const char* name = "parley.room_moderator";
};

using room_moderator_actor = caf::stateful_actor<room_moderator_state>;

/// `members` are the actors of r.members, in the same order. On a durable
/// node every change (membership, turns, posts) is written to the store
/// before it applies or is answered. `turns`: the turn state recovered from
/// the store (a current turn gets a fresh slot and is granted again).
caf::behavior room_moderator(room_moderator_actor* self, runtime* rt, room r,
                             std::vector<caf::actor> members,
                             std::map<agent_id, room_role> invitations,
                             std::optional<storage::moderator_record> turns);

} // namespace parley

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::vector<caf::actor>)
