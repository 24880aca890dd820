#include "actors/event_bus.hpp"

#include <algorithm>
#include <chrono>

#include "parley/storage/records.hpp"

namespace parley {

namespace {

using self_ptr = event_bus_actor*;

// Most events one write of the log carries.
constexpr size_t max_events_per_write = 4096;

// How often the age limit is applied.
constexpr auto age_check_interval = std::chrono::seconds(10);

// Backoff of retries after a failed write of the log.
constexpr uint32_t first_retry_ms = 50;
constexpr uint32_t max_retry_ms = 2000;

void update_mask(self_ptr self) {
  topic_mask m = 0;
  for (auto& s : self->state.subs)
    m |= s.mask;
  if (self->state.rt->record_message_events)
    m |= mask_of(topic::message);
  m |= self->state.held;
  self->state.rt->subscribed.store(m);
}

// The next offset subscribers have not been handed yet.
uint64_t next_live(const event_bus_state& st) {
  return st.pending.empty() ? st.next_seq : st.pending.front().seq;
}

uint64_t first_kept(const event_bus_state& st) {
  if (st.rt->store)
    return st.first_durable;
  return st.ring.empty() ? st.next_seq : st.ring.front().seq;
}

// Hands a durable (or, without a store, new) event to the subscribers and
// keeps it in the memory ring. A sink that says its subscriber is gone (or
// cannot take more) is dropped.
void fan_out(self_ptr self, event e) {
  auto& st = self->state;
  const auto bit = mask_of(topic_of(e.kind));
  bool dropped = false;
  for (auto& s : st.subs)
    if ((s.mask & bit) && !(*s.sink)(e)) {
      s.sink = nullptr;
      dropped = true;
    }
  if (dropped) {
    std::erase_if(st.subs, [](const event_bus_state::subscriber& s) { return !s.sink; });
    update_mask(self);
  }
  st.ring.push_back(std::move(e));
  while (st.ring.size() > st.retain.in_memory)
    st.ring.pop_front();
}

void answer_syncing(self_ptr self, const caf::error* failure) {
  auto& st = self->state;
  for (auto& rp : st.syncing)
    if (failure)
      rp.deliver(*failure);
    else
      rp.deliver(caf::ok_atom::value);
  st.syncing.clear();
}

void write_pending(self_ptr self);

void on_written(self_ptr self, size_t n, uint64_t new_first) {
  auto& st = self->state;
  st.in_flight = 0;
  st.retry_ms = 0;
  st.first_durable = std::max(st.first_durable, new_first);
  for (size_t i = 0; i < n && !st.pending.empty(); ++i) {
    auto e = std::move(st.pending.front());
    st.pending.pop_front();
    fan_out(self, std::move(e));
  }
  if (st.pending.empty())
    answer_syncing(self, nullptr);
  write_pending(self);
}

void on_write_failed(self_ptr self, caf::error& e) {
  auto& st = self->state;
  st.in_flight = 0;
  st.rt->counters.event_log_failures.fetch_add(1, std::memory_order_relaxed);
  // The same events again, in order, and nothing after them before.
  st.retry_ms = std::min(max_retry_ms, std::max(first_retry_ms, st.retry_ms * 2));
  self->delayed_send(self, std::chrono::milliseconds(st.retry_ms), atoms::retry_event_log::value);
  answer_syncing(self, &e);
}

// Writes the pending events (one write at a time, in order). The retention
// by count rides along as one range delete.
void write_pending(self_ptr self) {
  auto& st = self->state;
  if (st.in_flight > 0 || st.pending.empty())
    return;
  const size_t n = std::min(st.pending.size(), max_events_per_write);
  storage::write_batch b;
  for (size_t i = 0; i < n; ++i)
    b.put(storage::column::events, storage::u64_key(st.pending[i].seq), storage::encode(st.pending[i]));
  const uint64_t upto = st.pending[n - 1].seq;
  uint64_t new_first = st.first_durable;
  if (upto + 1 - st.first_durable > st.retain.durable) {
    new_first = upto + 1 - st.retain.durable;
    b.erase_range(storage::column::events, storage::u64_key(st.first_durable), storage::u64_key(new_first));
  }
  st.in_flight = n;
  self->request(st.rt->writer, caf::infinite, atoms::commit::value, std::move(b))
    .then([self, n, new_first](const commit_outcome&) { on_written(self, n, new_first); },
          [self](caf::error& e) { on_write_failed(self, e); });
}

void on_publish(self_ptr self, event& e) {
  auto& st = self->state;
  if (!st.rt->store) {
    e.seq = st.next_seq++;
    fan_out(self, std::move(e));
    return;
  }
  // While the disk refuses the log, events wait in memory, up to a bound:
  // beyond it new events are dropped before they get an offset (counted),
  // so the log itself never has a gap.
  if (st.pending.size() >= std::max<size_t>(st.retain.in_memory, max_events_per_write)) {
    st.rt->counters.events_dropped.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  e.seq = st.next_seq++;
  st.pending.push_back(std::move(e));
  if (st.retry_ms == 0)
    write_pending(self);
}

std::vector<event> on_since(self_ptr self, uint64_t from_seq, uint64_t max);

caf::result<subscription_start> on_subscribe(self_ptr self, topic_mask mask, uint64_t from_seq,
                                             event_sink& sink) {
  auto& st = self->state;
  const uint64_t oldest = first_kept(st);
  // Resuming needs every event from from_seq on: refuse when some are gone.
  if (from_seq != 0 && from_seq < oldest)
    return to_caf(errc::out_of_range, "event offset " + std::to_string(from_seq)
                                        + " is no longer kept; the oldest kept is "
                                        + std::to_string(oldest));
  // Ahead of the log: an offset of another log (a memory node that
  // restarted, another node). Live events would start below it.
  if (from_seq > st.next_seq)
    return to_caf(errc::out_of_range, "event offset " + std::to_string(from_seq)
                                        + " is ahead of this node's log (next offset "
                                        + std::to_string(st.next_seq)
                                        + "): an offset of another node, or of a log that "
                                          "restarted?");
  st.subs.push_back({st.next_sub, mask, std::move(sink)});
  update_mask(self);
  subscription_start out{st.next_sub++, next_live(st), {}};
  if (!st.rt->store && from_seq != 0)
    out.replay = on_since(self, from_seq, st.ring.size());
  return out;
}

std::vector<event> on_since(self_ptr self, uint64_t from_seq, uint64_t max) {
  std::vector<event> out;
  auto& ring = self->state.ring;
  if (max == 0 || ring.empty())
    return out;
  // The ring holds consecutive offsets: index by arithmetic.
  const uint64_t first = ring.front().seq;
  size_t i = from_seq > first ? static_cast<size_t>(from_seq - first) : 0;
  for (; i < ring.size() && out.size() < max; ++i)
    out.push_back(ring[i]);
  return out;
}

// Erasure: the detail of events about `who` (or naming it as a message's
// sender) is cleared in memory; the node clears the stored ones.
uint64_t scrub(self_ptr self, const agent_id& who) {
  uint64_t n = 0;
  const auto sender = who + "/";
  auto clear = [&](event& e) {
    if ((e.agent == who || e.detail.starts_with(sender)) && !e.detail.empty()) {
      e.detail.clear();
      ++n;
    }
  };
  for (auto& e : self->state.ring)
    clear(e);
  for (auto& e : self->state.pending)
    clear(e);
  return n;
}

// Deletes durable events older than the age limit: the reader finds where
// they end (a scan of the store, off this actor's thread).
void prune_by_age(self_ptr self) {
  auto& st = self->state;
  const auto cutoff = st.rt->now() - st.retain.max_age_ms;
  self->request(st.rt->reader, caf::infinite, atoms::find_event_cutoff::value, cutoff)
    .then(
      [self](uint64_t first_young) {
        auto& st = self->state;
        // Never past what is written: pending events are younger anyway.
        first_young = std::min(first_young, next_live(st));
        if (first_young <= st.first_durable)
          return;
        storage::write_batch b;
        b.erase_range(storage::column::events, storage::u64_key(st.first_durable),
                      storage::u64_key(first_young));
        self->request(st.rt->writer, caf::infinite, atoms::commit::value, std::move(b))
          .then([self, first_young](const commit_outcome&) {
                  auto& st = self->state;
                  st.first_durable = std::max(st.first_durable, first_young);
                },
                [](caf::error&) {});
      },
      [](caf::error&) {});
}

} // namespace

caf::behavior event_bus(event_bus_actor* self, runtime* rt, event_retention retain,
                        event_log_seed seed) {
  auto& st = self->state;
  st.rt = rt;
  st.retain = retain;
  st.ring = std::move(seed.newest);
  st.next_seq = seed.next_seq;
  st.first_durable = seed.first_durable;
  update_mask(self);
  if (rt->store && retain.max_age_ms > 0)
    self->delayed_send(self, age_check_interval, atoms::prune_event_log::value);
  return {
    [self](atoms::publish, event& e) { on_publish(self, e); },
    [self](atoms::publish, std::vector<event>& es) {
      for (auto& e : es)
        on_publish(self, e);
    },
    [self](atoms::subscribe_live, topic_mask mask, uint64_t from, event_sink& sink) {
      return on_subscribe(self, mask, from, sink);
    },
    [self](atoms::unsubscribe, uint64_t id) {
      std::erase_if(self->state.subs, [id](const event_bus_state::subscriber& s) { return s.id == id; });
      update_mask(self);
      return caf::ok_atom::value;
    },
    [self](atoms::events_since, uint64_t from, uint64_t max) { return on_since(self, from, max); },
    [self](atoms::hold_topics, topic_mask mask, uint32_t ms) {
      auto& st = self->state;
      st.held |= mask;
      update_mask(self);
      self->delayed_send(self, std::chrono::milliseconds{ms}, atoms::release_topics::value, ++st.hold_generation);
    },
    [self](atoms::release_topics, uint64_t generation) {
      if (generation != self->state.hold_generation)
        return; // renewed since
      self->state.held = 0;
      update_mask(self);
    },
    [self](atoms::event_log_bounds) {
      return event_log_extent{first_kept(self->state), self->state.next_seq};
    },
    [self](atoms::sync_event_log) -> caf::result<caf::ok_atom> {
      auto& st = self->state;
      if (st.pending.empty())
        return caf::ok_atom::value;
      auto rp = self->make_response_promise();
      st.syncing.push_back(rp);
      return rp;
    },
    [self](atoms::retry_event_log) { write_pending(self); },
    [self](atoms::scrub_agent_events, const agent_id& who) { return scrub(self, who); },
    [self](atoms::prune_event_log) {
      prune_by_age(self);
      self->delayed_send(self, age_check_interval, atoms::prune_event_log::value);
    },
  };
}

} // namespace parley
