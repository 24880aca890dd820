#pragma once

#include <vector>

#include "actors/messages.hpp"
#include "parley/storage/state_store.hpp"

namespace parley {

/// The one writer of a node's store. Actors send it (commit, write_batch)
/// and get ok once the batch is durable (per the store's durability mode).
/// Group commit: while a write (and its fsync) runs, new batches queue in the
/// mailbox; the next write takes all of them at once, so one fsync covers
/// many changes. Batches are committed in arrival order. Runs detached
/// (its own thread): a write blocks.
struct storage_writer_state {
  struct pending {
    storage::write_batch batch;
    caf::response_promise rp;
  };

  storage::state_store* store = nullptr;
  std::vector<pending> queue;
  uint64_t commits = 0; // writes issued
  uint64_t batches = 0; // batches they carried

  static inline const char* name = "parley.storage_writer";
};

using storage_writer_actor = caf::stateful_actor<storage_writer_state>;

caf::behavior storage_writer(storage_writer_actor* self, storage::state_store* store);

} // namespace parley
