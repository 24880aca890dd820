// Retention: what the node keeps is bounded in time and count, so no caller
// can make its disk grow forever. Runs on the janitor's thread (or the
// caller's, for run_retention), never on the scheduler's: it scans the store.
//   - history: messages older than limits.history_max_age_ms, or beyond the
//     newest limits.history_max_per_dialogue of their dialogue, leave the
//     history (index entry and record, with their idempotency record), unless
//     an inbox still holds them;
//   - idempotency keys older than limits.idempotency_window_ms (a retry
//     after the window is a new message);
//   - skills no agent holds any more.

#include <unordered_set>

#include "node/node_impl.hpp"
#include "parley/storage/message_log.hpp"
#include "parley/storage/records.hpp"

namespace parley {

namespace {

constexpr size_t chunk = 10000;

// The messages-column key inside an index key: dialogue \0 time(8) \0 key.
std::string_view message_key_of(std::string_view index_key) {
  auto sep = index_key.find('\0');
  if (sep == std::string_view::npos || index_key.size() < sep + 10)
    return {};
  return index_key.substr(sep + 10);
}

std::string_view dialogue_of_index(std::string_view index_key) {
  return index_key.substr(0, index_key.find('\0'));
}

timestamp time_of_index(std::string_view index_key) {
  auto sep = index_key.find('\0');
  return static_cast<timestamp>(storage::parse_u64_key(index_key.substr(sep + 1, 8)));
}

} // namespace

expected<uint64_t> node::impl::retention_pass() {
  uint64_t removed = rt.skills.release_unused();
  if (!store || stopping)
    return removed;
  const auto& l = cfg.limits;
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
  // -- history
  if (l.history_max_age_ms > 0 || l.history_max_per_dialogue > 0) {
    // Messages an inbox still holds stay (their entries point at them).
    std::unordered_set<std::string> held;
    auto ok = store->scan(storage::column::inbox, {}, {}, [&](std::string_view, std::string_view v) {
      held.emplace(v);
      return true;
    });
    if (!ok)
      return unexpected{ok.error()};
    const timestamp cutoff = l.history_max_age_ms > 0 ? now - l.history_max_age_ms : 0;
    std::string dialogue;
    uint64_t kept = 0;
    // Newest first within each dialogue: the count runs from the newest.
    ok = store->scan_reverse(storage::column::message_index, {}, {}, [&](std::string_view k, std::string_view) {
      auto d = dialogue_of_index(k);
      if (d != dialogue) {
        dialogue = std::string{d};
        kept = 0;
      }
      const bool too_old = cutoff > 0 && time_of_index(k) < cutoff;
      const bool too_many = l.history_max_per_dialogue > 0 && kept >= l.history_max_per_dialogue;
      if (!too_old && !too_many) {
        ++kept;
        return true;
      }
      auto key = message_key_of(k);
      if (held.count(std::string{key})) {
        ++kept;
        return true;
      }
      b.erase(storage::column::message_index, std::string{k});
      b.erase(storage::column::messages, std::string{key});
      b.erase(storage::column::idempotency, std::string{key});
      ++removed;
      if (b.size() >= chunk)
        flush();
      return !failure && !stopping;
    });
    if (!ok)
      return unexpected{ok.error()};
  }
  // -- idempotency keys
  if (l.idempotency_window_ms > 0) {
    const timestamp cutoff = now - l.idempotency_window_ms;
    auto ok = store->scan(storage::column::idempotency, {}, {}, [&](std::string_view k, std::string_view v) {
      auto o = storage::decode_outcome(v);
      if (o && o->at >= cutoff)
        return true;
      b.erase(storage::column::idempotency, std::string{k});
      ++removed;
      if (b.size() >= chunk)
        flush();
      return !failure && !stopping;
    });
    if (!ok)
      return unexpected{ok.error()};
  }
  flush();
  if (failure)
    return unexpected{*failure};
  return removed;
}

} // namespace parley
