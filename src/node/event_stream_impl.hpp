#pragma once

// What an event subscription is made of (subscriptions.cpp reads it,
// network_events.cpp feeds the parts that come from other nodes). One mutex,
// the live queue's, guards everything a producer touches: the bus's live
// events, the other nodes' events, and the ready signal that wakes a reader.

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "node/node_impl.hpp"
#include "parley/model/ready_signal.hpp"

namespace parley {

/// The events of one other node for a subscription across the network,
/// fetched by a long poll of its log (network_events.cpp). Guarded by the
/// live queue's mutex, except `node`.
struct remote_part {
  std::string node;
  /// Fetched, not yet handed to the reader; bounded (the poll waits).
  std::deque<event> events;
  /// Whether the start offset is known (the node answered once).
  bool reached = false;
  /// A node not reached yet starts at its oldest retained event (else at
  /// where its log is when it is reached).
  bool from_oldest = false;
  /// The offset the next poll asks for.
  uint64_t next = 0;
  /// After the last event handed to the reader (or the start): the
  /// cursor's position for this node.
  uint64_t handed = 0;
  /// Why the node's part ended the stream (retention, permission).
  std::optional<error> failure;
};

/// Shared by the bus (which pushes), the polls of other nodes (which push)
/// and the stream (which pulls).
struct live_queue {
  std::mutex mtx;
  std::condition_variable cv;
  std::deque<event> events;
  size_t limit = 0;
  /// The first live event that did not fit: the stream ends before it.
  uint64_t overflow_at = 0;
  bool closed = false;
  /// Wakes a reader that polls (try_next) instead of waiting on cv.
  ready_signal ready;
  /// The other nodes' parts (a subscription across a network).
  std::vector<std::shared_ptr<remote_part>> parts;

  /// Something for the reader (under mtx).
  bool has_news() const {
    if (!events.empty() || overflow_at != 0 || closed)
      return true;
    for (auto& p : parts)
      if (!p->events.empty() || p->failure)
        return true;
    return false;
  }
  /// After a producer added something (holding `guard` on mtx): wakes the
  /// reader, outside the mutex.
  void wake(std::unique_lock<std::mutex>& guard) {
    cv.notify_all();
    const bool fire = ready.take();
    guard.unlock();
    if (fire)
      ready.fire();
  }
};

struct event_stream::impl {
  node::impl* owner = nullptr;
  principal who;
  subscription_spec spec;
  uint64_t sub_id = 0;
  std::shared_ptr<live_queue> q;
  /// Events [replay_next, first_live) are read by next() before the queue:
  /// from the store, or (memory node) from what the bus handed over.
  uint64_t replay_next = 0;
  uint64_t first_live = 0;
  std::deque<event> handed_over;
  /// Offset after the last event next() returned.
  uint64_t resume = 0;
  /// Offset after the last live event taken off the queue (kept or not).
  uint64_t live_examined = 0;
  std::optional<error> end;

  ~impl();
  bool ends_stream(const event& e);
  bool take(const event& e, std::vector<event>& out);
  expected<std::vector<event>> replay_chunk_read(size_t max);
  /// The other nodes' events, under q->mtx.
  void take_remote(size_t max, std::vector<event>& out);
  std::vector<event> try_next(size_t max, bool arm);
  std::vector<event> next(size_t max, std::chrono::milliseconds timeout);
};

/// Opens the parts of the other nodes for a subscription across the
/// network and starts their polls (network_events.cpp). Waits briefly for
/// each node's first answer, so that the stream's cursor names the nodes
/// that are up from its first event on.
task<expected<void>> follow_network(node::impl& im, std::shared_ptr<live_queue> q, principal who,
                                    subscription_spec spec);

} // namespace parley
