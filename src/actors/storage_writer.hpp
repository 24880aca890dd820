#pragma once

#include <vector>

#include "actors/deferred_writes.hpp"
#include "actors/messages.hpp"
#include "actors/runtime.hpp"
#include "parley/storage/state_store.hpp"

namespace parley {

/// The one writer of a node's store. Actors send it (commit, write_batch)
/// and get a commit_outcome once the batch is durable (per the store's
/// durability mode). Group commit: while a write (and its fsync) runs, new
/// batches queue in the mailbox; the next write takes all of them at once,
/// so one fsync covers many changes. Batches are committed in arrival
/// order. Preconditions and read-modify-writes (write_batch::require_absent,
/// write_batch::modify) are resolved here, on this thread, against the
/// store and the batches before them in the group. Runs detached (its own
/// thread): a write blocks.
struct storage_writer_state {
  struct pending {
    storage::write_batch batch;
    caf::response_promise rp;
  };

  storage::state_store* store = nullptr;
  std::vector<pending> queue;
  node_counters* counters = nullptr;
  deferred_writes* deferred = nullptr;
  uint64_t commits = 0; // writes issued
  uint64_t batches = 0; // batches they carried

  static inline const char* name = "parley.storage_writer";
};

using storage_writer_actor = caf::stateful_actor<storage_writer_state>;

/// `counters` (nullable) count the writes and the batches they carry.
/// `deferred` (nullable): changes written behind, put first in each group
/// (a `flush` message writes them when no commit is queued).
caf::behavior storage_writer(storage_writer_actor* self, storage::state_store* store, node_counters* counters,
                             deferred_writes* deferred);

/// The node's blocking reads for actors (agents loading their backlog, the
/// event bus reading its log), on a thread of its own so that no scheduler
/// thread ever waits for the disk. Detached.
struct storage_reader_state {
  const storage::state_store* store = nullptr;
  static inline const char* name = "parley.storage_reader";
};

using storage_reader_actor = caf::stateful_actor<storage_reader_state>;

caf::behavior storage_reader(storage_reader_actor* self, const storage::state_store* store);

} // namespace parley
