#pragma once

#include <chrono>
#include <functional>

#include "actors/messages.hpp"

namespace parley {

/// Runs the node's upkeep (retention of history and idempotency keys,
/// release of unused skills) every `interval`, and the node's other
/// blocking jobs that are asked for (atoms::relay). Spawned detached: the
/// work scans the store and must not hold a scheduler thread.
caf::behavior janitor(caf::event_based_actor* self, std::chrono::milliseconds interval,
                      std::function<void()> work);

} // namespace parley
