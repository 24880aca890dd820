// An agent's inbox: how input enters (the attention queue, the backlog of
// what did not fit, the durable entries behind both), leaves (served,
// acknowledged, skipped) and is read back from the store as room frees up,
// and when the agent tells its rooms to hold posts back.

#include <algorithm>

#include "actors/agent_parts.hpp"
#include "actors/persist.hpp"
#include "parley/storage/message_log.hpp"
#include "parley/storage/records.hpp"

namespace parley::agent_parts {

// The removal of served, acknowledged or skipped entries from the durable
// inbox: the one path by which entries leave it (erasure aside).
storage::write_batch inbox_removals(const agent_state& st, const std::vector<uint64_t>& deliveries) {
  storage::write_batch b;
  if (st.rt->store)
    for (auto d : deliveries)
      if (d != 0)
        storage::add_inbox_removal(b, st.man.id, d);
  return b;
}

// Not awaited: losing this write in a crash only means the message is
// offered once more after the restart (processing is at least once).
void forget_deliveries(self_ptr self, const std::vector<uint64_t>& deliveries) {
  commit_later(*self->state.rt, inbox_removals(self->state, deliveries));
}

// Tells the agent's rooms to hold posts back (or to go on).
void tell_rooms_saturated(self_ptr self, bool on) {
  auto& st = self->state;
  for (auto& r : st.man.rooms)
    if (auto mod = st.rt->routes.room(r))
      self->send(mod, atoms::member_saturated::value, r, st.man.id, on);
}

void check_saturation(self_ptr self) {
  auto& st = self->state;
  if (!st.extras_)
    return;
  auto& b = st.extras_->backlog;
  const size_t limit = st.rt->limits.backlog_limit;
  if (!b.saturated && b.size() >= limit) {
    b.saturated = true;
    tell_rooms_saturated(self, true);
  } else if (b.saturated && b.size() <= limit / 2) {
    b.saturated = false;
    tell_rooms_saturated(self, false);
  }
}

void to_backlog(self_ptr self, message&& m) {
  auto& st = self->state;
  auto& b = st.extras().backlog;
  // On a durable node the entry is in the store: keep its number only.
  if (st.rt->store && m.delivery != 0)
    b.on_disk.push_back(m.delivery);
  else
    b.in_memory.push_back(std::move(m));
  check_saturation(self);
}

// Whether `m` can be taken now, without changing anything.
expected<void> can_take(self_ptr self, const message& m, input_kind kind) {
  auto& st = self->state;
  if (retired(st))
    return retired_refusal(st);
  if (kind == input_kind::acknowledged)
    return {};
  // Messages being committed (pipelined) may land behind the queue when
  // they are taken: they count against the backlog's bound meanwhile.
  if (st.has_backlog() || st.reserved > 0) {
    const size_t waiting = (st.has_backlog() ? st.extras_->backlog.size() : 0) + st.reserved;
    if (waiting < st.rt->limits.backlog_limit && st.reserved < agent_state::max_reserved)
      return {};
    return unexpected{errc::overloaded,
                      refusal_text(st, m, {errc::overloaded, "inbox is full ("
                                                               + std::to_string(waiting)
                                                               + " messages wait behind it)"})};
  }
  if (auto ok = st.attention().can_push(dialogue_of(m, st.man.id), st.man.capacity); !ok)
    return unexpected{ok.error().code, refusal_text(st, m, ok.error())};
  return {};
}

// Puts `m` into the attention queue, or behind the backlog. Call after
// can_take said yes (and nothing ran between).
void take(self_ptr self, message&& m) {
  auto& st = self->state;
  m.status = message_status::delivered;
  // Acknowledgements name deliveries: number them also without a store.
  if (m.delivery == 0 && st.behavior->acknowledges())
    m.delivery = st.rt->next_delivery();
  st.rt->counters.deliveries.add();
  if (st.rt->wants(topic::message))
    st.rt->publish(event_kind::message_delivered, st.man.id, {}, m.from + "/" + m.id);
  if (st.has_backlog()) {
    to_backlog(self, std::move(m));
    return;
  }
  // push moves `m` only if it takes it.
  if (!st.attention().push(dialogue_of(m, st.man.id), std::move(m), now(st), st.man.capacity))
    to_backlog(self, std::move(m));
}

// Backlog entries read back from the store, oldest first.
void on_backlog_loaded(self_ptr self, std::vector<message>& loaded, std::vector<uint64_t> asked) {
  auto& st = self->state;
  auto& b = st.extras().backlog;
  b.loading -= std::min(b.loading, asked.size());
  size_t i = 0;
  for (; i < loaded.size(); ++i) {
    auto& m = loaded[i];
    auto key = dialogue_of(m, st.man.id);
    if (!st.attention().can_push(key, st.man.capacity))
      break;
    if (st.extras_->read_ahead.erase(m.delivery) != 0) {
      forget_deliveries(self, {m.delivery});
      continue;
    }
    (void) st.attention().push(key, std::move(m), now(st), st.man.capacity);
  }
  // What did not fit goes back to the front, in order.
  for (size_t j = loaded.size(); j-- > i;)
    b.on_disk.push_front(loaded[j].delivery);
  check_saturation(self);
  schedule_serve(self, true);
}

// Moves backlog entries into the queue while it has room.
void refill(self_ptr self) {
  auto& st = self->state;
  if (!st.has_backlog() || retired(st))
    return;
  auto& b = st.extras_->backlog;
  auto& q = st.attention();
  while (!b.in_memory.empty()) {
    auto key = dialogue_of(b.in_memory.front(), st.man.id);
    if (!q.can_push(key, st.man.capacity))
      break;
    (void) q.push(key, std::move(b.in_memory.front()), now(st), st.man.capacity);
    b.in_memory.pop_front();
  }
  if (b.on_disk.empty() || b.loading > 0)
    return check_saturation(self);
  const size_t room = st.rt->attention.inbox_limit > q.pending() ? st.rt->attention.inbox_limit - q.pending() : 0;
  if (room == 0)
    return check_saturation(self);
  std::vector<uint64_t> asked;
  while (asked.size() < room && !b.on_disk.empty()) {
    asked.push_back(b.on_disk.front());
    b.on_disk.pop_front();
  }
  b.loading = asked.size();
  self->request(st.rt->reader, caf::infinite, atoms::load_inbox::value, st.man.id, asked)
    .then([self, asked](std::vector<message>& loaded) { on_backlog_loaded(self, loaded, asked); },
          [self, asked](caf::error&) {
            // The disk refused the read: put them back and try later.
            auto& b = self->state.extras().backlog;
            b.loading = 0;
            for (auto it = asked.rbegin(); it != asked.rend(); ++it)
              b.on_disk.push_front(*it);
            self->delayed_send(self, std::chrono::milliseconds(200), atoms::serve_inbox::value);
          });
}

void serve_some(self_ptr self);

// Serves now if nothing else waits in the mailbox (the usual case under
// light load: no extra message), else after what is already queued, so
// that all pending input is weighed before the next pick.
// `queued`: always by a message to itself. Needed after an awaited write:
// messages that arrived during the wait are set aside by CAF and do not
// count in mailbox(), yet must be weighed before the next pick.
void schedule_serve(self_ptr self, bool queued) {
  auto& st = self->state;
  if (st.serve_scheduled)
    return;
  if (!queued && self->mailbox().empty()) {
    serve_some(self);
    return;
  }
  st.serve_scheduled = true;
  self->send(self, atoms::serve_inbox::value);
}

} // namespace parley::agent_parts
