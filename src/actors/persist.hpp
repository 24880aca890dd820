#pragma once

// The one way an actor changes durable state: it commits the change through
// the node's storage writer and applies it only once it is written. While
// the write runs, the actor takes no other message (CAF's await), so two
// changes never start from the same state and nothing sees a change that a
// failed write takes back. Without a store the change applies at once.

#include "actors/messages.hpp"
#include "actors/runtime.hpp"

namespace parley {

/// Commits `b`, then calls `done(failure, outcome)`: failure is nullptr when
/// the batch is durable (or was refused by its precondition: see
/// commit_outcome), else the error (storage_failure: nothing was written;
/// deadline_exceeded: the outcome is unknown).
template <class Self, class Done>
void persist_then(Self* self, const runtime& rt, storage::write_batch b, Done done) {
  if (!rt.store) {
    commit_outcome none;
    done(static_cast<const error*>(nullptr), none);
    return;
  }
  self->request(rt.writer, caf::infinite, atoms::commit::value, std::move(b))
    .await([done](commit_outcome& out) mutable { done(static_cast<const error*>(nullptr), out); },
           [self, done](caf::error& e) mutable {
             const auto err = from_caf(e, self->system());
             commit_outcome none;
             done(&err, none);
           });
}

/// Commits `b` without waiting for it: for writes whose loss in a crash
/// costs nothing but a repeat (removing a served inbox entry).
inline void commit_later(const runtime& rt, storage::write_batch b) {
  if (rt.store && !b.empty())
    caf::anon_send(rt.writer, atoms::commit::value, std::move(b));
}

} // namespace parley
