#include "actors/storage_writer.hpp"

#include <unordered_map>

#include "parley/storage/message_log.hpp"

namespace parley {

namespace {

// The batches of one group commit merged so far, with the last change of
// each key they touch found by hash (a group holds hundreds of changes, and
// every batch with a precondition or update looks its keys up).
class group {
public:
  const storage::write_batch& merged() const { return merged_; }

  // The value the key has after the group so far (nullopt: deleted), or
  // nothing when the group does not touch it.
  std::optional<std::optional<std::string>> find(storage::column c, const std::string& key) const {
    auto it = last_.find(slot(c, key));
    // A range erase after the key's last change (retention, erasure) wins.
    for (auto r = ranges_.rbegin(); r != ranges_.rend(); ++r) {
      if (it != last_.end() && *r < it->second)
        break;
      auto& op = merged_.ops()[*r];
      if (op.col == c && op.key <= key && key < op.value)
        return std::optional<std::optional<std::string>>{std::optional<std::string>{}};
    }
    if (it == last_.end())
      return std::nullopt;
    auto& op = merged_.ops()[it->second];
    return op.erase ? std::optional<std::string>{} : std::optional<std::string>{op.value};
  }

  void append(storage::write_batch&& b) {
    const size_t first = merged_.ops().size();
    merged_.append(std::move(b));
    const auto& ops = merged_.ops();
    for (size_t i = first; i < ops.size(); ++i)
      if (ops[i].range)
        ranges_.push_back(i);
      else
        last_[slot(ops[i].col, ops[i].key)] = i;
  }

private:
  static std::string slot(storage::column c, const std::string& key) {
    std::string s;
    s.reserve(key.size() + 1);
    s.push_back(static_cast<char>(c));
    s += key;
    return s;
  }
  storage::write_batch merged_;
  std::unordered_map<std::string, size_t> last_;
  std::vector<size_t> ranges_;
};

// The value a key has in batch `b` itself, or nothing when `b` does not
// touch it (a batch is short: a scan).
std::optional<std::optional<std::string>> in_batch(const storage::write_batch& b, storage::column c,
                                                   const std::string& key) {
  const auto& ops = b.ops();
  for (auto it = ops.rbegin(); it != ops.rend(); ++it)
    if (it->col == c && !it->range && it->key == key)
      return it->erase ? std::optional<std::string>{} : std::optional<std::string>{it->value};
  return std::nullopt;
}

expected<std::optional<std::string>> current(const storage::state_store& store, const group& g,
                                             storage::column c, const std::string& key) {
  if (auto v = g.find(c, key))
    return *v;
  return store.get(c, key);
}

// Resolves `b`'s precondition and updates against the store and the group
// so far. Returns the value that makes the precondition fail, if any.
expected<std::optional<std::string>> resolve(const storage::state_store& store, const group& grp,
                                             storage::write_batch& b) {
  if (auto& g = b.precondition()) {
    auto v = current(store, grp, g->col, g->key);
    if (!v)
      return unexpected{v.error()};
    if (*v && (!g->counts || g->counts(**v)))
      return *v;
    b.clear_precondition();
  }
  for (auto& u : b.take_updates()) {
    // Updates see this batch's own puts too.
    std::optional<std::optional<std::string>> own = in_batch(b, u.col, u.key);
    std::optional<std::string> before;
    if (own) {
      before = *own;
    } else {
      auto v = current(store, grp, u.col, u.key);
      if (!v)
        return unexpected{v.error()};
      before = std::move(*v);
    }
    auto after = u.fn(before);
    if (after)
      b.put(u.col, std::move(u.key), std::move(*after));
    else if (before)
      b.erase(u.col, std::move(u.key));
  }
  return std::optional<std::string>{};
}

void flush(storage_writer_actor* self) {
  auto& st = self->state;
  // Deferred changes go first (actors/deferred_writes.hpp says why).
  auto deferred = st.deferred ? st.deferred->take() : storage::write_batch{};
  if (st.queue.empty() && deferred.empty())
    return;
  auto queue = std::move(st.queue);
  st.queue.clear();
  group grp;
  const size_t deferred_ops = deferred.ops().size();
  if (!deferred.empty())
    grp.append(std::move(deferred));
  std::vector<commit_outcome> outcomes(queue.size());
  std::vector<bool> failed(queue.size(), false);
  for (size_t i = 0; i < queue.size(); ++i) {
    auto r = resolve(*st.store, grp, queue[i].batch);
    if (!r) {
      queue[i].rp.deliver(to_caf(r.error()));
      failed[i] = true;
      continue;
    }
    if (*r) {
      outcomes[i].already_present = std::move(*r);
      continue;
    }
    grp.append(std::move(queue[i].batch));
  }
  auto ok = st.store->write(grp.merged());
  if (!ok && deferred_ops != 0) {
    // Nothing of the group is on disk: the deferred changes wait for the
    // next write (the batches of the group are answered with the failure).
    storage::write_batch again;
    for (size_t i = 0; i < deferred_ops; ++i) {
      auto& op = grp.merged().ops()[i];
      if (op.range)
        again.erase_range(op.col, op.key, op.value);
      else if (op.erase)
        again.erase(op.col, op.key);
      else
        again.put(op.col, op.key, op.value);
    }
    st.deferred->put_back(std::move(again));
  }
  ++st.commits;
  st.batches += queue.size();
  if (st.counters) {
    st.counters->storage_writes.fetch_add(1, std::memory_order_relaxed);
    st.counters->storage_batches.fetch_add(queue.size(), std::memory_order_relaxed);
  }
  // All or nothing for the whole group: RocksDB applies one WriteBatch
  // atomically, so on failure none of these changes is on disk.
  for (size_t i = 0; i < queue.size(); ++i) {
    if (failed[i])
      continue;
    if (ok || outcomes[i].already_present)
      queue[i].rp.deliver(std::move(outcomes[i]));
    else
      queue[i].rp.deliver(to_caf(ok.error()));
  }
}

} // namespace

caf::behavior storage_writer(storage_writer_actor* self, storage::state_store* store, node_counters* counters,
                             deferred_writes* deferred) {
  self->state.store = store;
  self->state.counters = counters;
  self->state.deferred = deferred;
  return {
    [self](atoms::commit, storage::write_batch& b) -> caf::result<commit_outcome> {
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
    // Whichever message is handled last writes the group: a flush (a nudge
    // for changes written behind) with commits still waiting behind it
    // leaves them to the last of those, so the group is not split.
    [self](atoms::flush) {
      if (self->mailbox().empty())
        flush(self);
    },
    [self](atoms::writer_stats) {
      if (self->mailbox().empty())
        flush(self);
      return caf::make_message(self->state.commits, self->state.batches);
    },
  };
}

caf::behavior storage_reader(storage_reader_actor* self, const storage::state_store* store) {
  self->state.store = store;
  return {
    [self](atoms::load_inbox, const agent_id& who,
           const std::vector<uint64_t>& deliveries) -> caf::result<std::vector<message>> {
      auto got = storage::load_inbox_entries(*self->state.store, who, deliveries);
      if (!got)
        return to_caf(got.error());
      return std::move(*got);
    },
    [self](atoms::find_outcome, const std::string& key) -> caf::result<std::optional<storage::send_outcome>> {
      auto got = storage::find_outcome(*self->state.store, key);
      if (!got)
        return to_caf(got.error());
      return std::move(*got);
    },
    [self](atoms::find_event_cutoff, timestamp cutoff) -> caf::result<uint64_t> {
      // Offsets grow with time: the first event at or after the cutoff ends
      // the old ones. Bounded per call, so one prune never scans the log.
      uint64_t first_young = 0;
      size_t seen = 0;
      auto ok = self->state.store->scan(storage::column::events, {}, {},
                                        [&](std::string_view k, std::string_view v) {
                                          auto e = storage::decode_event(v);
                                          first_young = storage::parse_u64_key(k);
                                          if (!e || e->at >= cutoff || ++seen >= 10000)
                                            return false;
                                          ++first_young;
                                          return true;
                                        });
      if (!ok)
        return to_caf(ok.error());
      return first_young;
    },
  };
}

} // namespace parley
