#pragma once

#include <deque>
#include <vector>

#include "actors/messages.hpp"
#include "actors/runtime.hpp"

namespace parley {

/// How much of the event log a node keeps.
struct event_retention {
  /// Newest events kept in memory for late subscribers. Default: 65536.
  size_t in_memory = 65536;
  /// Newest events kept in the durable log (durable nodes). Default: 1000000.
  uint64_t durable = 1'000'000;
  /// Durable events older than this are deleted; 0 = no age limit. Default: 0.
  int64_t max_age_ms = 0;
};

/// The node's event bus: gives each event the next per-node sequence number
/// (its offset in the log), keeps the newest events in memory, appends every
/// event to the durable log when the node has a store, and hands events to
/// subscribers in sequence order. A subscriber may start from any retained
/// offset, in memory or on disk.
struct event_bus_state {
  struct subscriber {
    uint64_t id = 0;
    topic_mask mask = 0;
    event_sink sink;
  };

  runtime* rt = nullptr;
  event_retention retain;
  uint64_t next_seq = 1;
  /// Oldest offset still in the durable log.
  uint64_t first_durable = 1;
  /// Every event up to this offset is on disk (or failed to get there).
  uint64_t committed_upto = 0;
  uint64_t next_sub = 1;
  std::deque<event> ring;
  std::vector<subscriber> subs;

  static inline const char* name = "parley.event_bus";
};

using event_bus_actor = caf::stateful_actor<event_bus_state>;

/// Continues the log found in rt->store (if any): offsets go on from the
/// last stored one, and the newest stored events fill the memory ring.
caf::behavior event_bus(event_bus_actor* self, runtime* rt, event_retention retain);

} // namespace parley
