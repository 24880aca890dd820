#pragma once

// The door through which threads outside the actor system (gRPC's, an
// embedder's) make asynchronous calls: a call hands the relay a job that
// sends the request as the relay, and the answer comes back to the relay,
// which completes the call. No thread waits for it.
//
// Why not an actor spawned per call: spawning from a foreign thread makes
// CAF 0.17 keep a thread-local reference to its logger in that thread, and
// the actor system's destructor waits for that reference until the thread
// ends (a gRPC thread outlives the node: the node would never stop).

#include "actors/messages.hpp"

namespace parley {

// A class, not a function: CAF 0.17 spawns a function actor without
// arguments through a null shared_ptr<tuple<>> (harmless, but UBSan stops).
class call_relay : public caf::event_based_actor {
public:
  explicit call_relay(caf::actor_config& cfg) : caf::event_based_actor(cfg) {}
  caf::behavior make_behavior() override;
};

} // namespace parley
