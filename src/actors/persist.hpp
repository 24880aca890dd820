#pragma once

// The one way an actor changes durable state: it commits the change through
// the node's storage writer and applies it only once it is written. Without
// a store the change applies at once. Two ways to wait:
//   - holding: the actor takes no other message while the write runs (CAF's
//     await), so two changes never start from the same state and nothing
//     sees a change that a failed write takes back;
//   - pipelined: the actor goes on taking messages (CAF's then) and applies
//     the change when the writer answers. The caller must have reserved in
//     memory what the change needs (a slot of a bounded inbox, say), so that
//     later messages are checked as if it had applied. The writer answers in
//     the order it was given the batches (one writer, one mailbox), so
//     pipelined changes apply in order, and the group commit carries the
//     batches of every actor that has one in flight.

#include "actors/deferred_writes.hpp"
#include "actors/messages.hpp"
#include "actors/runtime.hpp"

namespace parley {

/// Commits `b`, then calls `done(failure, outcome)`: failure is nullptr when
/// the batch is durable (or was refused by its precondition: see
/// commit_outcome), else the error (storage_failure: nothing was written;
/// deadline_exceeded: the outcome is unknown).
enum class while_writing : bool { hold, go_on };

template <class Self, class Done>
void persist_then(Self* self, const runtime& rt, storage::write_batch b, Done done,
                  while_writing mode = while_writing::hold) {
  if (!rt.store) {
    commit_outcome none;
    done(static_cast<const error*>(nullptr), none);
    return;
  }
  auto written = [done](commit_outcome& out) mutable { done(static_cast<const error*>(nullptr), out); };
  auto failed = [self, done](caf::error& e) mutable {
    const auto err = from_caf(e, self->system());
    commit_outcome none;
    done(&err, none);
  };
  auto req = self->request(rt.writer, caf::infinite, atoms::commit::value, std::move(b));
  if (mode == while_writing::go_on)
    std::move(req).then(std::move(written), std::move(failed));
  else
    std::move(req).await(std::move(written), std::move(failed));
}

/// Commits `b` without waiting for it, folded into the writer's next group
/// commit (actors/deferred_writes.hpp): for writes whose loss in a crash
/// costs nothing but a repeat (removing a served inbox entry).
inline void commit_later(const runtime& rt, storage::write_batch b) {
  if (!rt.store || b.empty())
    return;
  if (!rt.deferred) {
    caf::anon_send(rt.writer, atoms::commit::value, std::move(b));
    return;
  }
  if (rt.deferred->add(std::move(b)))
    caf::anon_send(rt.writer, atoms::flush::value);
}

} // namespace parley
