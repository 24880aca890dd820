#pragma once

#include <chrono>
#include <vector>

#include "actors/messages.hpp"
#include "actors/runtime.hpp"

namespace parley {

/// Keeps a population talking: every `interval` it nudges `per_tick` agents
/// drawn by a seeded generator (the same seed nudges the same agents). It
/// holds their ids and finds them through the router.
struct population_driver_state {
  runtime* rt = nullptr;
  std::vector<agent_id> agents;
  uint64_t rng = 0;
  std::chrono::milliseconds interval{50};
  uint32_t per_tick = 1;

  static inline const char* name = "parley.population_driver";
};

using population_driver_actor = caf::stateful_actor<population_driver_state>;

caf::behavior population_driver(population_driver_actor* self, runtime* rt,
                                std::vector<agent_id> agents, uint64_t seed,
                                std::chrono::milliseconds interval, uint32_t per_tick);

} // namespace parley
