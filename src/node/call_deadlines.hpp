#pragma once

// The call timeout of calls that their answering actor completes itself
// (node/direct_call.hpp): no relay holds them, so no CAF request timeout
// fires for them. Each call is linked into a list in deadline order (every
// call of a node has the same timeout), unlinked when it is answered; a
// sweeper actor expires the overdue ones a few times per timeout. Adding
// and removing a call costs an uncontended lock each, instead of a
// timeout filed with CAF's clock thread and its wake-up per request.

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>

#include <caf/all.hpp>

#include "parley/error.hpp"

namespace parley {

class call_deadlines {
public:
  using clock_type = std::chrono::steady_clock;

  /// A call waiting for its answer.
  class entry {
  public:
    virtual ~entry() = default;
    /// Ends the call with `why` if nothing ended it yet. The registry has
    /// unlinked it already; may be called from any thread.
    virtual void expire(const error& why) = 0;

  private:
    friend class call_deadlines;
    entry* prev_ = nullptr;
    entry* next_ = nullptr;
    // The registry's reference while linked.
    std::shared_ptr<entry> keep_;
    clock_type::time_point deadline_{};
    unsigned shard_ = 0;
  };

  explicit call_deadlines(std::chrono::milliseconds timeout) : timeout_(timeout) {}
  ~call_deadlines() { close(); }
  call_deadlines(const call_deadlines&) = delete;
  call_deadlines& operator=(const call_deadlines&) = delete;

  /// Starts the clock of `e`. False once closed (the call must end at once).
  bool add(const std::shared_ptr<entry>& e);
  /// The call was answered: stop its clock.
  void remove(entry& e);
  /// Ends the calls past their deadline with deadline_exceeded.
  void sweep(clock_type::time_point now = clock_type::now());
  /// Ends every waiting call with `stopped` and refuses new ones.
  void close();
  /// How often the sweeper runs: an overdue call ends at most this late.
  std::chrono::milliseconds tick() const;

private:
  static constexpr unsigned shard_count = 8;
  struct alignas(64) shard {
    std::mutex mtx;
    entry* head = nullptr; // oldest
    entry* tail = nullptr;
  };
  // Unlinks `e` from its shard (lock held); returns the registry's reference.
  static std::shared_ptr<entry> unlink(shard& s, entry& e);

  std::chrono::milliseconds timeout_;
  shard shards_[shard_count];
  std::atomic<unsigned> turn_{0};
  std::atomic<bool> closed_{false};
};

/// The actor that sweeps `deadlines` every deadlines->tick().
caf::behavior deadline_sweeper(caf::event_based_actor* self, call_deadlines* deadlines);

} // namespace parley
