#pragma once

// What the room moderator's files share (room_moderator.cpp: posts, turns
// and the behaviour; room_membership.cpp: joins, leaves, invitations,
// roles, closing). Internal to the moderator.

#include <optional>
#include <string>

#include "actors/room_moderator.hpp"
#include "parley/auth/access.hpp"

namespace parley::moderator {

using self_ptr = room_moderator_actor*;

/// Runs `f` now, or once the change being made is durable (see begin_change
/// in room_moderator.cpp).
template <class F>
void effect(self_ptr self, F f) {
  auto& st = self->state;
  if (st.deferring)
    st.effects.emplace_back(std::move(f));
  else
    f();
}

void publish(self_ptr self, event_kind k, agent_id who, std::string detail = {});
caf::error not_member(const room_moderator_state& st, const agent_id& who);
caf::error closed(const room_moderator_state& st);
caf::error direct_only_two(const room_moderator_state& st);
std::optional<caf::error> denied(const principal& p, action a, const agent_id& as, const room* r);
const room_member* member(const room_moderator_state& st, const agent_id& who);
/// Side effects of a room that has just been marked closed.
void announce_closed(self_ptr self, const std::string& why);
/// Durable nodes: writes the turn state if it changed (after membership
/// changes, whose own records were written before they applied).
void write_turns_if_changed(self_ptr self);
/// Ends a turn (an event of kind `k`) and grants the next.
void end_turn(self_ptr self, event_kind k, const turn_grant& g, std::string why);

// -- membership (room_membership.cpp) -----------------------------------------
caf::result<room> on_admit(self_ptr self, const agent_id& who);
caf::result<caf::ok_atom> on_remove(self_ptr self, const principal& p, const agent_id& who, bool retiring);
caf::result<caf::ok_atom> on_invite(self_ptr self, const principal& p, const agent_id& by, const agent_id& who,
                                    room_role role);
caf::result<caf::ok_atom> on_set_role(self_ptr self, const principal& p, const agent_id& by,
                                      const agent_id& target, room_role role);
caf::result<caf::ok_atom> on_close(self_ptr self, const principal& p, const agent_id& by);

} // namespace parley::moderator
