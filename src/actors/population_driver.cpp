#include "actors/population_driver.hpp"

#include "parley/model/random.hpp"

namespace parley {

caf::behavior population_driver(population_driver_actor* self, runtime* rt,
                                std::vector<agent_id> agents, uint64_t seed,
                                std::chrono::milliseconds interval, uint32_t per_tick) {
  auto& st = self->state;
  st.rt = rt;
  st.agents = std::move(agents);
  st.rng = seed;
  st.interval = interval;
  st.per_tick = per_tick;
  self->send(self, atoms::drive::value);
  return {
    [self](atoms::drive) {
      auto& st = self->state;
      if (st.agents.empty())
        return;
      for (uint32_t i = 0; i < st.per_tick; ++i)
        if (auto a = st.rt->routes.agent(st.agents[splitmix64(st.rng) % st.agents.size()]))
          self->send(a, atoms::nudge::value);
      self->delayed_send(self, st.interval, atoms::drive::value);
    },
  };
}

} // namespace parley
