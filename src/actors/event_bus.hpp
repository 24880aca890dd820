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

/// Where a new live subscription starts: it receives every event from
/// `first_live` on. A durable node's subscriber reads [from_seq, first_live)
/// itself from the store, off the bus; a memory node hands those events over
/// here (a copy of its memory ring, bounded by event_retention.in_memory),
/// since nothing else keeps them.
struct subscription_start {
  uint64_t id = 0;
  uint64_t first_live = 0;
  std::vector<event> replay;
};

/// The log's extent: the oldest offset kept and the next one to be given.
struct event_log_extent {
  uint64_t first_kept = 1;
  uint64_t next = 1;
};

/// What the bus was handed when the node started: the newest stored events
/// (read by the node before any actor runs) and the log's extent on disk.
struct event_log_seed {
  std::deque<event> newest;
  uint64_t next_seq = 1;
  uint64_t first_durable = 1;
};

/// The node's event bus: gives each event the next per-node sequence number
/// (its offset in the log), appends every event to the durable log when the
/// node has a store, and hands events to subscribers in sequence order once
/// they are durable (so a subscriber never sees an event that a crash takes
/// back, and resuming from disk never skips one). A failed write of the log
/// is retried, in order, before anything after it: the log has no gaps.
/// The newest events stay in memory for late subscribers. The bus never
/// scans the store: replays are the subscriber's (node/subscriptions.cpp).
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
  /// Events with an offset, not yet durable (oldest first). The first
  /// `in_flight` of them are being written.
  std::deque<event> pending;
  size_t in_flight = 0;
  /// Backoff of the next retry after a failed write, ms (0: none failed).
  uint32_t retry_ms = 0;
  /// Callers of sync_event_log waiting for `pending` to drain.
  std::vector<caf::response_promise> syncing;
  uint64_t next_sub = 1;
  std::deque<event> ring;
  std::vector<subscriber> subs;
  /// Topics published while no local subscriber wants them, because
  /// another node's subscription polls this log (hold_topics); given up
  /// when no poll renewed them in time.
  topic_mask held = 0;
  uint64_t hold_generation = 0;

  static inline const char* name = "parley.event_bus";
};

using event_bus_actor = caf::stateful_actor<event_bus_state>;

/// Continues the log in `seed` (offsets go on from the last stored one).
caf::behavior event_bus(event_bus_actor* self, runtime* rt, event_retention retain,
                        event_log_seed seed);

} // namespace parley

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(parley::subscription_start)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(parley::event_log_extent)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(parley::event_log_seed)
