#include "actors/call_relay.hpp"

namespace parley {

caf::behavior call_relay(caf::event_based_actor* self) {
  return {
    [self](atoms::relay, relay_job& job) { job.run(self); },
  };
}

} // namespace parley
