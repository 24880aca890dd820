#pragma once

#include <map>
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

  static inline const char* name = "parley.room_moderator";
};

using room_moderator_actor = caf::stateful_actor<room_moderator_state>;

/// `members` are the actors of r.members, in the same order. Membership
/// changes are written to the node's store (if any) before they apply.
caf::behavior room_moderator(room_moderator_actor* self, runtime* rt, room r,
                             std::vector<caf::actor> members,
                             std::map<agent_id, room_role> invitations = {});

} // namespace parley

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::vector<caf::actor>)
