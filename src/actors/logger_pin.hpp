#pragma once

#include <caf/logger.hpp>

namespace parley {

/// CAF 0.17 pins its logger to every thread that spawns an actor or makes
/// a scoped_actor, until that thread ends, and the actor system's
/// destructor waits until no thread holds a pin. gRPC's threads outlive a
/// node: a node whose API thread had spawned an agent could never finish
/// stopping (seen as a test that hung in ~actor_system, 1 run in 10).
/// Around such work on a thread CAF does not own, this guard takes the pin
/// away again at the end of its scope, if the thread had none before.
class logger_unpin_guard {
public:
  logger_unpin_guard() noexcept : had_pin_(caf::logger::current_logger() != nullptr) {}
  ~logger_unpin_guard() {
    if (!had_pin_)
      caf::logger::set_current_actor_system(nullptr);
  }
  logger_unpin_guard(const logger_unpin_guard&) = delete;
  logger_unpin_guard& operator=(const logger_unpin_guard&) = delete;

private:
  bool had_pin_;
};

} // namespace parley
