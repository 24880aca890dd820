#include "actors/janitor.hpp"

namespace parley {

caf::behavior janitor(caf::event_based_actor* self, std::chrono::milliseconds interval,
                      std::function<void()> work) {
  self->delayed_send(self, interval, atoms::sweep::value);
  return {
    [self, interval, work](atoms::sweep) {
      work();
      self->delayed_send(self, interval, atoms::sweep::value);
    },
    // A blocking job of the node's (an erasure asked by another node),
    // off the link's thread.
    [self](atoms::relay, relay_job& job) { job.run(self); },
  };
}

} // namespace parley
