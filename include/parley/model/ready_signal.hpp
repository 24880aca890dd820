#pragma once

// How a queue wakes a consumer that never waits on it (a gRPC reactor): the
// consumer polls (try_next); a poll that finds nothing arms the signal, and
// the next producer that adds something fires it, once. The consumer then
// polls again. Edge-triggered: no call without an armed miss before it.
//
// The queue owns one ready_signal next to its mutex. arm() and take() run
// under that mutex (so "found nothing" and "armed" are one step, and a
// producer cannot push in between unnoticed); fire() runs after the
// producer released it, so the consumer's function may poll the queue.

#include <functional>
#include <mutex>
#include <utility>

namespace parley {

class ready_signal {
public:
  /// Sets the function fire() calls, or clears it (nullptr). Clearing
  /// returns only once a call in progress has returned: after that the old
  /// function is never called again, so its owner may go. Thread-safe;
  /// never call it from inside the function.
  void set(std::function<void()> fn) {
    std::lock_guard guard{fn_mtx_};
    fn_ = std::move(fn);
  }

  /// A poll found nothing. Under the queue's mutex.
  void arm() noexcept { armed_ = true; }
  /// Forgets an armed miss (a new consumer starts afresh). Under the
  /// queue's mutex.
  void disarm() noexcept { armed_ = false; }
  /// A producer added something: true if fire() must be called (once the
  /// queue's mutex is released). Under the queue's mutex.
  bool take() noexcept { return std::exchange(armed_, false); }

  /// Calls the function, if set. Not under the queue's mutex. Calls are
  /// serialized.
  void fire() {
    std::lock_guard guard{fn_mtx_};
    if (fn_)
      fn_();
  }

private:
  bool armed_ = false; // guarded by the queue's mutex
  std::mutex fn_mtx_;
  std::function<void()> fn_;
};

} // namespace parley
