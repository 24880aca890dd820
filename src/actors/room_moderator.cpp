#include "actors/room_moderator.hpp"
#include "actors/room_moderator_parts.hpp"

#include <chrono>

#include "actors/persist.hpp"
#include "actors/room_posts.hpp"
#include "parley/auth/access.hpp"
#include "parley/model/limits.hpp"
#include "parley/storage/message_log.hpp"
#include "parley/storage/records.hpp"

namespace parley {

// Internal to the moderator (room_moderator_parts.hpp), in a namespace of
// its own: the membership handlers (room_membership.cpp) share them.
namespace moderator {

void publish(self_ptr self, event_kind k, agent_id who, std::string detail) {
  effect(self, [self, k, who = std::move(who), detail = std::move(detail)]() mutable {
    self->state.rt->publish(k, std::move(who), self->state.r.id, std::move(detail));
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

std::optional<caf::error> denied(const principal& p, action a, const agent_id& as, const room* r) {
  if (auto ok = authorize(p, a, {as, {}, r}); !ok)
    return to_caf(ok.error());
  return std::nullopt;
}

const room_member* member(const room_moderator_state& st, const agent_id& who) {
  auto i = st.index.find(st.r.members, who);
  return i ? &st.r.members[*i] : nullptr;
}

caf::actor handle_of(room_moderator_state& st, const agent_id& who) {
  auto i = st.index.find(st.r.members, who);
  return i ? handle_at(st, *i) : caf::actor{};
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

// The room's own record (rules, open, last activity), without members.
void put_room(const room_moderator_state& st, storage::write_batch& b) {
  if (st.rt->store)
    b.put(storage::column::rooms, storage::room_key(st.r.id), storage::encode(storage::room_record{st.r, {}}));
}

// Durable nodes: writes the turn state if it changed since it was last
// written, without waiting (used after membership changes, whose own
// records were written before they applied).
void write_turns_if_changed(self_ptr self) {
  auto& st = self->state;
  if (!st.rt->store)
    return;
  auto turns = storage::encode(st.turns.save());
  if (turns == st.stored_turns)
    return;
  storage::write_batch b;
  b.put(storage::column::moderators, storage::room_key(st.r.id), turns);
  st.stored_turns = std::move(turns);
  commit_later(*st.rt, std::move(b));
}

// A change of turns or a post. Without a store it applies as it goes.
// With one, its effects wait (deferring) and finish_change writes the turn
// state, the room if it closed, and the post's records in one batch, then
// runs the effects; a failed write (or a post whose idempotency key took
// effect before) restores the turns, open and last activity as they were.
struct turn_change {
  std::optional<turn_scheduler> before;
  bool open_before = true;
  timestamp activity_before = 0;
};

turn_change begin_change(self_ptr self) {
  auto& st = self->state;
  if (!st.rt->store)
    return {};
  st.deferring = true;
  return {st.turns, st.r.open, st.r.last_activity};
}

// `done(failure, outcome)` once the change is durable (at once without a
// store, or when nothing changed).
template <class Done>
void finish_change(self_ptr self, turn_change& c, storage::write_batch b, Done done) {
  auto& st = self->state;
  if (!c.before) {
    commit_outcome none;
    done(static_cast<const error*>(nullptr), none);
    return;
  }
  st.deferring = false;
  auto effects = std::move(st.effects);
  st.effects.clear();
  auto turns = storage::encode(st.turns.save());
  if (turns != st.stored_turns)
    b.put(storage::column::moderators, storage::room_key(st.r.id), turns);
  if (st.r.open != c.open_before)
    put_room(st, b);
  if (b.empty()) {
    for (auto& f : effects)
      f();
    commit_outcome none;
    done(static_cast<const error*>(nullptr), none);
    return;
  }
  persist_then(self, *st.rt, std::move(b),
               [self, effects = std::move(effects), turns = std::move(turns),
                before = std::move(*c.before), open = c.open_before, activity = c.activity_before,
                done](const error* failure, commit_outcome& out) mutable {
                 auto& st = self->state;
                 if (failure || out.already_present) {
                   st.turns = std::move(before);
                   st.r.open = open;
                   st.r.last_activity = activity;
                 } else {
                   st.stored_turns = std::move(turns);
                   for (auto& f : effects)
                     f();
                 }
                 done(failure, out);
               });
}

// Answers `answer` (or `failure`, when set) once the change is durable; a
// failed write answers its error.
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
                [rp, answer, failure = std::move(failure)](const error* e, commit_outcome&) mutable {
                  if (e)
                    rp.deliver(to_caf(*e));
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
      self->send(h, st.rt->notice_for(h, g.speaker, caf::make_message(atoms::turn_granted::value, st.r.id, g.turn)));
    if (g.deadline != 0)
      self->delayed_send(self, std::chrono::milliseconds(st.turns.rules().turn_slot_ms),
                         atoms::expire_turn::value, g.turn);
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

caf::result<send_receipt> on_post(self_ptr self, message& m, bool record_outcome) {
  auto& st = self->state;
  if (pipelines(st))
    return post_pipelined(self, m, record_outcome);
  if (wait_for_posts(st))
    return caf::skip;
  auto change = begin_change(self);
  check_expiry(self);
  const send_receipt refused{message_status::sent, m.sent_at};
  const send_receipt delivered{message_status::delivered, m.sent_at};
  if (auto no = post_refusal(st, m.from))
    return answer_after(self, change, {}, refused, std::move(*no));
  auto now = st.rt->now();
  st.r.last_activity = now;
  const auto speaker = m.from;
  std::vector<storage::outbox_entry> remote;
  auto b = post_records(st, m, record_outcome, now, remote);
  effect(self, [self, speaker, remote = std::move(remote),
                post = caf::make_message(atoms::deliver_post::value, std::move(m))]() mutable {
    fan_out(self, speaker, post, std::move(remote));
  });
  if (st.turns.state().current) {
    auto current = *st.turns.state().current;
    if (st.turns.count_message())
      end_turn(self, event_kind::turn_yielded, current, "max messages per turn");
  }
  if (!change.before)
    return delivered;
  // A retried idempotency key that took effect before: the first outcome,
  // and nothing delivered (finish_change dropped the effects).
  auto rp = self->make_response_promise<send_receipt>();
  finish_change(self, change, std::move(b), [rp, delivered](const error* e, commit_outcome& out) mutable {
    deliver_answer(rp, answer_of(e, out, delivered));
  });
  return rp;
}

caf::result<caf::ok_atom> on_turn_request(self_ptr self, const principal& p, const agent_id& who) {
  auto& st = self->state;
  if (auto no = denied(p, action::take_turn, who, &st.r))
    return *no;
  auto change = begin_change(self);
  auto fail = [&](caf::error e) {
    return answer_after(self, change, {}, caf::ok_atom::value, std::move(e));
  };
  check_expiry(self);
  if (st.r.rules.policy == speaker_policy::none) {
    // Unmoderated: every request is granted at once, nobody waits.
    if (!st.r.open)
      return fail(closed(st));
    auto* m = member(st, who);
    if (!m)
      return fail(not_member(st, who));
    if (m->role == room_role::guest)
      return fail(to_caf(errc::permission_denied, "agent '" + who + "' is a guest in room '"
                                                    + st.r.id + "': guests read only"));
    effect(self, [self, who] {
      auto& st = self->state;
      if (auto h = handle_of(st, who))
        self->send(h, st.rt->notice_for(h, who, caf::make_message(atoms::turn_granted::value, st.r.id, uint64_t{0})));
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

caf::result<caf::ok_atom> on_turn_yield(self_ptr self, const principal& p, const agent_id& who) {
  auto& st = self->state;
  if (auto no = denied(p, action::take_turn, who, &st.r))
    return *no;
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
caf::result<T> read_after_expiry(self_ptr self, const principal& p, Read read) {
  auto& st = self->state;
  if (auto no = denied(p, action::read_room, {}, &st.r))
    return *no;
  auto change = begin_change(self);
  check_expiry(self);
  return answer_after(self, change, {}, read());
}


void on_saturated(self_ptr self, const agent_id& who, bool on) {
  auto& st = self->state;
  if (on && member(st, who))
    st.saturated.insert(who);
  else
    st.saturated.erase(who);
}

void start(self_ptr self, moderator_seed& seed) {
  auto& st = self->state;
  st.turns = turn_scheduler{seed.r.rules};
  st.r = std::move(seed.r);
  st.invitations = std::move(seed.invitations);
  st.next_position = std::max<uint64_t>(seed.next_position, st.r.members.size());
  st.index.rebuild(st.r.members);
  st.handles.resize(st.r.members.size());
  if (seed.turns) {
    st.turns.restore(std::move(*seed.turns), st.r, st.rt->now());
    st.stored_turns = storage::encode(st.turns.save());
    // The speaker may have been mid-turn when the node went down: it is
    // granted its turn again, with a fresh slot.
    if (auto& g = st.turns.state().current) {
      if (auto h = handle_of(st, g->speaker))
        self->send(h, st.rt->notice_for(h, g->speaker, caf::make_message(atoms::turn_granted::value, st.r.id, g->turn)));
      if (g->deadline != 0)
        self->delayed_send(self, std::chrono::milliseconds(st.turns.rules().turn_slot_ms),
                           atoms::expire_turn::value, g->turn);
    }
  }
  // A recovered closed room refuses turns as it did before the restart.
  if (!st.r.open)
    st.turns.close();
}

} // namespace moderator

caf::behavior room_moderator(room_moderator_actor* self, runtime* rt, moderator_seed seed) {
  using namespace moderator;
  self->state.rt = rt;
  start(self, seed);
  // Every change but posts and saturation notices waits for the posts in
  // flight (see wait_for_posts).
  auto after_posts = [self](auto f) -> decltype(f()) {
    if (wait_for_posts(self->state))
      return caf::skip;
    return f();
  };
  return {
    [self](atoms::post_to_room, message& m, bool record_outcome) -> caf::result<send_receipt> {
      return on_post(self, m, record_outcome);
    },
    [self, after_posts](atoms::request_turn, const room_id&, const principal& p, const agent_id& who) {
      return after_posts([&] { return on_turn_request(self, p, who); });
    },
    [self, after_posts](atoms::yield_turn, const room_id&, const principal& p, const agent_id& who) {
      return after_posts([&] { return on_turn_yield(self, p, who); });
    },
    [self, after_posts](atoms::expire_turn, uint64_t) {
      return after_posts([&]() -> caf::result<void> {
        auto change = begin_change(self);
        check_expiry(self);
        finish_change(self, change, {}, [](const error*, commit_outcome&) {});
        return caf::unit;
      });
    },
    [self, after_posts](atoms::admit_member, const room_id&, const agent_id& who) {
      return after_posts([&] { return on_admit(self, who); });
    },
    [self, after_posts](atoms::remove_member, const room_id&, const principal& p, const agent_id& who,
                        bool retiring) {
      return after_posts([&] { return on_remove(self, p, who, retiring); });
    },
    [self, after_posts](atoms::invite_member, const principal& p, const agent_id& by, const agent_id& who,
                        room_role role) {
      return after_posts([&] { return on_invite(self, p, by, who, role); });
    },
    [self, after_posts](atoms::set_member_role, const principal& p, const agent_id& by,
                        const agent_id& target, room_role role) {
      return after_posts([&] { return on_set_role(self, p, by, target, role); });
    },
    [self, after_posts](atoms::close_room, const principal& p, const agent_id& by) {
      return after_posts([&] { return on_close(self, p, by); });
    },
    // Reads answer at once: posts are in flight only in rooms without
    // turns (nothing expires), and a read sees only posts that are written.
    [self](atoms::read_room, const principal& p) {
      return read_after_expiry<room>(self, p, [self] { return self->state.r; });
    },
    [self](atoms::read_turns, const principal& p) {
      return read_after_expiry<turn_state>(self, p, [self] { return self->state.turns.state(); });
    },
    [self](atoms::member_saturated, const room_id&, const agent_id& who, bool on) { on_saturated(self, who, on); },
  };
}

} // namespace parley
