// Retention: what the node keeps is bounded in time and count, so no caller
// can make its disk grow forever. Runs on the janitor's thread (or the
// caller's, for run_retention), never on the scheduler's: it scans the store.
//   - history: messages older than limits.history_max_age_ms, or beyond the
//     newest limits.history_max_per_dialogue of their dialogue, leave the
//     history (index entry and record, which is also the send's idempotency
//     record), unless an inbox still holds them;
//   - skills no agent holds any more.
// Idempotency keys need no pass of their own: a record older than
// limits.idempotency_window_ms no longer counts (the writer's guard checks
// its time), and history retention removes it with its message.

#include <algorithm>
#include <map>
#include <unordered_set>

#include "node/node_impl.hpp"
#include "parley/storage/message_log.hpp"
#include "parley/storage/records.hpp"

namespace parley {

namespace {

constexpr size_t chunk = 10000;

// An index entry and what it points at, in history order.
struct entry {
  timestamp at;
  std::string from;
  std::string id;
  std::string index_key;

  bool operator<(const entry& o) const { return std::tie(at, from, id) < std::tie(o.at, o.from, o.id); }
};

// The direct dialogue an index entry belongs to (its two agents, sorted).
std::pair<std::string, std::string> pair_of(const storage::index_entry& e) {
  std::string a{e.from}, b = e.to.id;
  if (b < a)
    std::swap(a, b);
  return {std::move(a), std::move(b)};
}

} // namespace

expected<uint64_t> node::impl::retention_pass() {
  uint64_t removed = rt.skills.release_unused();
  if (!store || stopping)
    return removed;
  const auto& l = cfg.limits;
  if (l.history_max_age_ms <= 0 && l.history_max_per_dialogue == 0)
    return removed;
  const auto now = rt.now();
  storage::write_batch b;
  std::optional<error> failure;
  auto flush = [&] {
    if (b.empty() || failure)
      return;
    if (auto ok = commit(std::move(b)); !ok)
      failure = ok.error();
    b.clear();
  };
  // Messages an inbox still holds stay (their entries point at them).
  std::unordered_set<std::string> held;
  auto ok = store->scan(storage::column::inbox, {}, {}, [&](std::string_view, std::string_view v) {
    held.emplace(v);
    return true;
  });
  if (!ok)
    return unexpected{ok.error()};
  // Removes an index entry and its record, unless held. The record goes
  // only if it is still this entry's message: a send under the same key
  // after the idempotency window replaced it.
  auto drop = [&](std::string_view index_key, const storage::index_entry& e) {
    auto key = storage::message_key(e.to, e.from, e.id);
    if (held.count(key))
      return false;
    b.erase(storage::column::message_index, std::string{index_key});
    auto raw = store->get(storage::column::messages, key);
    if (raw && *raw)
      if (auto m = storage::decode_message(**raw); m && m->sent_at == e.at)
        b.erase(storage::column::messages, std::move(key));
    ++removed;
    if (b.size() >= chunk)
      flush();
    return true;
  };
  const timestamp cutoff = l.history_max_age_ms > 0 ? now - l.history_max_age_ms : 0;
  // A room's entries are one range, newest last: the count runs from the
  // newest. A direct dialogue is two ranges (one per sender): counted here,
  // trimmed below in their merged order.
  std::string room;
  uint64_t kept = 0;
  std::map<std::pair<std::string, std::string>, uint64_t> pairs;
  ok = store->scan_reverse(storage::column::message_index, {}, {}, [&](std::string_view k, std::string_view) {
    auto e = storage::parse_index_key(k);
    if (!e)
      return true;
    const bool too_old = cutoff > 0 && e->at < cutoff;
    if (!e->to.is_room()) {
      if (!too_old || !drop(k, *e))
        ++pairs[pair_of(*e)];
      return !failure && !stopping;
    }
    if (e->to.id != room) {
      room = e->to.id;
      kept = 0;
    }
    const bool too_many = l.history_max_per_dialogue > 0 && kept >= l.history_max_per_dialogue;
    if ((!too_old && !too_many) || !drop(k, *e))
      ++kept;
    return !failure && !stopping;
  });
  if (!ok)
    return unexpected{ok.error()};
  for (auto& [pair, count] : pairs) {
    if (l.history_max_per_dialogue == 0 || count <= l.history_max_per_dialogue || failure || stopping)
      continue;
    std::vector<entry> all;
    for (auto [to, from] : {std::pair{pair.second, pair.first}, {pair.first, pair.second}}) {
      ok = store->scan(storage::column::message_index, storage::direct_index_prefix(to, from), {},
                       [&](std::string_view k, std::string_view) {
                         if (auto e = storage::parse_index_key(k))
                           all.push_back({e->at, std::string{e->from}, std::string{e->id}, std::string{k}});
                         return true;
                       });
      if (!ok)
        return unexpected{ok.error()};
      if (pair.first == pair.second)
        break;
    }
    std::sort(all.rbegin(), all.rend()); // newest first
    uint64_t left = 0;
    for (auto& x : all) {
      auto e = storage::parse_index_key(x.index_key);
      if (cutoff > 0 && x.at < cutoff) {
        // Dropped above for its age, unless an inbox holds it (then it stays).
        left += held.count(storage::message_key(e->to, e->from, e->id));
        continue;
      }
      if (left >= l.history_max_per_dialogue && drop(x.index_key, *e))
        continue;
      ++left;
    }
  }
  flush();
  if (failure)
    return unexpected{*failure};
  return removed;
}

} // namespace parley
