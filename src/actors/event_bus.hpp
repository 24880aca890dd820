#pragma once

#include <deque>
#include <vector>

#include "actors/messages.hpp"
#include "actors/runtime.hpp"

namespace parley {

/// The node's event bus: gives each event the next per-node sequence number,
/// keeps the newest `retain` events, and hands events to subscribers in
/// sequence order (a subscriber may start from a retained sequence number).
struct event_bus_state {
  struct subscriber {
    uint64_t id = 0;
    topic_mask mask = 0;
    event_sink sink;
  };

  runtime* rt = nullptr;
  size_t retain = 65536;
  uint64_t next_seq = 1;
  uint64_t next_sub = 1;
  std::deque<event> ring;
  std::vector<subscriber> subs;

  void on_publish(event& e);
  uint64_t on_subscribe(topic_mask mask, uint64_t from_seq, event_sink sink);
  void on_unsubscribe(uint64_t id);
  std::vector<event> since(uint64_t from_seq, size_t max) const;
  void update_mask();

  static inline const char* name = "parley.event_bus";
};

using event_bus_actor = caf::stateful_actor<event_bus_state>;

caf::behavior event_bus(event_bus_actor* self, runtime* rt, size_t retain);

} // namespace parley
