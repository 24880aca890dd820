#include "actors/call_relay.hpp"

namespace parley {

caf::behavior call_relay::make_behavior() {
  return {
    [this](atoms::relay, relay_job& job) { job.run(this); },
  };
}

} // namespace parley
