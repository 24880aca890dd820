#include "actors/agent_actor.hpp"

#include "parley/storage/message_log.hpp"
#include "parley/storage/records.hpp"

#include <algorithm>

namespace parley {

namespace {

// How many API-sent messages' statuses an agent remembers.
constexpr size_t tracked_limit = 64;

event make_event(event_kind k, const agent_id& agent, std::string room = {},
                 std::string detail = {}) {
  event e;
  e.kind = k;
  e.agent = agent;
  e.room = std::move(room);
  e.detail = std::move(detail);
  return e;
}

unexpected retired_error(const agent_state& st) {
  return unexpected{errc::failed_precondition, "agent '" + st.man.id + "' is retired"};
}

bool retired(const agent_state& st) {
  return st.man.status == agent_status::retired;
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

void set_tracked(agent_state& st, const message_id& id, message_status s) {
  for (auto& [mid, status] : st.tracked)
    if (mid == id) {
      // Receipts may overtake one another; status only moves forward.
      status = std::max(status, s);
      return;
    }
  if (st.tracked.size() == tracked_limit)
    st.tracked.erase(st.tracked.begin());
  st.tracked.emplace_back(id, s);
}

std::string refusal_text(const agent_state& st, const message& m, const error& why) {
  return "agent '" + st.man.id + "' refused message '" + m.id + "' from '" + m.from
         + "': " + why.message;
}

unexpected retired_refusal(const agent_state& st) {
  return unexpected{errc::failed_precondition,
                    "agent '" + st.man.id + "' is retired and accepts no messages"};
}

// Puts `m` into the attention queue (the inbox) or says why not.
expected<void> accept(agent_actor* self, message& m) {
  auto& st = self->state;
  if (retired(st))
    return retired_refusal(st);
  auto key = dialogue_of(m, st.man.id);
  m.status = message_status::delivered;
  // Acknowledgements name deliveries: number them also without a store.
  if (m.delivery == 0 && st.behavior->acknowledges())
    m.delivery = st.rt->next_delivery();
  auto id = m.id;
  auto from = m.from;
  if (auto ok = st.attention().push(key, std::move(m), st.rt->now(), st.man.capacity); !ok)
    return unexpected{ok.error().code, "agent '" + st.man.id + "' refused message '" + id
                                         + "' from '" + from + "': " + ok.error().message};
  st.rt->counters.deliveries.add();
  if (st.rt->wants(topic::message))
    st.rt->publish(make_event(event_kind::message_delivered, st.man.id, {}, from + "/" + id));
  return {};
}

void schedule_serve(agent_actor* self, bool queued = false);

// Durable nodes: a direct message enters the inbox only once its record,
// history entry and inbox entry (and, for an API send, its outcome under
// the idempotency key) are committed. `await` holds every other message
// meanwhile, so the room checked for it in the inbox is still there when the
// commit returns. `done` gets the result.
template <class Done>
void deliver_durably(agent_actor* self, message m, bool record_outcome, Done done) {
  auto& st = self->state;
  if (retired(st)) {
    done(expected<void>{retired_refusal(st)});
    return;
  }
  if (auto ok = st.attention().can_push(dialogue_of(m, st.man.id), st.man.capacity); !ok) {
    done(expected<void>{unexpected{ok.error().code, refusal_text(st, m, ok.error())}});
    return;
  }
  m.delivery = st.rt->next_delivery();
  m.status = message_status::delivered;
  storage::write_batch b;
  const storage::send_outcome outcome{true, message_status::delivered, {}, m.sent_at};
  storage::add_message(b, m, {st.man.id}, m.delivery, record_outcome ? &outcome : nullptr);
  self->request(st.rt->writer, caf::infinite, atoms::commit::value, std::move(b))
    .await(
      [self, m = std::move(m), done](caf::ok_atom) mutable {
        auto ok = accept(self, m);
        // Answer first: serving may take long (the behaviour runs inline).
        done(ok);
        if (ok)
          schedule_serve(self, true);
      },
      [self, done](caf::error& e) mutable { done(expected<void>{unexpected{from_caf(e, self->system())}}); });
}

// Durable nodes: drops inbox entries whose message will not be served
// (served already, or refused). Not awaited: losing this write in a crash
// only means the message is offered once more after the restart.
void forget_deliveries(agent_actor* self, storage::write_batch& b) {
  if (!b.empty())
    caf::anon_send(self->state.rt->writer, atoms::commit::value, std::move(b));
}

void serve_some(agent_actor* self);

// Serves now if nothing else waits in the mailbox (the usual case under
// light load: no extra message), else after what is already queued, so
// that all pending input is weighed before the next pick.
// `queued`: always by a message to itself. Needed after an awaited write:
// messages that arrived during the wait are set aside by CAF and do not
// count in mailbox(), yet must be weighed before the next pick.
void schedule_serve(agent_actor* self, bool queued) {
  auto& st = self->state;
  if (st.serve_scheduled)
    return;
  if (!queued && self->mailbox().empty()) {
    serve_some(self);
    return;
  }
  st.serve_scheduled = true;
  self->send(self, atoms::serve::value);
}

void execute(agent_actor* self, behavior_action& a);

void react(agent_actor* self, const behavior_input& in, const dialogue_context* ctx) {
  auto& st = self->state;
  std::vector<behavior_action> actions;
  behavior_view view{st.man, st.skills, ctx, st.rt->now()};
  st.behavior->react(view, in, actions);
  for (auto& a : actions)
    execute(self, a);
}

void on_acked(agent_actor* self, std::vector<message>& acked);

void serve_dialogue(agent_actor* self, storage::write_batch& served) {
  auto& st = self->state;
  auto now = st.rt->now();
  auto batch = st.attention().pop(now);
  if (!batch)
    return;
  for (auto& m : batch->inputs) {
    if (st.read_ahead && st.read_ahead->erase(m.delivery) != 0) {
      // Marked read before it was handed out: done, without the behaviour.
      std::vector<message> one{m};
      on_acked(self, one);
      continue;
    }
    // Not batch->context: the actions of the previous input may have opened
    // dialogues, moving the queue's table; look the context up again.
    auto& ctx = st.attention().context(batch->key);
    ctx.add({context_entry::role::peer, m.from, m.content, 0});
    behavior_input in;
    in.k = behavior_input::kind::message;
    in.msg = &m;
    react(self, in, &ctx);
    st.rt->counters.served.add();
    // An external agent has only been handed the message: it is read (out
    // of the inbox, receipt, event) when the agent acknowledges it.
    if (st.behavior->acknowledges())
      continue;
    m.status = message_status::read;
    if (m.delivery != 0 && st.rt->store)
      storage::add_inbox_removal(served, st.man.id, m.delivery);
    if (st.rt->wants(topic::message))
      st.rt->publish(make_event(event_kind::message_read, st.man.id, m.to.is_room() ? m.to.id : "",
                                m.from + "/" + m.id));
    if (m.receipt)
      if (auto sender = st.rt->agents.find(m.from))
        self->send(sender, atoms::receipt::value, m.id, message_status::read);
  }
}

void serve_some(agent_actor* self) {
  auto& st = self->state;
  if (retired(st))
    return;
  storage::write_batch served;
  while (!st.inbox_empty() && st.behavior->ready()) {
    serve_dialogue(self, served);
    if (!self->mailbox().empty())
      break;
  }
  forget_deliveries(self, served);
  // Not ready (a link without credit): whoever gives credit wakes the agent.
  if (!st.inbox_empty() && st.behavior->ready() && !st.serve_scheduled) {
    st.serve_scheduled = true;
    self->send(self, atoms::serve::value);
  }
}

message_id next_id(agent_state& st) {
  return st.rt->generated_id("m", st.next_message++);
}

void note_refusal(agent_actor* self, const message_id& id, const std::string& to,
                  const error& why) {
  auto& st = self->state;
  st.rt->counters.refused.add();
  st.rt->publish(make_event(event_kind::message_refused, st.man.id, {},
                            id + " to " + to + ": " + to_string(why)));
}

void send_message(agent_actor* self, message& m) {
  auto& st = self->state;
  m.id = next_id(st);
  m.from = st.man.id;
  m.sent_at = st.rt->now();
  m.status = message_status::sent;
  st.attention().context(dialogue_of(m, st.man.id))
    .add({context_entry::role::self, st.man.id, m.content, 0});
  st.rt->counters.messages_sent.add();
  if (st.rt->wants(topic::message))
    st.rt->publish(make_event(event_kind::message_sent, st.man.id, m.to.is_room() ? m.to.id : "",
                              m.id));
  if (!m.to.is_room()) {
    auto peer = st.rt->agents.find(m.to.id);
    if (!peer) {
      note_refusal(self, m.id, m.to.id, {errc::not_found, "no agent '" + m.to.id + "'"});
      return;
    }
    self->send(peer, atoms::post::value, std::move(m));
    return;
  }
  auto mod = st.rt->rooms.find(m.to.id);
  if (!mod) {
    note_refusal(self, m.id, m.to.id, {errc::not_found, "no room '" + m.to.id + "'"});
    return;
  }
  auto id = m.id;
  auto to = m.to.id;
  self->request(mod, caf::infinite, atoms::room_post::value, std::move(m), false)
    .then([](message_status) {},
          [self, id, to](caf::error& e) { note_refusal(self, id, to, from_caf(e, self->system())); });
}

// Turn requests and yields from the behaviour: failures (room gone, closed)
// leave the agent as it is; the moderator's events tell observers.
void ask_room(agent_actor* self, const room_id& r, bool request) {
  auto& st = self->state;
  auto mod = st.rt->rooms.find(r);
  if (!mod)
    return;
  auto on_error = [](caf::error&) {};
  if (request)
    self->request(mod, caf::infinite, atoms::turn_request::value, st.man.id)
      .then([](caf::ok_atom) {}, on_error);
  else
    self->request(mod, caf::infinite, atoms::turn_yield::value, st.man.id)
      .then([](caf::ok_atom) {}, on_error);
}

void execute(agent_actor* self, behavior_action& a) {
  switch (a.k) {
    case behavior_action::kind::send:
      send_message(self, a.msg);
      break;
    case behavior_action::kind::request_turn:
      ask_room(self, a.room, true);
      break;
    case behavior_action::kind::yield_turn:
      ask_room(self, a.room, false);
      break;
  }
}

// -- handlers -----------------------------------------------------------------

caf::result<message_status> on_deliver(agent_actor* self, message& m) {
  if (self->state.rt->store) {
    auto rp = self->make_response_promise<message_status>();
    deliver_durably(self, std::move(m), true, [rp](const expected<void>& ok) mutable {
      if (ok)
        rp.deliver(message_status::delivered);
      else
        rp.deliver(to_caf(ok.error()));
    });
    return rp;
  }
  if (auto ok = accept(self, m); !ok)
    return to_caf(ok.error());
  schedule_serve(self);
  return message_status::delivered;
}

void tell_author(agent_actor* self, const agent_id& author, const message_id& id,
                 const error& why) {
  if (auto a = self->state.rt->agents.find(author))
    self->send(a, atoms::refused::value, id, self->state.man.id, to_caf(why));
}

void on_post(agent_actor* self, message& m) {
  auto& st = self->state;
  auto id = m.id;
  auto from = m.from;
  // A direct message from a behaviour, on a durable node: stored first. A
  // room post comes stored by its moderator (with its delivery number).
  if (st.rt->store && m.delivery == 0 && !m.to.is_room()) {
    deliver_durably(self, std::move(m), false, [self, id, from](const expected<void>& ok) {
      if (!ok)
        tell_author(self, from, id, ok.error());
    });
    return;
  }
  const auto delivery = m.delivery;
  if (auto ok = accept(self, m); !ok) {
    if (delivery != 0 && st.rt->store) {
      storage::write_batch b;
      storage::add_inbox_removal(b, st.man.id, delivery);
      forget_deliveries(self, b);
    }
    // Tell the author (for room posts the moderator is only the relay).
    tell_author(self, from, id, ok.error());
    return;
  }
  schedule_serve(self);
}

// An inbox entry recovered from the store: it was accepted before the
// restart, so it goes back into the queue as it was.
void on_redeliver(agent_actor* self, message& m) {
  auto id = m.id;
  auto to = self->state.man.id;
  if (auto ok = accept(self, m); !ok) {
    // Left in the store: offered again after the next restart.
    note_refusal(self, id, to, ok.error());
    return;
  }
  schedule_serve(self);
}

// A message sent through the API as this agent. The node has validated it
// and filled in id, sender and time. On a durable node (from, id) is the
// idempotency key: a send that took effect is answered from its stored
// outcome, and a retry while the first is still being written waits for
// the first's answer.
caf::result<send_receipt> on_say(agent_actor* self, message& m) {
  auto& st = self->state;
  // A say without a sender comes from node::post: nobody receives the
  // answer, so a refusal is counted and published here, as post promises.
  const bool anonymous = self->current_sender() == nullptr;
  auto refuse = [self, anonymous, id = m.id, to = m.to.id](caf::error e) {
    if (anonymous)
      note_refusal(self, id, to, from_caf(e, self->system()));
    return e;
  };
  const bool durable = st.rt->store != nullptr;
  if (durable) {
    auto first = storage::find_outcome(*st.rt->store, m.from, m.id);
    if (!first)
      return refuse(to_caf(first.error()));
    if (*first && (*first)->ok)
      return send_receipt{(*first)->status, (*first)->at};
    if (!st.sends_in_flight)
      st.sends_in_flight = std::make_unique<agent_state::in_flight_map>();
    if (auto it = st.sends_in_flight->find(m.id); it != st.sends_in_flight->end()) {
      auto rp = self->make_response_promise<send_receipt>();
      it->second.push_back(rp);
      return rp;
    }
  }
  if (retired(st))
    return refuse(to_caf(errc::failed_precondition,
                         "agent '" + st.man.id + "' is retired and cannot send messages"));
  caf::actor dest = m.to.is_room() ? st.rt->rooms.find(m.to.id) : st.rt->agents.find(m.to.id);
  if (!dest)
    return refuse(to_caf(errc::not_found, std::string{m.to.is_room() ? "room '" : "agent '"}
                                            + m.to.id + "' does not exist"));
  st.attention().context(dialogue_of(m, st.man.id))
    .add({context_entry::role::self, st.man.id, m.content, 0});
  st.rt->counters.messages_sent.add();
  if (st.rt->wants(topic::message))
    st.rt->publish(make_event(event_kind::message_sent, st.man.id, m.to.is_room() ? m.to.id : "",
                              m.id));
  auto rp = self->make_response_promise<send_receipt>();
  if (durable)
    (*st.sends_in_flight)[m.id];
  auto id = m.id;
  auto finish = [self, rp, id, durable](const caf::error* e, send_receipt r) mutable {
    std::vector<caf::typed_response_promise<send_receipt>> waiting;
    auto& inflight = self->state.sends_in_flight;
    if (durable && inflight) {
      if (auto it = inflight->find(id); it != inflight->end()) {
        waiting = std::move(it->second);
        inflight->erase(it);
      }
    }
    waiting.push_back(rp);
    for (auto& w : waiting)
      if (e)
        w.deliver(*e);
      else
        w.deliver(r);
  };
  auto reply = [self, finish, id, track = m.receipt, at = m.sent_at](message_status s) mutable {
    if (track)
      set_tracked(self->state, id, s);
    finish(nullptr, send_receipt{s, at});
  };
  auto fail = [finish, refuse](caf::error& e) mutable {
    auto err = refuse(std::move(e));
    finish(&err, {});
  };
  if (m.to.is_room())
    self->request(dest, caf::infinite, atoms::room_post::value, std::move(m), true).then(reply, fail);
  else
    self->request(dest, caf::infinite, atoms::deliver::value, std::move(m)).then(reply, fail);
  return rp;
}

// With a store, writes the agent's record with manifest `next` (a
// read-modify-write: the stored record also holds the behaviour spec) and
// runs `apply` once it is durable; a failed write answers storage_failure and
// leaves the agent as it was, in memory as on disk. Without a store, runs
// `apply` at once.
template <class T, class Apply>
caf::result<T> persist_then(agent_actor* self, manifest next, Apply apply) {
  auto& st = self->state;
  auto rp = self->make_response_promise<T>();
  if (!st.rt->store) {
    apply(rp);
    return rp;
  }
  auto stored = st.rt->store->get(storage::column::agents, st.man.id);
  if (!stored)
    return to_caf(stored.error());
  storage::agent_record rec;
  if (*stored) {
    auto decoded = storage::decode_agent(**stored);
    if (!decoded)
      return to_caf(decoded.error());
    rec = std::move(*decoded);
  }
  next.focus.clear();
  next.rooms.clear(); // derived from the rooms, not stored with the agent
  rec.man = std::move(next);
  storage::write_batch b;
  b.put(storage::column::agents, st.man.id, storage::encode(rec));
  // await, not then: no other message is handled until the write is done,
  // so two changes never start from the same state (a second retire sees
  // the first).
  self->request(st.rt->writer, caf::infinite, atoms::commit::value, std::move(b))
    .await([rp, apply](caf::ok_atom) mutable { apply(rp); },
           [rp](caf::error& e) mutable { rp.deliver(std::move(e)); });
  return rp;
}

caf::result<manifest> on_update(agent_actor* self, const caller& p, manifest& m) {
  auto& st = self->state;
  if (!p.admin && p.id != st.man.id)
    return to_caf(errc::permission_denied, "only agent '" + st.man.id
                                             + "' itself or an admin may change its manifest (caller: '"
                                             + p.id + "')");
  if (retired(st))
    return to_caf(retired_error(st).err);
  if (m.status == agent_status::retired)
    return to_caf(errc::invalid_argument,
                  "manifest of agent '" + st.man.id + "': status 'retired' is set by retiring the agent");
  // The manifest as it will be: the changeable fields from `m`, the rest kept.
  auto next = materialize(st);
  next.display_name = std::move(m.display_name);
  next.bio = std::move(m.bio);
  next.status = m.status;
  next.activities = std::move(m.activities);
  next.capacity = m.capacity;
  next.online = m.online;
  next.last_seen = m.last_seen;
  next.skills = std::move(m.skills);
  next.last_updated = st.rt->now();
  auto apply = [self, next](caf::typed_response_promise<manifest>& rp) mutable {
    auto& st = self->state;
    const auto old_status = st.man.status;
    st.skills.clear();
    for (auto& s : next.skills)
      st.skills.push_back(st.rt->skills.intern(s));
    st.man.display_name = next.display_name;
    st.man.bio = next.bio;
    st.man.status = next.status;
    st.man.activities = next.activities;
    st.man.capacity = next.capacity;
    st.man.online = next.online;
    st.man.last_seen = next.last_seen;
    st.man.last_updated = next.last_updated;
    st.rt->publish(make_event(event_kind::manifest_updated, st.man.id));
    if (old_status != st.man.status)
      st.rt->publish(make_event(event_kind::agent_status_changed, st.man.id, {},
                                std::string{to_string(st.man.status)}));
    rp.deliver(materialize(st));
  };
  return persist_then<manifest>(self, next, std::move(apply));
}

// Marks the agent retired, leaves every room, and answers only when all
// moderators have answered: retire() then returns with the agent out of its
// rooms (each moderator sends room_removed before its answer).
void finish_retire(agent_actor* self, caf::typed_response_promise<caf::ok_atom>& rp) {
  auto& st = self->state;
  st.man.status = agent_status::retired;
  st.man.online = false;
  st.man.last_updated = st.rt->now();
  st.rt->publish(make_event(event_kind::agent_retired, st.man.id));
  st.rt->publish(make_event(event_kind::agent_status_changed, st.man.id, {}, "retired"));
  auto pending = std::make_shared<size_t>(0);
  for (auto& r : st.man.rooms)
    if (auto mod = st.rt->rooms.find(r)) {
      ++*pending;
      auto done = [rp, pending]() mutable {
        if (--*pending == 0)
          rp.deliver(caf::ok_atom::value);
      };
      self->request(mod, caf::infinite, atoms::leave_room::value, st.man.id)
        .then([done](caf::ok_atom) mutable { done(); }, [done](caf::error&) mutable { done(); });
    }
  if (*pending == 0)
    rp.deliver(caf::ok_atom::value);
}

caf::result<caf::ok_atom> on_retire(agent_actor* self) {
  auto& st = self->state;
  if (retired(st))
    return to_caf(errc::failed_precondition, "agent '" + st.man.id + "' is already retired");
  auto next = materialize(st);
  next.status = agent_status::retired;
  next.online = false;
  next.last_updated = st.rt->now();
  return persist_then<caf::ok_atom>(
    self, std::move(next),
    [self](caf::typed_response_promise<caf::ok_atom>& rp) { finish_retire(self, rp); });
}

caf::result<caf::message> on_enter(agent_actor* self, const room_id& r) {
  auto& st = self->state;
  if (retired(st))
    return to_caf(retired_error(st).err);
  auto mod = st.rt->rooms.find(r);
  if (!mod)
    return to_caf(errc::not_found, "room '" + r + "' does not exist");
  return self->delegate(mod, atoms::join_room::value, st.man.id,
                        caf::actor_cast<caf::actor>(self));
}

void on_granted(agent_actor* self, const room_id& r, uint64_t turn) {
  if (retired(self->state))
    return;
  behavior_input in;
  in.k = behavior_input::kind::turn_granted;
  in.room = r;
  in.turn = turn;
  react(self, in, nullptr);
}

void on_invited(agent_actor* self, const room_id& r, const agent_id& by, room_role role) {
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
void on_acked(agent_actor* self, std::vector<message>& acked) {
  auto& st = self->state;
  storage::write_batch b;
  for (auto& m : acked) {
    if (m.delivery != 0 && st.rt->store)
      storage::add_inbox_removal(b, st.man.id, m.delivery);
    if (st.rt->wants(topic::message))
      st.rt->publish(make_event(event_kind::message_read, st.man.id, m.to.is_room() ? m.to.id : "",
                                m.from + "/" + m.id));
    if (m.receipt)
      if (auto sender = st.rt->agents.find(m.from))
        self->send(sender, atoms::receipt::value, m.id, message_status::read);
  }
  forget_deliveries(self, b);
}

void on_nudge(agent_actor* self) {
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

// Durable nodes: a knob is stored (the agent's attention record) before it
// applies, so a restarted agent weighs its dialogues as before.
caf::result<caf::ok_atom> on_knob(agent_actor* self, std::string key, double w, bool relationship) {
  auto& st = self->state;
  if (!st.rt->store) {
    apply_knob(st, key, w, relationship);
    return caf::ok_atom::value;
  }
  auto raw = st.rt->store->get(storage::column::attention, st.man.id);
  if (!raw)
    return to_caf(raw.error());
  storage::attention_record rec;
  if (*raw) {
    auto decoded = storage::decode_attention(**raw);
    if (!decoded)
      return to_caf(decoded.error());
    rec = std::move(*decoded);
  }
  (relationship ? rec.relationships[key] : rec.importance[key]) = w;
  storage::write_batch b;
  b.put(storage::column::attention, st.man.id, storage::encode(rec));
  auto rp = self->make_response_promise<caf::ok_atom>();
  self->request(st.rt->writer, caf::infinite, atoms::commit::value, std::move(b))
    .await(
      [self, rp, key, w, relationship](caf::ok_atom) mutable {
        apply_knob(self->state, key, w, relationship);
        rp.deliver(caf::ok_atom::value);
      },
      [rp](caf::error& e) mutable { rp.deliver(std::move(e)); });
  return rp;
}

} // namespace

namespace {

thread_local agent_actor* current_agent = nullptr;

// Built once; every handler starts from agent_actor::current().
caf::behavior make_agent_behavior() {
  return {
    [](atoms::deliver, message& m) { return on_deliver(agent_actor::current(), m); },
    [](atoms::post, const message& m) {
      // A room post arrives as one caf::message shared by every member. A
      // handler taking `message&` would make CAF copy the whole tuple for
      // each member (5 allocations); copy only the parley::message, which
      // the inbox keeps. A direct post owns its tuple and is moved from.
      auto* self = agent_actor::current();
      if (self->current_mailbox_element()->content().shared()) {
        message copy = m;
        on_post(self, copy);
      } else {
        on_post(self, const_cast<message&>(m));
      }
    },
    [](atoms::say, message& m) { return on_say(agent_actor::current(), m); },
    [](atoms::redeliver, message& m) { on_redeliver(agent_actor::current(), m); },
    [](atoms::serve) {
      auto* self = agent_actor::current();
      self->state.serve_scheduled = false;
      serve_some(self);
    },
    [](atoms::refused, const message_id& id, const agent_id& to, const caf::error& e) {
      auto* self = agent_actor::current();
      note_refusal(self, id, to, from_caf(e, self->system()));
    },
    [](atoms::receipt, const message_id& id, message_status s) {
      set_tracked(agent_actor::current()->state, id, s);
    },
    [](atoms::status_of, const message_id& id) -> caf::result<message_status> {
      auto* self = agent_actor::current();
      for (auto& [mid, s] : self->state.tracked)
        if (mid == id)
          return s;
      return to_caf(errc::not_found, "agent '" + self->state.man.id
                                       + "' has no tracked message '" + id + "'");
    },
    [](atoms::get_manifest) { return materialize(agent_actor::current()->state); },
    [](atoms::update_manifest, const caller& p, manifest& m) {
      return on_update(agent_actor::current(), p, m);
    },
    [](atoms::retire) { return on_retire(agent_actor::current()); },
    [](atoms::enter, const room_id& r) { return on_enter(agent_actor::current(), r); },
    [](atoms::granted, const room_id& r, uint64_t turn) {
      on_granted(agent_actor::current(), r, turn);
    },
    [](atoms::invited, const room_id& r, const agent_id& by, room_role role) {
      on_invited(agent_actor::current(), r, by, role);
    },
    [](atoms::acked, std::vector<message>& acked) { on_acked(agent_actor::current(), acked); },
    [](atoms::read_ahead, const std::vector<uint64_t>& deliveries) {
      auto& st = agent_actor::current()->state;
      if (!st.read_ahead)
        st.read_ahead = std::make_unique<std::unordered_set<uint64_t>>();
      st.read_ahead->insert(deliveries.begin(), deliveries.end());
    },
    [](atoms::nudge) { on_nudge(agent_actor::current()); },
    [](atoms::room_added, const room_id& r) {
      auto& rooms = agent_actor::current()->state.man.rooms;
      if (std::find(rooms.begin(), rooms.end(), r) == rooms.end())
        rooms.push_back(r);
    },
    [](atoms::room_removed, const room_id& r) {
      std::erase(agent_actor::current()->state.man.rooms, r);
    },
    [](atoms::importance, uint8_t kind, const std::string& id, double w) {
      return on_knob(agent_actor::current(),
                     to_string(dialogue_key{static_cast<dialogue_key::kind>(kind), id}), w, false);
    },
    [](atoms::relation, const agent_id& peer, double w) {
      return on_knob(agent_actor::current(), peer, w, true);
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

} // namespace

agent_actor::resume_result agent_actor::resume(caf::execution_unit* ctx, size_t max_throughput) {
  auto* outer = current_agent;
  current_agent = this;
  auto result = caf::stateful_actor<agent_state>::resume(ctx, max_throughput);
  current_agent = outer;
  return result;
}

agent_actor* agent_actor::current() noexcept {
  return current_agent;
}

caf::behavior agent(agent_actor* self, runtime* rt, agent_seed seed) {
  auto& st = self->state;
  st.rt = rt;
  st.man = std::move(seed.man);
  st.skills = std::move(seed.skills);
  st.behavior = std::move(seed.behavior);
  static const caf::behavior shared = make_agent_behavior();
  return shared;
}

} // namespace parley
