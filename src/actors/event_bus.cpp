#include "actors/event_bus.hpp"

#include <chrono>

#include "parley/storage/records.hpp"

namespace parley {

namespace {

using self_ptr = event_bus_actor*;

// Most deletes one publish adds to its batch, so that catching up after a
// lowered retention never makes one huge batch.
constexpr uint64_t max_prune_per_event = 64;

// How often the age limit is applied.
constexpr auto age_check_interval = std::chrono::seconds(10);

void update_mask(self_ptr self) {
  topic_mask m = 0;
  for (auto& s : self->state.subs)
    m |= s.mask;
  if (self->state.rt->record_message_events)
    m |= mask_of(topic::message);
  self->state.rt->subscribed.store(m);
}

// Drops the oldest events from memory, but only those already on disk:
// a reader that starts before the ring then finds them there.
void trim_ring(self_ptr self) {
  auto& st = self->state;
  while (st.ring.size() > st.retain.in_memory
         && (!st.rt->store || st.ring.front().seq <= st.committed_upto))
    st.ring.pop_front();
}

// Commits `b`; `upto` is the newest event it carries (0: none). The writer
// commits in order, so its answer means every event up to `upto` is durable
// (a failed write is counted; its events stay only in memory).
void commit(self_ptr self, storage::write_batch&& b, uint64_t upto) {
  auto* rt = self->state.rt;
  self->request(rt->writer, caf::infinite, atoms::commit::value, std::move(b))
    .then(
      [self, upto](caf::ok_atom) {
        auto& st = self->state;
        st.committed_upto = std::max(st.committed_upto, upto);
        trim_ring(self);
      },
      [self, rt, upto](caf::error&) {
        rt->counters.event_log_failures.fetch_add(1, std::memory_order_relaxed);
        auto& st = self->state;
        st.committed_upto = std::max(st.committed_upto, upto);
        trim_ring(self);
      });
}

// Reads the durable log from `from` (inclusive), calling fn for each event
// until it returns false.
template <class F>
void read_durable(self_ptr self, uint64_t from, F fn) {
  auto* store = self->state.rt->store;
  if (!store)
    return;
  auto start = storage::u64_key(from);
  auto ok = store->scan(storage::column::events, {}, start, [&](std::string_view, std::string_view v) {
    auto e = storage::decode_event(v);
    return e ? fn(*e) : false;
  });
  if (!ok)
    self->state.rt->counters.event_log_failures.fetch_add(1, std::memory_order_relaxed);
}

// Calls fn for retained events with seq >= from in order: the durable part
// older than the ring first, then the ring.
template <class F>
void replay(self_ptr self, uint64_t from, F fn) {
  auto& st = self->state;
  const uint64_t ring_start = st.ring.empty() ? st.next_seq : st.ring.front().seq;
  bool go_on = true;
  if (from < ring_start)
    read_durable(self, std::max(from, st.first_durable), [&](const event& e) {
      if (e.seq >= ring_start)
        return false;
      go_on = fn(e);
      return go_on;
    });
  if (!go_on)
    return;
  for (auto& e : st.ring)
    if (e.seq >= from && !fn(e))
      return;
}

void on_publish(self_ptr self, event& e) {
  auto& st = self->state;
  e.seq = st.next_seq++;
  if (st.rt->store) {
    storage::write_batch b;
    b.put(storage::column::events, storage::u64_key(e.seq), storage::encode(e));
    for (uint64_t n = 0; n < max_prune_per_event && st.next_seq - st.first_durable > st.retain.durable;
         ++n)
      b.erase(storage::column::events, storage::u64_key(st.first_durable++));
    commit(self, std::move(b), e.seq);
  }
  const auto bit = mask_of(topic_of(e.kind));
  for (auto& s : st.subs)
    if (s.mask & bit)
      (*s.sink)(e);
  st.ring.push_back(std::move(e));
  trim_ring(self);
}

caf::result<uint64_t> on_subscribe(self_ptr self, topic_mask mask, uint64_t from_seq,
                                   event_sink& sink) {
  auto& st = self->state;
  // Resuming needs every event from from_seq on: refuse when some are gone.
  const uint64_t oldest = st.rt->store ? st.first_durable
                          : st.ring.empty() ? st.next_seq
                                            : st.ring.front().seq;
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
  // Replay, then go live: in order and without a gap, because both happen
  // inside this one handler.
  if (from_seq != 0)
    replay(self, from_seq, [&](const event& e) {
      if (mask & mask_of(topic_of(e.kind)))
        (*sink)(e);
      return true;
    });
  st.subs.push_back({st.next_sub, mask, std::move(sink)});
  update_mask(self);
  return st.next_sub++;
}

std::vector<event> on_since(self_ptr self, uint64_t from_seq, uint64_t max) {
  std::vector<event> out;
  if (max == 0)
    return out;
  replay(self, from_seq, [&](const event& e) {
    out.push_back(e);
    return out.size() < max;
  });
  return out;
}

// Deletes durable events older than the age limit.
void prune_by_age(self_ptr self) {
  auto& st = self->state;
  const auto cutoff = st.rt->now() - st.retain.max_age_ms;
  storage::write_batch b;
  read_durable(self, st.first_durable, [&](const event& e) {
    if (e.at >= cutoff || b.size() >= 10000)
      return false;
    b.erase(storage::column::events, storage::u64_key(e.seq));
    st.first_durable = e.seq + 1;
    return true;
  });
  if (!b.empty())
    commit(self, std::move(b), 0);
}

// Recovery: continue the stored log.
void load(self_ptr self) {
  auto& st = self->state;
  auto* store = st.rt->store;
  if (!store)
    return;
  std::deque<event> newest;
  auto ok = store->scan_reverse(storage::column::events, {}, {}, [&](std::string_view, std::string_view v) {
    auto e = storage::decode_event(v);
    if (!e)
      return false;
    newest.push_front(std::move(*e));
    return newest.size() < st.retain.in_memory;
  });
  if (!ok)
    st.rt->counters.event_log_failures.fetch_add(1, std::memory_order_relaxed);
  if (!newest.empty())
    st.next_seq = newest.back().seq + 1;
  st.committed_upto = st.next_seq - 1;
  st.first_durable = st.next_seq;
  auto oldest = store->scan(storage::column::events, {}, {}, [&](std::string_view k, std::string_view) {
    st.first_durable = storage::parse_u64_key(k);
    return false;
  });
  if (!oldest)
    st.rt->counters.event_log_failures.fetch_add(1, std::memory_order_relaxed);
  st.ring = std::move(newest);
}

} // namespace

caf::behavior event_bus(event_bus_actor* self, runtime* rt, event_retention retain) {
  auto& st = self->state;
  st.rt = rt;
  st.retain = retain;
  load(self);
  update_mask(self);
  if (rt->store && retain.max_age_ms > 0)
    self->delayed_send(self, age_check_interval, atoms::prune::value);
  return {
    [self](atoms::publish, event& e) { on_publish(self, e); },
    [self](atoms::publish, std::vector<event>& es) {
      for (auto& e : es)
        on_publish(self, e);
    },
    [self](atoms::subscribe, topic_mask mask, uint64_t from, event_sink& sink) {
      return on_subscribe(self, mask, from, sink);
    },
    [self](atoms::unsubscribe, uint64_t id) {
      std::erase_if(self->state.subs, [id](const event_bus_state::subscriber& s) { return s.id == id; });
      update_mask(self);
      return caf::ok_atom::value;
    },
    [self](atoms::events_since, uint64_t from, uint64_t max) { return on_since(self, from, max); },
    [self](atoms::sync) -> caf::result<caf::ok_atom> {
      auto* rt = self->state.rt;
      if (!rt->writer)
        return caf::ok_atom::value;
      // The writer commits in order: once this empty batch is done, so is
      // every event committed before it.
      auto rp = self->make_response_promise<caf::ok_atom>();
      self->request(rt->writer, caf::infinite, atoms::commit::value, storage::write_batch{})
        .then([rp](caf::ok_atom) mutable { rp.deliver(caf::ok_atom::value); },
              [rp](caf::error& e) mutable { rp.deliver(std::move(e)); });
      return rp;
    },
    [self](atoms::prune) {
      prune_by_age(self);
      self->delayed_send(self, age_check_interval, atoms::prune::value);
    },
  };
}

} // namespace parley
