// The room moderator's membership changes: joins (admission), leaving and
// retiring, invitations, roles and closing. Each is written before it
// applies (persist_change), and waits for the posts in flight (the
// behaviour in room_moderator.cpp sees to that).

#include "actors/persist.hpp"
#include "actors/room_moderator_parts.hpp"
#include "actors/room_posts.hpp"
#include "parley/storage/records.hpp"

namespace parley::moderator {

namespace {

storage::member_record member_record_of(const room_member& m, uint64_t position) {
  return {m.role, m.joined_at, position, false};
}

// A membership change is written before it applies: `b` is committed, and
// only then does `apply` change the state and tell the members. A failed
// write answers its error and changes nothing.
template <class Apply>
caf::result<caf::ok_atom> persist_change(self_ptr self, storage::write_batch b, Apply apply) {
  auto rp = self->make_response_promise<caf::ok_atom>();
  persist_then(self, *self->state.rt, std::move(b),
               [rp, apply](const error* failure, commit_outcome&) mutable {
                 if (failure) {
                   rp.deliver(to_caf(*failure));
                   return;
                 }
                 apply();
                 rp.deliver(caf::ok_atom::value);
               });
  return rp;
}

// The room without its member list (O(1) in the room's size), with
// `who` as its only member entry.
room summary_for(const room_moderator_state& st, const agent_id& who) {
  room out;
  out.id = st.r.id;
  out.kind = st.r.kind;
  out.topic = st.r.topic;
  out.created_by = st.r.created_by;
  out.rules = st.r.rules;
  out.access = st.r.access;
  out.created_at = st.r.created_at;
  out.last_activity = st.r.last_activity;
  out.open = st.r.open;
  out.pair = st.r.pair;
  if (auto* m = member(st, who))
    out.members.push_back(*m);
  out.member_count = static_cast<uint32_t>(std::max<size_t>(1, st.r.members.size()));
  return out;
}

} // namespace

// The agent actor checked that the caller may act as `who`; the room's own
// rules are checked here. Only the new member's record is written, and the
// answer is the room without its member list: a join costs the same in a
// room of ten or of a hundred thousand.
caf::result<room> on_admit(self_ptr self, const agent_id& who) {
  auto& st = self->state;
  if (st.r.kind == room_kind::direct)
    return direct_only_two(st);
  if (!st.r.open)
    return closed(st);
  if (member(st, who))
    return to_caf(errc::already_exists,
                  "agent '" + who + "' is already a member of room '" + st.r.id + "'");
  if (st.r.members.size() >= st.rt->limits.max_members)
    return to_caf(errc::failed_precondition, "room '" + st.r.id + "' is full: it has "
                                               + std::to_string(st.r.members.size())
                                               + " members, the most a room may have (limits.max_members)");
  auto role = room_role::member;
  const auto inv = st.invitations.find(who);
  if (inv != st.invitations.end())
    role = inv->second;
  else if (st.r.access == room_access::invite_only)
    return to_caf(errc::permission_denied,
                  "room '" + st.r.id + "' is invite-only and agent '" + who + "' has no invitation");
  const auto now = st.rt->now();
  room_member joined{who, role, now};
  const auto position = st.next_position;
  storage::write_batch b;
  if (st.rt->store)
    b.put(storage::column::members, storage::member_key(st.r.id, who),
          storage::encode(member_record_of(joined, position)));
  auto rp = self->make_response_promise<room>();
  persist_then(self, *st.rt, std::move(b),
               [self, rp, joined, position, now](const error* failure, commit_outcome&) mutable {
                 if (failure) {
                   rp.deliver(to_caf(*failure));
                   return;
                 }
                 auto& st = self->state;
                 st.invitations.erase(joined.id);
                 st.r.members.push_back(joined);
                 st.index.add(st.r.members, st.r.members.size() - 1);
                 st.r.last_activity = now;
                 st.next_position = position + 1;
                 st.handles.push_back(st.rt->routes.agent(joined.id));
                 if (auto& h = st.handles.back())
                   self->send(h, st.rt->notice_for(h, joined.id, caf::make_message(atoms::joined_room::value, st.r.id)));
                 publish(self, event_kind::member_joined, joined.id, std::string{to_string(joined.role)});
                 rp.deliver(summary_for(st, joined.id));
               });
  return rp;
}

// `retiring`: the agent actor removes itself from its rooms as it retires.
caf::result<caf::ok_atom> on_remove(self_ptr self, const principal& p, const agent_id& who,
                                    bool retiring) {
  auto& st = self->state;
  if (auto no = denied(p, action::leave, who, &st.r))
    return *no;
  const auto found = st.index.find(st.r.members, who);
  if (!found)
    return not_member(st, who);
  const size_t i = *found;
  // An agent leaves a direct room only by retiring (which closes it): the
  // pair's room stays theirs, so create_direct never returns a closed one.
  if (st.r.kind == room_kind::direct && !retiring)
    return to_caf(errc::failed_precondition,
                  "room '" + st.r.id + "' is a direct room: it cannot be left (it closes when "
                                       "one of its two agents retires)");
  auto next = st.r;
  const bool was_owner = next.members[i].role == room_role::owner;
  next.members.erase(next.members.begin() + static_cast<ptrdiff_t>(i));
  std::string closes; // why the room closes, if it does
  agent_id heir;
  if (next.kind == room_kind::direct) {
    closes = "member '" + who + "' left the direct room";
  } else if (next.members.empty()) {
    closes = "last member left";
  } else if (was_owner) {
    // Ownership passes to the longest-standing admin, else member.
    room_member* best = nullptr;
    for (auto& m : next.members)
      if (!best || m.role > best->role)
        best = &m;
    best->role = room_role::owner;
    heir = best->id;
  }
  if (!closes.empty())
    next.open = false;
  const bool was_open = st.r.open;
  storage::write_batch b;
  if (st.rt->store) {
    b.erase(storage::column::members, storage::member_key(st.r.id, who));
    if (!heir.empty())
      // The heir keeps its join position: it is read back from its record.
      b.modify(storage::column::members, storage::member_key(st.r.id, heir),
               [](const std::optional<std::string>& old) -> std::optional<std::string> {
                 storage::member_record rec;
                 if (old)
                   if (auto d = storage::decode_member(*old))
                     rec = *d;
                 rec.role = room_role::owner;
                 return storage::encode(rec);
               });
    if (!closes.empty()) {
      auto closed_room = st.r;
      closed_room.open = false;
      b.put(storage::column::rooms, storage::room_key(st.r.id), storage::encode(storage::room_record{closed_room, {}}));
    }
  }
  return persist_change(self, std::move(b), [self, who, i, closes, heir, was_open, next]() mutable {
    auto& st = self->state;
    auto h = handle_at(st, i); // before the member list changes
    st.r = std::move(next);
    st.index.rebuild(st.r.members);
    st.handles.erase(st.handles.begin() + static_cast<ptrdiff_t>(i));
    st.saturated.erase(who);
    if (h)
      self->send(h, st.rt->notice_for(h, who, caf::make_message(atoms::left_room::value, st.r.id)));
    publish(self, event_kind::member_left, who);
    if (auto ended = st.turns.withdraw(who))
      end_turn(self, event_kind::turn_yielded, *ended, "speaker left");
    if (!closes.empty() && was_open)
      announce_closed(self, closes);
    if (!heir.empty())
      publish(self, event_kind::role_changed, heir, "owner (previous owner left)");
    write_turns_if_changed(self);
  });
}

caf::result<caf::ok_atom> on_invite(self_ptr self, const principal& p, const agent_id& by,
                                    const agent_id& who, room_role role) {
  auto& st = self->state;
  if (auto no = denied(p, action::invite, by, &st.r))
    return *no;
  if (st.r.kind == room_kind::direct)
    return direct_only_two(st);
  if (!st.r.open)
    return closed(st);
  auto* inviter = member(st, by);
  if (!inviter)
    return not_member(st, by);
  if (inviter->role < room_role::admin)
    return to_caf(errc::permission_denied, "agent '" + by + "' is a "
                                             + std::string{to_string(inviter->role)} + " of room '"
                                             + st.r.id + "': only owners and admins invite");
  if (role == room_role::owner || role > inviter->role)
    return to_caf(errc::permission_denied, "agent '" + by + "' may not invite as "
                                             + std::string{to_string(role)} + " in room '"
                                             + st.r.id + "'");
  if (member(st, who))
    return to_caf(errc::already_exists,
                  "agent '" + who + "' is already a member of room '" + st.r.id + "'");
  if (st.invitations.size() >= st.rt->limits.max_members)
    return to_caf(errc::failed_precondition, "room '" + st.r.id + "' has "
                                               + std::to_string(st.invitations.size())
                                               + " pending invitations, the most it may have (limits.max_members)");
  storage::write_batch b;
  if (st.rt->store)
    b.put(storage::column::members, storage::member_key(st.r.id, who),
          storage::encode(storage::member_record{role, 0, 0, true}));
  return persist_change(self, std::move(b), [self, by, who, role] {
    auto& st = self->state;
    st.invitations[who] = role;
    publish(self, event_kind::member_invited, who, "by " + by + " as " + std::string{to_string(role)});
    if (auto h = st.rt->routes.agent(who))
      self->send(h, st.rt->notice_for(h, who, caf::make_message(atoms::invited::value, st.r.id, by, role)));
  });
}

caf::result<caf::ok_atom> on_set_role(self_ptr self, const principal& p, const agent_id& by,
                                      const agent_id& target, room_role role) {
  auto& st = self->state;
  if (auto no = denied(p, action::set_role, by, &st.r))
    return *no;
  if (st.r.kind == room_kind::direct)
    return to_caf(errc::failed_precondition, "room '" + st.r.id + "' is a direct room: no roles");
  auto* actor = member(st, by);
  if (!actor)
    return not_member(st, by);
  auto* t = member(st, target);
  if (!t)
    return to_caf(errc::not_found, "agent '" + target + "' is not a member of room '" + st.r.id + "'");
  // Only a higher rank may change someone, and only to a rank below its own.
  if (by == target || actor->role <= t->role || actor->role <= role)
    return to_caf(errc::permission_denied,
                  "agent '" + by + "' (" + std::string{to_string(actor->role)} + ") may not make '"
                    + target + "' (" + std::string{to_string(t->role)} + ") a "
                    + std::string{to_string(role)} + " in room '" + st.r.id + "'");
  storage::write_batch b;
  if (st.rt->store)
    b.modify(storage::column::members, storage::member_key(st.r.id, target),
             [role](const std::optional<std::string>& old) -> std::optional<std::string> {
               storage::member_record rec;
               if (old)
                 if (auto d = storage::decode_member(*old))
                   rec = *d;
               rec.role = role;
               return storage::encode(rec);
             });
  return persist_change(self, std::move(b), [self, by, target, role] {
    auto& st = self->state;
    if (auto i = st.index.find(st.r.members, target))
      st.r.members[*i].role = role;
    if (role == room_role::guest)
      if (auto ended = st.turns.withdraw(target))
        end_turn(self, event_kind::turn_yielded, *ended, "speaker became a guest");
    publish(self, event_kind::role_changed, target, std::string{to_string(role)} + " by " + by);
    write_turns_if_changed(self);
  });
}

// `by` empty: a staff close (operators, admins); else member `by` closes it
// (owners and admins of the room).
caf::result<caf::ok_atom> on_close(self_ptr self, const principal& p, const agent_id& by) {
  auto& st = self->state;
  if (auto no = denied(p, action::close_room, by, &st.r))
    return *no;
  if (by.empty() && p.role == principal_role::agent)
    return to_caf(errc::invalid_argument, "close room '" + st.r.id + "': name the member closing it (by)");
  if (!by.empty()) {
    auto* m = member(st, by);
    if (!m)
      return not_member(st, by);
    if (m->role < room_role::admin)
      return to_caf(errc::permission_denied,
                    "agent '" + by + "' is a " + std::string{to_string(m->role)} + " of room '"
                      + st.r.id + "': only owners and admins close a room");
  }
  if (!st.r.open)
    return closed(st);
  auto next = st.r;
  next.open = false;
  storage::write_batch b;
  if (st.rt->store)
    b.put(storage::column::rooms, storage::room_key(st.r.id), storage::encode(storage::room_record{next, {}}));
  auto why = "closed by " + (by.empty() ? to_string(p) : by);
  return persist_change(self, std::move(b), [self, why] {
    self->state.r.open = false;
    announce_closed(self, why);
    write_turns_if_changed(self);
  });
}

} // namespace parley::moderator
