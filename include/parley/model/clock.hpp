#pragma once

// Time is injected so that moderators, attention aging and simulations replay
// exactly: production uses system_clock, tests and simulations manual_clock.

#include <atomic>

#include "parley/model/ids.hpp"

namespace parley {

class clock {
public:
  virtual ~clock() = default;
  /// Current time in ms since the Unix epoch. Thread-safe.
  virtual timestamp now() const noexcept = 0;
};

/// Wall time.
class system_clock final : public clock {
public:
  timestamp now() const noexcept override;
};

/// Time that moves only when told. Thread-safe.
class manual_clock final : public clock {
public:
  explicit manual_clock(timestamp start = 1'700'000'000'000) : now_(start) {}
  timestamp now() const noexcept override { return now_.load(); }
  void advance(int64_t ms) noexcept { now_.fetch_add(ms); }
  void set(timestamp t) noexcept { now_.store(t); }

private:
  std::atomic<timestamp> now_;
};

} // namespace parley
