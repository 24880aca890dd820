// The agent actor: its behaviour (serving its inbox through its behaviour
// object), the messages its behaviour sends, its input, its requests and
// the shared handler table. Sends through the API are in agent_sends.cpp,
// how input enters and leaves the inbox in agent_inbox.cpp, changes of its
// page (manifest, retirement, erasure) in agent_page.cpp.

#include "actors/agent_actor.hpp"

#include <algorithm>

#include "actors/agent_parts.hpp"
#include "actors/persist.hpp"
#include "parley/auth/access.hpp"
#include "parley/storage/message_log.hpp"
#include "parley/storage/records.hpp"

namespace parley {

namespace agent_parts {

// How many served messages' hops an agent remembers for replies by id.
constexpr size_t recent_hops_limit = 32;

bool retired(const agent_state& st) {
  return st.man.status == agent_status::retired;
}

caf::error retired_error(const agent_state& st) {
  return to_caf(errc::failed_precondition, "agent '" + st.man.id + "' is retired");
}

unexpected retired_refusal(const agent_state& st) {
  return unexpected{errc::failed_precondition,
                    "agent '" + st.man.id + "' is retired and accepts no messages"};
}

// Asks access.hpp; the error as a CAF reply.
std::optional<caf::error> denied(const agent_state& st, const principal& p, action a) {
  if (auto ok = authorize(p, a, {st.man.id}); !ok)
    return to_caf(ok.error());
  return std::nullopt;
}

manifest materialize(const agent_state& st) {
  manifest m = st.man;
  m.skills.reserve(st.skills.size());
  for (auto& s : st.skills)
    m.skills.push_back(*s);
  if (auto* f = st.attention_queue_ ? st.attention_queue_->focus() : nullptr)
    m.focus = to_string(*f);
  return m;
}

std::string refusal_text(const agent_state& st, const message& m, const error& why) {
  return "agent '" + st.man.id + "' refused message '" + m.id + "' from '" + m.from
         + "': " + why.message;
}

void note_refusal(self_ptr self, const message_id& id, const std::string& to, const error& why) {
  auto& st = self->state;
  st.rt->counters.refused.add();
  st.rt->publish(event_kind::message_refused, st.man.id, {}, id + " to " + to + ": " + to_string(why));
}

// -- behaviour ------------------------------------------------------------------

void execute(self_ptr self, behavior_action& a, const message* answering);

void react(self_ptr self, const behavior_input& in, const dialogue_context* ctx) {
  auto& st = self->state;
  // The thread's buffer, not a new vector per input; a nested call (none
  // today) would find it taken and start an empty one.
  static thread_local std::vector<behavior_action> spare;
  std::vector<behavior_action> actions;
  actions.swap(spare);
  behavior_view view{st.man, st.skills, ctx, now(st)};
  st.behavior->react(view, in, actions);
  for (auto& a : actions)
    execute(self, a, in.k == behavior_input::kind::message ? in.msg : nullptr);
  actions.clear();
  if (actions.capacity() <= 64)
    spare.swap(actions);
}

void remember_hops(agent_state& st, const message& m) {
  auto& recent = st.extras().recent_hops;
  if (recent.size() == recent_hops_limit)
    recent.pop_front();
  recent.emplace_back(m.id, m.hops);
}

// The message `m` read: receipt, event.
void mark_read(self_ptr self, const message& m) {
  auto& st = self->state;
  if (st.rt->wants(topic::message))
    st.rt->publish(event_kind::message_read, st.man.id, m.to.is_room() ? m.to.id : "",
                   m.from + "/" + m.id);
  if (m.receipt)
    if (auto sender = st.rt->routes.agent(m.from))
      self->send(sender, atoms::read_receipt::value, m.id, message_status::read);
}

void serve_dialogue(self_ptr self, std::vector<uint64_t>& served) {
  auto& st = self->state;
  auto batch = st.attention().pop(now(st));
  if (!batch)
    return;
  const bool keeps_context = st.behavior->uses_context();
  for (auto& m : batch->inputs) {
    if (st.extras_ && st.extras_->read_ahead.erase(m.delivery) != 0) {
      // Marked read before it was handed out: done, without the behaviour
      // (its inbox entry went with the MarkRead).
      mark_read(self, m);
      continue;
    }
    // Not batch->context: the actions of the previous input may have opened
    // dialogues, moving the queue's table; look the context up again.
    dialogue_context* ctx = nullptr;
    if (keeps_context) {
      ctx = &st.attention().context(batch->key);
      ctx->add({context_entry::role::peer, m.from, m.content, 0});
    }
    if (st.behavior->acknowledges())
      remember_hops(st, m);
    behavior_input in;
    in.k = behavior_input::kind::message;
    in.msg = &m;
    react(self, in, ctx);
    st.rt->counters.served.add();
    // An external agent has only been handed the message: it is read (out
    // of the inbox, receipt, event) when the agent acknowledges it.
    if (st.behavior->acknowledges())
      continue;
    m.status = message_status::read;
    served.push_back(m.delivery);
    mark_read(self, m);
  }
}

void serve_some(self_ptr self) {
  auto& st = self->state;
  if (retired(st))
    return;
  std::vector<uint64_t> served;
  while (!st.inbox_empty() && st.behavior->ready()) {
    serve_dialogue(self, served);
    refill(self);
    if (!self->mailbox().empty())
      break;
  }
  forget_deliveries(self, served);
  refill(self);
  // Not ready (a link without credit): whoever gives credit wakes the agent.
  if (!st.inbox_empty() && st.behavior->ready() && !st.serve_scheduled) {
    st.serve_scheduled = true;
    self->send(self, atoms::serve_inbox::value);
  }
}

message_id next_id(agent_state& st) {
  return st.rt->generated_id("m", st.next_message++);
}

// Adds `m`, sent by this agent, to its dialogue's context.
void remember_sent(agent_state& st, const message& m) {
  if (st.behavior->uses_context())
    st.attention().context(dialogue_of(m, st.man.id)).add({context_entry::role::self, st.man.id, m.content, 0});
  st.rt->counters.messages_sent.add();
  if (st.rt->wants(topic::message))
    st.rt->publish(event_kind::message_sent, st.man.id, m.to.is_room() ? m.to.id : "", m.id);
}

// A message the behaviour wrote.
void send_message(self_ptr self, message& m, const message* answering) {
  auto& st = self->state;
  m.id = next_id(st);
  m.from = st.man.id;
  m.sent_at = now(st);
  m.status = message_status::sent;
  m.hops = answering ? answering->hops + 1 : 0;
  if (m.hops > st.rt->limits.max_reply_hops) {
    st.rt->counters.replies_stopped.add();
    note_refusal(self, m.id, m.to.id,
                 {errc::failed_precondition, "automatic reply not sent: the chain of replies reached "
                                               + std::to_string(st.rt->limits.max_reply_hops)
                                               + " hops (limits.max_reply_hops)"});
    return;
  }
  remember_sent(st, m);
  if (!m.to.is_room()) {
    auto peer = st.rt->routes.agent(m.to.id);
    if (!peer) {
      note_refusal(self, m.id, m.to.id, st.rt->missing_agent(m.to.id));
      return;
    }
    self->send(peer, atoms::deliver_post::value, std::move(m));
    return;
  }
  auto mod = st.rt->routes.room(m.to.id);
  if (!mod) {
    note_refusal(self, m.id, m.to.id, {errc::not_found, "no room '" + m.to.id + "'"});
    return;
  }
  auto id = m.id;
  auto to = m.to.id;
  self->request(mod, caf::infinite, atoms::post_to_room::value, std::move(m), false)
    .then([](send_receipt) {},
          [self, id, to](caf::error& e) { note_refusal(self, id, to, from_caf(e, self->system())); });
}

// Turn requests and yields from the behaviour: failures (room gone, closed)
// leave the agent as it is; the moderator's events tell observers.
void ask_room(self_ptr self, const room_id& r, bool request) {
  auto& st = self->state;
  auto mod = st.rt->routes.room(r);
  if (!mod)
    return;
  auto on_error = [](caf::error&) {};
  auto as = principal::agent(st.man.id);
  if (request)
    self->request(mod, caf::infinite, atoms::request_turn::value, r, as, st.man.id)
      .then([](caf::ok_atom) {}, on_error);
  else
    self->request(mod, caf::infinite, atoms::yield_turn::value, r, as, st.man.id)
      .then([](caf::ok_atom) {}, on_error);
}

void execute(self_ptr self, behavior_action& a, const message* answering) {
  switch (a.k) {
    case behavior_action::kind::send:
      send_message(self, a.msg, answering);
      break;
    case behavior_action::kind::request_turn:
      ask_room(self, a.room, true);
      break;
    case behavior_action::kind::yield_turn:
      ask_room(self, a.room, false);
      break;
  }
}

// -- input handlers -------------------------------------------------------------

// A direct message for the inbox. On a durable node it enters the inbox
// only once its record (also its idempotency record), history entry and
// inbox entry are committed; for an API send the commit is refused if the
// key took effect before, and `done` gets the first send's outcome instead.
// `done(failure, first, refused)`: `refused` is the message when it was not
// taken (failure set), else nullptr. The commit is pipelined: the agent goes on taking
// messages meanwhile, with the message's slot reserved (st.reserved counts
// against the backlog limit until it is taken), so the writer's group
// commit carries the messages of every agent at once.
template <class Done>
void deliver(self_ptr self, message&& m, bool record_outcome, Done done) {
  auto& st = self->state;
  if (auto ok = can_take(self, m, input_kind::direct); !ok) {
    done(&ok.error(), std::optional<storage::send_outcome>{}, &m);
    return;
  }
  if (!st.rt->store) {
    take(self, std::move(m));
    done(static_cast<const error*>(nullptr), std::optional<storage::send_outcome>{}, nullptr);
    schedule_serve(self);
    return;
  }
  m.delivery = st.rt->next_delivery();
  m.status = message_status::delivered;
  storage::write_batch b;
  storage::add_message(b, m, {st.man.id}, m.delivery);
  if (record_outcome)
    storage::guard_idempotency(b, m, now(st) - st.rt->limits.idempotency_window_ms);
  ++st.reserved;
  persist_then(self, *st.rt, std::move(b),
               [self, m = std::move(m), done](const error* failure, commit_outcome& out) mutable {
                 --self->state.reserved;
                 if (failure) {
                   done(failure, std::optional<storage::send_outcome>{}, &m);
                   return;
                 }
                 if (out.already_present) {
                   auto first = storage::outcome_of_record(*out.already_present);
                   if (!first)
                     done(&first.error(), std::optional<storage::send_outcome>{}, &m);
                   else
                     done(static_cast<const error*>(nullptr),
                          std::optional<storage::send_outcome>{std::move(*first)}, nullptr);
                   return;
                 }
                 // Retired meanwhile: the entry stays in the store like the
                 // rest of a retired agent's inbox.
                 if (!retired(self->state))
                   take(self, std::move(m));
                 // Answer first: serving may take long (the behaviour runs inline).
                 done(static_cast<const error*>(nullptr), std::optional<storage::send_outcome>{}, nullptr);
                 schedule_serve(self, true);
               },
               while_writing::go_on);
}

caf::result<send_receipt> on_deliver_direct(self_ptr self, message& m) {
  auto rp = self->make_response_promise<send_receipt>();
  const auto at = m.sent_at;
  deliver(self, std::move(m), true,
          [rp, at](const error* failure, std::optional<storage::send_outcome> first, const message*) mutable {
            if (failure)
              rp.deliver(to_caf(*failure));
            else if (first)
              rp.deliver(send_receipt{first->status, first->at});
            else
              rp.deliver(send_receipt{message_status::delivered, at});
          });
  return rp;
}

void tell_author(self_ptr self, const agent_id& author, const message_id& id, const error& why) {
  if (auto a = self->state.rt->routes.agent(author))
    self->send(a, atoms::post_refused::value, id, self->state.man.id, to_caf(why));
}

void on_deliver_post(self_ptr self, message& m) {
  auto& st = self->state;
  // A room post comes stored by its moderator (with its delivery number)
  // and acknowledged: it waits in the backlog if the inbox is full.
  if (m.to.is_room()) {
    if (retired(st))
      return;
    take(self, std::move(m));
    schedule_serve(self);
    return;
  }
  // A direct message from a behaviour: refused when it does not fit.
  deliver(self, std::move(m), false,
          [self](const error* failure, const std::optional<storage::send_outcome>&, const message* refused) {
            if (failure)
              tell_author(self, refused->from, refused->id, *failure);
          });
}

void on_restore_inbox(self_ptr self, std::vector<message>& entries) {
  for (auto& m : entries)
    if (auto ok = can_take(self, m, input_kind::acknowledged); ok)
      take(self, std::move(m));
  schedule_serve(self, true);
}

// -- requests -------------------------------------------------------------------

caf::result<caf::message> on_join_as(self_ptr self, const principal& p, const room_id& r) {
  auto& st = self->state;
  if (auto no = denied(st, p, action::join))
    return *no;
  if (retired(st))
    return retired_error(st);
  auto mod = st.rt->routes.room(r);
  if (!mod)
    return to_caf(errc::not_found, "room '" + r + "' does not exist");
  return self->delegate(mod, atoms::admit_member::value, r, st.man.id);
}

void on_turn_granted(self_ptr self, const room_id& r, uint64_t turn) {
  if (retired(self->state))
    return;
  behavior_input in;
  in.k = behavior_input::kind::turn_granted;
  in.room = r;
  in.turn = turn;
  react(self, in, nullptr);
}

void on_invited(self_ptr self, const room_id& r, const agent_id& by, room_role role) {
  if (retired(self->state))
    return;
  behavior_input in;
  in.k = behavior_input::kind::invited;
  in.room = r;
  in.by = by;
  in.role = role;
  react(self, in, nullptr);
}

// An external agent acknowledged messages it was handed: they are read.
void on_link_acked(self_ptr self, std::vector<message>& acked) {
  std::vector<uint64_t> ds;
  for (auto& m : acked) {
    ds.push_back(m.delivery);
    mark_read(self, m);
  }
  forget_deliveries(self, ds);
}

void skip_read_ahead(self_ptr self, const std::vector<uint64_t>& deliveries) {
  auto& st = self->state;
  auto& x = st.extras();
  for (auto d : deliveries) {
    auto& disk = x.backlog.on_disk;
    if (auto it = std::find(disk.begin(), disk.end(), d); it != disk.end()) {
      disk.erase(it);
      continue;
    }
    auto& mem = x.backlog.in_memory;
    if (auto it = std::find_if(mem.begin(), mem.end(), [d](const message& m) { return m.delivery == d; });
        it != mem.end()) {
      mark_read(self, *it);
      mem.erase(it);
      continue;
    }
    if (x.read_ahead.size() < st.rt->limits.read_ahead_limit)
      x.read_ahead.insert(d);
  }
  check_saturation(self);
}

// MarkRead of deliveries the link has not taken yet: their stored entries
// go first (MarkRead answers once they are gone); then those in the
// backlog go, and those in the queue are skipped when reached (remembered,
// up to limits.read_ahead).
caf::result<caf::ok_atom> on_link_read_ahead(self_ptr self, const std::vector<uint64_t>& deliveries) {
  auto rp = self->make_response_promise<caf::ok_atom>();
  persist_then(self, *self->state.rt, inbox_removals(self->state, deliveries),
               [self, rp, deliveries](const error* failure, commit_outcome&) mutable {
                 if (failure) {
                   rp.deliver(to_caf(*failure));
                   return;
                 }
                 skip_read_ahead(self, deliveries);
                 rp.deliver(caf::ok_atom::value);
               });
  return rp;
}

void on_nudge(self_ptr self) {
  if (retired(self->state))
    return;
  behavior_input in;
  in.k = behavior_input::kind::nudge;
  react(self, in, nullptr);
}

// `key` is a peer (relationship) or a dialogue as to_string(dialogue_key)
// writes it (importance).
void apply_knob(agent_state& st, const std::string& key, double w, bool relationship) {
  if (relationship) {
    st.attention().set_relationship(key, w);
    return;
  }
  if (key.starts_with("room:"))
    st.attention().set_importance(dialogue_key::room(key.substr(5)), w);
  else if (key.starts_with("direct:"))
    st.attention().set_importance(dialogue_key::direct(key.substr(7)), w);
}

// A knob is stored (a read-modify-write of the agent's attention record,
// done by the writer) before it applies, so a restarted agent weighs its
// dialogues as before.
caf::result<caf::ok_atom> on_knob(self_ptr self, const principal& p, std::string key, double w,
                                  bool relationship) {
  auto& st = self->state;
  if (auto no = denied(st, p, action::tune_attention))
    return *no;
  storage::write_batch b;
  b.modify(storage::column::attention, storage::agent_key(st.man.id),
           [key, w, relationship](const std::optional<std::string>& old) -> std::optional<std::string> {
             storage::attention_record rec;
             if (old)
               if (auto decoded = storage::decode_attention(*old))
                 rec = std::move(*decoded);
             (relationship ? rec.relationships[key] : rec.importance[key]) = w;
             return storage::encode(rec);
           });
  auto rp = self->make_response_promise<caf::ok_atom>();
  persist_then(self, *st.rt, std::move(b),
               [self, rp, key, w, relationship](const error* failure, commit_outcome&) mutable {
                 if (failure) {
                   rp.deliver(to_caf(*failure));
                   return;
                 }
                 apply_knob(self->state, key, w, relationship);
                 rp.deliver(caf::ok_atom::value);
               });
  return rp;
}

thread_local agent_actor* current_agent = nullptr;
// The time of the current resume (see now()); unset until first read.
thread_local std::optional<timestamp> resume_now;

timestamp now(const agent_state& st) {
  if (!current_agent)
    return st.rt->now();
  if (!resume_now)
    resume_now = st.rt->now();
  return *resume_now;
}

// Built once; every handler starts from agent_actor::current().
caf::behavior make_agent_behavior() {
  return {
    [](atoms::deliver_direct, message& m) { return on_deliver_direct(agent_actor::current(), m); },
    // From another node (node/federation.cpp): answered to the reply
    // address, so requests reach this mailbox in the order they came.
    [](atoms::deliver_direct, message& m, receipt_reply& r) {
      const auto at = m.sent_at;
      deliver(agent_actor::current(), std::move(m), true,
              [r, at](const error* failure, std::optional<storage::send_outcome> first, const message*) {
                if (failure)
                  r(unexpected{*failure});
                else if (first)
                  r(send_receipt{first->status, first->at});
                else
                  r(send_receipt{message_status::delivered, at});
              });
    },
    [](atoms::deliver_post, const message& m) {
      // A room post arrives as one caf::message shared by every member. A
      // handler taking `message&` would make CAF copy the whole tuple for
      // each member (5 allocations); copy only the parley::message, which
      // the inbox keeps. A direct post owns its tuple and is moved from.
      auto* self = agent_actor::current();
      if (self->current_mailbox_element()->content().shared()) {
        message copy = m;
        on_deliver_post(self, copy);
      } else {
        on_deliver_post(self, const_cast<message&>(m));
      }
    },
    [](atoms::send_as, const principal& p, message& m) -> caf::result<send_receipt> {
      auto* self = agent_actor::current();
      auto rp = self->make_response_promise<send_receipt>();
      on_send_as(self, p, m, receipt_target{rp, std::nullopt}, self->current_sender() == nullptr);
      return rp;
    },
    [](atoms::send_as, const principal& p, message& m, receipt_reply& r) {
      on_send_as(agent_actor::current(), p, m, receipt_target{{}, std::move(r)}, false);
    },
    [](atoms::restore_inbox, std::vector<message>& ms) { on_restore_inbox(agent_actor::current(), ms); },
    [](atoms::serve_inbox) {
      auto* self = agent_actor::current();
      self->state.serve_scheduled = false;
      serve_some(self);
    },
    [](atoms::post_refused, const message_id& id, const agent_id& to, const caf::error& e) {
      auto* self = agent_actor::current();
      note_refusal(self, id, to, from_caf(e, self->system()));
    },
    [](atoms::read_receipt, const message_id& id, message_status s) {
      set_tracked(agent_actor::current()->state, id, s);
    },
    [](atoms::message_status_of, const principal& p, const message_id& id) {
      return on_status_of(agent_actor::current(), p, id);
    },
    [](atoms::read_manifest) { return materialize(agent_actor::current()->state); },
    [](atoms::update_manifest, const principal& p, manifest& m) {
      return on_update(agent_actor::current(), p, m);
    },
    [](atoms::retire, const principal& p) { return on_retire(agent_actor::current(), p); },
    [](atoms::erase_agent, const principal& p) { return on_erase(agent_actor::current(), p); },
    [](atoms::join_as, const principal& p, const room_id& r) {
      return on_join_as(agent_actor::current(), p, r);
    },
    [](atoms::turn_granted, const room_id& r, uint64_t turn) {
      on_turn_granted(agent_actor::current(), r, turn);
    },
    [](atoms::invited, const room_id& r, const agent_id& by, room_role role) {
      on_invited(agent_actor::current(), r, by, role);
    },
    [](atoms::link_acked, std::vector<message>& acked) { on_link_acked(agent_actor::current(), acked); },
    [](atoms::link_read_ahead, const std::vector<uint64_t>& ds) {
      return on_link_read_ahead(agent_actor::current(), ds);
    },
    [](atoms::nudge) { on_nudge(agent_actor::current()); },
    [](atoms::joined_room, const room_id& r) {
      auto* self = agent_actor::current();
      // A join (or a room creation) that raced this agent's retirement: the
      // moderator admitted it after retire() left the rooms it knew of.
      // Leave this one too, so no retired agent stays a member.
      if (retired(self->state)) {
        if (auto mod = self->state.rt->routes.room(r))
          caf::anon_send(mod, atoms::remove_member::value, r, principal::agent(self->state.man.id),
                         self->state.man.id, true);
        return;
      }
      auto& rooms = self->state.man.rooms;
      if (std::find(rooms.begin(), rooms.end(), r) == rooms.end())
        rooms.push_back(r);
      // A room joined while saturated holds its posts back too.
      if (self->state.extras_ && self->state.extras_->backlog.saturated)
        if (auto mod = self->state.rt->routes.room(r))
          self->send(mod, atoms::member_saturated::value, r, self->state.man.id, true);
    },
    [](atoms::left_room, const room_id& r) { std::erase(agent_actor::current()->state.man.rooms, r); },
    [](atoms::set_importance, const principal& p, uint8_t kind, const std::string& id, double w) {
      return on_knob(agent_actor::current(), p,
                     to_string(dialogue_key{static_cast<dialogue_key::kind>(kind), id}), w, false);
    },
    [](atoms::set_relationship, const principal& p, const agent_id& peer, double w) {
      return on_knob(agent_actor::current(), p, peer, w, true);
    },
    [](atoms::restore_knobs, const storage::attention_record& rec) {
      auto& st = agent_actor::current()->state;
      for (auto& [k, w] : rec.importance)
        apply_knob(st, k, w, false);
      for (auto& [peer, w] : rec.relationships)
        apply_knob(st, peer, w, true);
    },
  };
}

} // namespace agent_parts

agent_actor::resume_result agent_actor::resume(caf::execution_unit* ctx, size_t max_throughput) {
  auto* outer = agent_parts::current_agent;
  auto outer_now = std::exchange(agent_parts::resume_now, std::nullopt);
  agent_parts::current_agent = this;
  auto result = caf::stateful_actor<agent_state>::resume(ctx, max_throughput);
  agent_parts::current_agent = outer;
  agent_parts::resume_now = outer_now;
  return result;
}

agent_actor* agent_actor::current() noexcept {
  return agent_parts::current_agent;
}

agent_actor::agent_actor(caf::actor_config& cfg, runtime* rt, agent_seed&& seed)
  : caf::stateful_actor<agent_state>(cfg) {
  state.rt = rt;
  state.man = std::move(seed.man);
  state.skills = std::move(seed.skills);
  state.behavior = std::move(seed.behavior);
}

caf::behavior agent_actor::make_behavior() {
  static const caf::behavior shared = agent_parts::make_agent_behavior();
  return shared;
}

} // namespace parley
