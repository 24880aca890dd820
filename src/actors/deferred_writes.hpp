#pragma once

// Changes written behind, folded into the storage writer's next group
// commit instead of each being a commit of its own: removals of served
// inbox entries (one per served message or batch) and a moderator's turn
// state after a membership change. Their authors do not wait for them, so
// they need no answer and no message to the writer each; losing them in a
// crash costs a repeat (a message offered again), never a promise.
//
// The writer puts them first in the group it writes next, before the
// batches queued in its mailbox: every deferred change was made after
// whatever its author committed earlier had been answered (an inbox entry
// is removed only once it was committed and served; a moderator writes its
// turns behind only after its holding change was committed), so nothing
// queued behind it is older.

#include <mutex>

#include "parley/storage/state_store.hpp"

namespace parley {

class deferred_writes {
public:
  /// Adds the puts and erases of `b` (its preconditions and updates are not
  /// supported here). True when nothing was waiting before: the caller then
  /// nudges the writer, so that the change is written soon even if no other
  /// commit comes.
  bool add(storage::write_batch&& b) {
    std::lock_guard lock{mtx_};
    const bool was_empty = waiting_.empty();
    waiting_.append(std::move(b));
    return was_empty;
  }

  /// Everything waiting, in the order it was added; leaves nothing behind.
  storage::write_batch take() {
    std::lock_guard lock{mtx_};
    return std::exchange(waiting_, {});
  }

  /// Puts back what a failed write took, before anything added since.
  void put_back(storage::write_batch&& b) {
    std::lock_guard lock{mtx_};
    b.append(std::move(waiting_));
    waiting_ = std::move(b);
  }

private:
  std::mutex mtx_;
  storage::write_batch waiting_;
};

} // namespace parley
