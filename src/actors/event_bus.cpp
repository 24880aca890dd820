#include "actors/event_bus.hpp"

namespace parley {

void event_bus_state::on_publish(event& e) {
  e.seq = next_seq++;
  const auto bit = mask_of(topic_of(e.kind));
  for (auto& s : subs)
    if (s.mask & bit)
      (*s.sink)(e);
  ring.push_back(std::move(e));
  if (ring.size() > retain)
    ring.pop_front();
}

uint64_t event_bus_state::on_subscribe(topic_mask mask, uint64_t from_seq, event_sink sink) {
  // Replay what is retained first, then go live: in order, without a gap,
  // because both happen inside this one handler.
  if (from_seq != 0)
    for (auto& e : ring)
      if (e.seq >= from_seq && (mask & mask_of(topic_of(e.kind))))
        (*sink)(e);
  subs.push_back({next_sub, mask, std::move(sink)});
  update_mask();
  return next_sub++;
}

void event_bus_state::on_unsubscribe(uint64_t id) {
  std::erase_if(subs, [id](const subscriber& s) { return s.id == id; });
  update_mask();
}

std::vector<event> event_bus_state::since(uint64_t from_seq, size_t max) const {
  std::vector<event> out;
  for (auto& e : ring) {
    if (out.size() >= max)
      break;
    if (e.seq >= from_seq)
      out.push_back(e);
  }
  return out;
}

void event_bus_state::update_mask() {
  topic_mask m = 0;
  for (auto& s : subs)
    m |= s.mask;
  rt->subscribed.store(m);
}

caf::behavior event_bus(event_bus_actor* self, runtime* rt, size_t retain) {
  auto& st = self->state;
  st.rt = rt;
  st.retain = retain;
  return {
    [self](atoms::publish, event& e) { self->state.on_publish(e); },
    [self](atoms::subscribe, topic_mask mask, uint64_t from, event_sink& sink) {
      return self->state.on_subscribe(mask, from, std::move(sink));
    },
    [self](atoms::unsubscribe, uint64_t id) {
      self->state.on_unsubscribe(id);
      return caf::ok_atom::value;
    },
    [self](atoms::events_since, uint64_t from, uint64_t max) {
      return self->state.since(from, max);
    },
  };
}

} // namespace parley
