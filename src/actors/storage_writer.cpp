#include "actors/storage_writer.hpp"

namespace parley {

namespace {

void flush(storage_writer_actor* self) {
  auto& st = self->state;
  if (st.queue.empty())
    return;
  auto queue = std::move(st.queue);
  st.queue.clear();
  storage::write_batch merged;
  for (auto& p : queue)
    merged.append(p.batch);
  auto ok = st.store->write(merged);
  ++st.commits;
  st.batches += queue.size();
  // All or nothing for the whole group: RocksDB applies one WriteBatch
  // atomically, so on failure none of these changes is on disk.
  for (auto& p : queue) {
    if (ok)
      p.rp.deliver(caf::ok_atom::value);
    else
      p.rp.deliver(to_caf(ok.error()));
  }
}

} // namespace

caf::behavior storage_writer(storage_writer_actor* self, storage::state_store* store) {
  self->state.store = store;
  return {
    [self](atoms::commit, storage::write_batch& b) -> caf::result<caf::ok_atom> {
      auto& st = self->state;
      st.queue.push_back({std::move(b), self->make_response_promise()});
      auto rp = st.queue.back().rp;
      // More commits waiting? Take them first, then write once for all.
      if (self->mailbox().empty())
        flush(self);
      else if (st.queue.size() == 1)
        self->send(self, atoms::flush::value);
      return rp;
    },
    [self](atoms::flush) { flush(self); },
    [self](atoms::writer_stats) {
      return caf::make_message(self->state.commits, self->state.batches);
    },
  };
}

} // namespace parley
