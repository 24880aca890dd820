#include "actors/room_moderator.hpp"

#include "parley/storage/message_log.hpp"
#include "parley/storage/records.hpp"

#include <chrono>

namespace parley {

namespace {

using self_ptr = room_moderator_actor*;

event room_event(const room_moderator_state& st, event_kind k, agent_id who,
                 std::string detail = {}) {
  event e;
  e.kind = k;
  e.agent = std::move(who);
  e.room = st.r.id;
  e.detail = std::move(detail);
  return e;
}

// Runs `f` now, or once the change being made is durable (see begin_change).
template <class F>
void effect(self_ptr self, F f) {
  auto& st = self->state;
  if (st.deferring)
    st.effects.emplace_back(std::move(f));
  else
    f();
}

void publish(self_ptr self, event_kind k, agent_id who, std::string detail = {}) {
  effect(self, [self, e = room_event(self->state, k, std::move(who), std::move(detail))] {
    self->state.rt->publish(e);
  });
}

caf::error not_member(const room_moderator_state& st, const agent_id& who) {
  return to_caf(errc::permission_denied,
                "agent '" + who + "' is not a member of room '" + st.r.id + "'");
}

caf::error closed(const room_moderator_state& st) {
  return to_caf(errc::failed_precondition, "room '" + st.r.id + "' is closed");
}

caf::error direct_only_two(const room_moderator_state& st) {
  return to_caf(errc::failed_precondition,
                "room '" + st.r.id + "' is a direct room: it has exactly its two members");
}

caf::actor handle_of(const room_moderator_state& st, const agent_id& who) {
  for (size_t i = 0; i < st.r.members.size(); ++i)
    if (st.r.members[i].id == who)
      return st.handles[i];
  return {};
}

// Side effects of a room that has just been marked closed.
void announce_closed(self_ptr self, const std::string& why) {
  auto& st = self->state;
  st.turns.close();
  effect(self, [self] {
    self->state.rt->counters.rooms_closed.fetch_add(1, std::memory_order_relaxed);
  });
  publish(self, event_kind::room_closed, st.r.created_by, why);
}

void close_room(self_ptr self, const std::string& why) {
  auto& st = self->state;
  if (!st.r.open)
    return;
  st.r.open = false;
  announce_closed(self, why);
}

// A membership change is written before it applies: with a store, `next`
// (the room and invitations as they will be) is committed, and only then
// does `apply` change the state and tell the members. `await` holds every
// other message until then, so changes never start from the same state. A
// failed write answers storage_failure and changes nothing.
template <class Apply>
caf::result<caf::ok_atom> persist_then(self_ptr self, room next,
                                       std::map<agent_id, room_role> invitations, Apply apply) {
  auto& st = self->state;
  auto rp = self->make_response_promise<caf::ok_atom>();
  if (!st.rt->store) {
    apply(next, invitations);
    rp.deliver(caf::ok_atom::value);
    return rp;
  }
  storage::write_batch b;
  b.put(storage::column::rooms, next.id, storage::encode(storage::room_record{next, invitations}));
  self->request(st.rt->writer, caf::infinite, atoms::commit::value, std::move(b))
    .await(
      [rp, apply, next = std::move(next), invitations = std::move(invitations)](caf::ok_atom) mutable {
        apply(next, invitations);
        rp.deliver(caf::ok_atom::value);
      },
      [rp](caf::error& e) mutable { rp.deliver(std::move(e)); });
  return rp;
}

// Durable nodes: writes the turn state if it changed since it was last
// written, without waiting (used after membership changes, whose own
// record was written before they applied).
void write_turns_if_changed(self_ptr self) {
  auto& st = self->state;
  if (!st.rt->store)
    return;
  auto turns = storage::encode(st.turns.save());
  if (turns == st.stored_turns)
    return;
  storage::write_batch b;
  b.put(storage::column::moderators, st.r.id, turns);
  st.stored_turns = std::move(turns);
  caf::anon_send(st.rt->writer, atoms::commit::value, std::move(b));
}

// A change of turns or a post. Without a store it applies as it goes.
// With one, its effects wait (deferring) and finish_change writes the turn
// state, the room if it closed, and the post's records in one batch, then
// runs the effects; a failed write restores the turns as they were.
struct turn_change {
  std::optional<turn_scheduler> before;
  bool open_before = true;
};

turn_change begin_change(self_ptr self) {
  auto& st = self->state;
  if (!st.rt->store)
    return {};
  st.deferring = true;
  return {st.turns, st.r.open};
}

// `done(error or nullptr)` once the change is durable (at once without a
// store, or when nothing changed).
template <class Done>
void finish_change(self_ptr self, turn_change& c, storage::write_batch b, Done done) {
  auto& st = self->state;
  if (!c.before) {
    done(nullptr);
    return;
  }
  st.deferring = false;
  auto effects = std::move(st.effects);
  st.effects.clear();
  auto turns = storage::encode(st.turns.save());
  if (turns != st.stored_turns)
    b.put(storage::column::moderators, st.r.id, turns);
  if (st.r.open != c.open_before)
    b.put(storage::column::rooms, st.r.id,
          storage::encode(storage::room_record{st.r, st.invitations}));
  if (b.empty()) {
    for (auto& f : effects)
      f();
    done(nullptr);
    return;
  }
  self->request(st.rt->writer, caf::infinite, atoms::commit::value, std::move(b))
    .await(
      [self, effects = std::move(effects), turns = std::move(turns), done](caf::ok_atom) mutable {
        self->state.stored_turns = std::move(turns);
        for (auto& f : effects)
          f();
        done(nullptr);
      },
      [self, before = std::move(*c.before), open = c.open_before, done](caf::error& e) mutable {
        self->state.turns = std::move(before);
        self->state.r.open = open;
        done(&e);
      });
}

// Answers `answer` (or `failure`, when set) once the change is durable; a
// failed write answers its storage_failure.
template <class T>
caf::result<T> answer_after(self_ptr self, turn_change& c, storage::write_batch b, T answer,
                            std::optional<caf::error> failure = {}) {
  if (!c.before) {
    if (failure)
      return std::move(*failure);
    return answer;
  }
  auto rp = self->make_response_promise<T>();
  finish_change(self, c, std::move(b),
                [rp, answer, failure = std::move(failure)](const caf::error* e) mutable {
                  if (e)
                    rp.deliver(*e);
                  else if (failure)
                    rp.deliver(*failure);
                  else
                    rp.deliver(answer);
                });
  return rp;
}

// Grants the next turn if nobody holds it (or closes the room after its
// last round).
void try_grant(self_ptr self) {
  auto& st = self->state;
  auto now = st.rt->now();
  auto res = st.turns.grant_next(st.r, now);
  if (res.closes) {
    close_room(self, "max rounds reached (" + std::to_string(st.turns.rules().max_rounds) + ")");
    return;
  }
  if (!res.granted)
    return;
  auto& g = *res.granted;
  publish(self, event_kind::turn_granted, g.speaker, "turn " + std::to_string(g.turn));
  effect(self, [self, g] {
    auto& st = self->state;
    st.rt->counters.turns_granted.add();
    if (auto h = handle_of(st, g.speaker))
      self->send(h, atoms::granted::value, st.r.id, g.turn);
    if (g.deadline != 0)
      self->delayed_send(self, std::chrono::milliseconds(st.turns.rules().turn_slot_ms),
                         atoms::expire::value, g.turn);
  });
}

void end_turn(self_ptr self, event_kind k, const turn_grant& g, std::string why) {
  publish(self, k, g.speaker, "turn " + std::to_string(g.turn) + ": " + why);
  try_grant(self);
}

// Time slots are checked on every message as well as by the timer, so a
// node running on an injected clock expires turns without sleeping.
void check_expiry(self_ptr self) {
  auto& st = self->state;
  if (auto ended = st.turns.expire(st.rt->now()))
    end_turn(self, event_kind::turn_expired, *ended, "time slot expired");
}

caf::result<message_status> on_post(self_ptr self, message& m, bool record_outcome) {
  auto& st = self->state;
  auto change = begin_change(self);
  check_expiry(self);
  if (auto ok = st.turns.check_post(st.r, m.from); !ok)
    return answer_after(self, change, {}, message_status::sent, to_caf(ok.error()));
  auto now = st.rt->now();
  st.r.last_activity = now;
  const auto speaker = m.from;
  storage::write_batch b;
  if (st.rt->store) {
    // One record, one inbox entry per member (all with the same delivery
    // number), written before anyone receives it.
    m.delivery = st.rt->next_delivery();
    m.status = message_status::delivered;
    std::vector<agent_id> recipients;
    recipients.reserve(st.r.members.size());
    for (auto& member : st.r.members)
      if (member.id != speaker)
        recipients.push_back(member.id);
    const storage::send_outcome outcome{true, message_status::delivered, {}, m.sent_at};
    storage::add_message(b, m, recipients, m.delivery, record_outcome ? &outcome : nullptr);
  }
  // One payload shared by every member's copy.
  effect(self, [self, speaker, out = caf::make_message(atoms::post::value, std::move(m))] {
    auto& st = self->state;
    for (size_t i = 0; i < st.handles.size(); ++i)
      if (st.r.members[i].id != speaker)
        self->send(st.handles[i], out);
  });
  if (st.turns.state().current) {
    auto current = *st.turns.state().current;
    if (st.turns.count_message())
      end_turn(self, event_kind::turn_yielded, current, "max messages per turn");
  }
  return answer_after(self, change, std::move(b), message_status::delivered);
}

caf::result<caf::ok_atom> on_turn_request(self_ptr self, const agent_id& who) {
  auto& st = self->state;
  auto change = begin_change(self);
  auto fail = [&](caf::error e) {
    return answer_after(self, change, {}, caf::ok_atom::value, std::move(e));
  };
  check_expiry(self);
  if (st.r.rules.policy == speaker_policy::none) {
    // Unmoderated: every request is granted at once, nobody waits.
    if (!st.r.open)
      return fail(closed(st));
    auto* m = st.r.find(who);
    if (!m)
      return fail(not_member(st, who));
    if (m->role == room_role::guest)
      return fail(to_caf(errc::permission_denied, "agent '" + who + "' is a guest in room '"
                                                    + st.r.id + "': guests read only"));
    effect(self, [self, who] {
      self->send(handle_of(self->state, who), atoms::granted::value, self->state.r.id, uint64_t{0});
    });
    return answer_after(self, change, {}, caf::ok_atom::value);
  }
  const auto waiting_before = st.turns.state().waiting.size();
  if (auto ok = st.turns.request(st.r, who, st.rt->now()); !ok)
    return fail(to_caf(ok.error()));
  // Asking again while waiting or speaking changes nothing: no event.
  if (st.turns.state().waiting.size() != waiting_before) {
    publish(self, event_kind::turn_requested, who);
    try_grant(self);
  }
  return answer_after(self, change, {}, caf::ok_atom::value);
}

caf::result<caf::ok_atom> on_turn_yield(self_ptr self, const agent_id& who) {
  auto& st = self->state;
  auto change = begin_change(self);
  check_expiry(self);
  if (st.r.rules.policy == speaker_policy::none)
    return answer_after(self, change, {}, caf::ok_atom::value);
  auto ended = st.turns.yield(st.r, who);
  if (!ended)
    return answer_after(self, change, {}, caf::ok_atom::value, to_caf(ended.error()));
  end_turn(self, event_kind::turn_yielded, *ended, "yielded");
  return answer_after(self, change, {}, caf::ok_atom::value);
}

// A read that first applies an expired time slot (which, on a durable
// node, is written before the answer).
template <class T, class Read>
caf::result<T> read_after_expiry(self_ptr self, Read read) {
  auto change = begin_change(self);
  check_expiry(self);
  return answer_after(self, change, {}, read());
}

caf::result<caf::ok_atom> on_join(self_ptr self, const agent_id& who, const caf::actor& h) {
  auto& st = self->state;
  if (st.r.kind == room_kind::direct)
    return direct_only_two(st);
  if (!st.r.open)
    return closed(st);
  if (st.r.find(who))
    return to_caf(errc::already_exists,
                  "agent '" + who + "' is already a member of room '" + st.r.id + "'");
  auto role = room_role::member;
  auto invitations = st.invitations;
  if (auto inv = invitations.find(who); inv != invitations.end()) {
    role = inv->second;
    invitations.erase(inv);
  } else if (st.r.access == room_access::invite_only) {
    return to_caf(errc::permission_denied,
                  "room '" + st.r.id + "' is invite-only and agent '" + who + "' has no invitation");
  }
  auto next = st.r;
  auto now = st.rt->now();
  next.members.push_back({who, role, now});
  next.last_activity = now;
  return persist_then(self, std::move(next), std::move(invitations),
                      [self, who, h, role](room& r, std::map<agent_id, room_role>& inv) {
                        auto& st = self->state;
                        st.r = std::move(r);
                        st.invitations = std::move(inv);
                        st.handles.push_back(h);
                        self->send(h, atoms::room_added::value, st.r.id);
                        publish(self, event_kind::member_joined, who, std::string{to_string(role)});
                      });
}

caf::result<caf::ok_atom> on_leave(self_ptr self, const agent_id& who) {
  auto& st = self->state;
  size_t i = 0;
  while (i < st.r.members.size() && st.r.members[i].id != who)
    ++i;
  if (i == st.r.members.size())
    return not_member(st, who);
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
  return persist_then(
    self, std::move(next), st.invitations,
    [self, who, i, closes, heir, was_open](room& r, std::map<agent_id, room_role>&) {
      auto& st = self->state;
      st.r = std::move(r);
      auto h = st.handles[i];
      st.handles.erase(st.handles.begin() + static_cast<ptrdiff_t>(i));
      self->send(h, atoms::room_removed::value, st.r.id);
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

caf::result<caf::ok_atom> on_invite(self_ptr self, const agent_id& by, const agent_id& who,
                                    room_role role) {
  auto& st = self->state;
  if (st.r.kind == room_kind::direct)
    return direct_only_two(st);
  if (!st.r.open)
    return closed(st);
  auto* inviter = st.r.find(by);
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
  if (st.r.find(who))
    return to_caf(errc::already_exists,
                  "agent '" + who + "' is already a member of room '" + st.r.id + "'");
  auto invitations = st.invitations;
  invitations[who] = role;
  return persist_then(self, st.r, std::move(invitations),
                      [self, by, who, role](room&, std::map<agent_id, room_role>& inv) {
                        self->state.invitations = std::move(inv);
                        publish(self, event_kind::member_invited, who,
                                "by " + by + " as " + std::string{to_string(role)});
                        if (auto h = self->state.rt->agents.find(who))
                          self->send(h, atoms::invited::value, self->state.r.id, by, role);
                      });
}

caf::result<caf::ok_atom> on_set_role(self_ptr self, const agent_id& by, const agent_id& target,
                                      room_role role) {
  auto& st = self->state;
  if (st.r.kind == room_kind::direct)
    return to_caf(errc::failed_precondition, "room '" + st.r.id + "' is a direct room: no roles");
  auto* actor = st.r.find(by);
  if (!actor)
    return not_member(st, by);
  auto* t = st.r.find(target);
  if (!t)
    return to_caf(errc::not_found, "agent '" + target + "' is not a member of room '" + st.r.id + "'");
  // Only a higher rank may change someone, and only to a rank below its own.
  if (by == target || actor->role <= t->role || actor->role <= role)
    return to_caf(errc::permission_denied,
                  "agent '" + by + "' (" + std::string{to_string(actor->role)} + ") may not make '"
                    + target + "' (" + std::string{to_string(t->role)} + ") a "
                    + std::string{to_string(role)} + " in room '" + st.r.id + "'");
  auto next = st.r;
  for (auto& m : next.members)
    if (m.id == target)
      m.role = role;
  return persist_then(self, std::move(next), st.invitations,
                      [self, by, target, role](room& r, std::map<agent_id, room_role>&) {
                        auto& st = self->state;
                        st.r = std::move(r);
                        if (role == room_role::guest)
                          if (auto ended = st.turns.withdraw(target))
                            end_turn(self, event_kind::turn_yielded, *ended, "speaker became a guest");
                        publish(self, event_kind::role_changed, target,
                                std::string{to_string(role)} + " by " + by);
                        write_turns_if_changed(self);
                      });
}

caf::result<caf::ok_atom> on_close(self_ptr self, const caller& p) {
  auto& st = self->state;
  if (!p.admin) {
    auto* m = st.r.find(p.id);
    if (!m)
      return not_member(st, p.id);
    if (m->role < room_role::admin)
      return to_caf(errc::permission_denied,
                    "agent '" + p.id + "' is a " + std::string{to_string(m->role)} + " of room '"
                      + st.r.id + "': only owners and admins close a room");
  }
  if (!st.r.open)
    return closed(st);
  auto next = st.r;
  next.open = false;
  auto why = "closed by " + (p.admin ? std::string{"admin"} : p.id);
  return persist_then(self, std::move(next), st.invitations,
                      [self, why](room& r, std::map<agent_id, room_role>&) {
                        self->state.r = std::move(r);
                        announce_closed(self, why);
                        write_turns_if_changed(self);
                      });
}

} // namespace

caf::behavior room_moderator(room_moderator_actor* self, runtime* rt, room r,
                             std::vector<caf::actor> members,
                             std::map<agent_id, room_role> invitations,
                             std::optional<storage::moderator_record> turns) {
  auto& st = self->state;
  st.rt = rt;
  st.turns = turn_scheduler{r.rules};
  st.r = std::move(r);
  st.handles = std::move(members);
  st.invitations = std::move(invitations);
  if (turns) {
    st.turns.restore(std::move(*turns), st.r, rt->now());
    st.stored_turns = storage::encode(st.turns.save());
    // The speaker may have been mid-turn when the node went down: it is
    // granted its turn again, with a fresh slot.
    if (auto& g = st.turns.state().current) {
      if (auto h = handle_of(st, g->speaker))
        self->send(h, atoms::granted::value, st.r.id, g->turn);
      if (g->deadline != 0)
        self->delayed_send(self, std::chrono::milliseconds(st.turns.rules().turn_slot_ms),
                           atoms::expire::value, g->turn);
    }
  }
  // A recovered closed room refuses turns as it did before the restart.
  if (!st.r.open)
    st.turns.close();
  return {
    [self](atoms::room_post, message& m, bool record_outcome) {
      return on_post(self, m, record_outcome);
    },
    [self](atoms::turn_request, const agent_id& who) { return on_turn_request(self, who); },
    [self](atoms::turn_yield, const agent_id& who) { return on_turn_yield(self, who); },
    [self](atoms::expire, uint64_t) {
      auto change = begin_change(self);
      check_expiry(self);
      finish_change(self, change, {}, [](const caf::error*) {});
    },
    [self](atoms::join_room, const agent_id& who, const caf::actor& h) {
      return on_join(self, who, h);
    },
    [self](atoms::leave_room, const agent_id& who) { return on_leave(self, who); },
    [self](atoms::invite, const agent_id& by, const agent_id& who, room_role role) {
      return on_invite(self, by, who, role);
    },
    [self](atoms::set_role, const agent_id& by, const agent_id& target, room_role role) {
      return on_set_role(self, by, target, role);
    },
    [self](atoms::close_room, const caller& p) { return on_close(self, p); },
    [self](atoms::get_room) {
      return read_after_expiry<room>(self, [self] { return self->state.r; });
    },
    [self](atoms::get_turns) {
      return read_after_expiry<turn_state>(self, [self] { return self->state.turns.state(); });
    },
  };
}

} // namespace parley
