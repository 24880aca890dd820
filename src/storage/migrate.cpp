#include "storage/migrate.hpp"

#include "parley/storage/message_log.hpp"
#include "parley/storage/records.hpp"

namespace parley::storage {

namespace {

constexpr size_t chunk = 10000;
// Schema 2 keys begin with an id character or "room:"/"direct:" (all >=
// '-'); schema 3 keys with a shard number (< 0x04 for 1024 shards).
const std::string old_begin{"\x04"};
const std::string old_end{"\xff"};

// Writes `b` once it holds `chunk` changes (or when `last`).
struct chunked_writer {
  state_store& s;
  write_batch b;

  expected<void> add_done(bool last = false) {
    if (b.empty() || (!last && b.size() < chunk))
      return {};
    auto ok = s.write(b);
    b.clear();
    return ok;
  }
};

// Visits every schema 2 key of `c`; `fn` returns failures as values.
expected<void> each_old(const state_store& s, column c,
                        const std::function<expected<void>(std::string_view, std::string_view)>& fn) {
  std::optional<error> failure;
  auto ok = s.scan(c, {}, old_begin, [&](std::string_view k, std::string_view v) {
    if (auto r = fn(k, v); !r) {
      failure = r.error();
      return false;
    }
    return true;
  });
  if (!ok)
    return ok;
  if (failure)
    return unexpected{*failure};
  return {};
}

unexpected bad_key(column c, std::string_view k) {
  std::string shown{k};
  std::replace(shown.begin(), shown.end(), '\0', '/');
  return unexpected{errc::storage_failure, "malformed schema 2 key '" + shown + "' in " + std::string{to_string(c)}};
}

} // namespace

expected<void> migrate_v2(state_store& s, const std::string& meta_v3) {
  chunked_writer w{s, {}};
  // Records keyed by their owner's id alone.
  for (auto [c, owner_is_room] : {std::pair{column::agents, false}, {column::attention, false},
                                  {column::erasures, false}, {column::rooms, true}, {column::moderators, true}}) {
    auto ok = each_old(s, c, [&](std::string_view k, std::string_view v) -> expected<void> {
      w.b.put(c, owner_is_room ? room_key(k) : agent_key(k), std::string{v});
      return w.add_done();
    });
    if (!ok)
      return ok;
  }
  // members: room \0 agent.
  auto ok = each_old(s, column::members, [&](std::string_view k, std::string_view v) -> expected<void> {
    auto sep = k.find('\0');
    if (sep == std::string_view::npos)
      return bad_key(column::members, k);
    w.b.put(column::members, member_key(k.substr(0, sep), k.substr(sep + 1)), std::string{v});
    return w.add_done();
  });
  if (!ok)
    return ok;
  // messages: from \0 id -> under the recipient or room, with the index
  // rebuilt from the records.
  ok = each_old(s, column::messages, [&](std::string_view, std::string_view v) -> expected<void> {
    auto m = decode_message(v);
    if (!m)
      return unexpected{m.error()};
    w.b.put(column::message_index, index_key(*m), {});
    w.b.put(column::messages, message_key(m->to, m->from, m->id), std::string{v});
    return w.add_done();
  });
  if (!ok)
    return ok;
  // inbox: agent \0 delivery -> the message's new key (its schema 2 record
  // is still there to say where it went).
  ok = each_old(s, column::inbox, [&](std::string_view k, std::string_view v) -> expected<void> {
    auto sep = k.find('\0');
    if (sep == std::string_view::npos || k.size() != sep + 9)
      return bad_key(column::inbox, k);
    auto raw = s.get(column::messages, v);
    if (!raw)
      return unexpected{raw.error()};
    if (!*raw)
      return {}; // an orphan: schema 2 recovery skipped it too
    auto m = decode_message(**raw);
    if (!m)
      return unexpected{m.error()};
    w.b.put(column::inbox, inbox_key(k.substr(0, sep), parse_u64_key(k.substr(sep + 1))),
            message_key(m->to, m->from, m->id));
    return w.add_done();
  });
  if (!ok)
    return ok;
  if (auto done = w.add_done(true); !done)
    return done;
  // The switch: every schema 2 key goes, and the version, in one batch.
  for (auto c : {column::agents, column::attention, column::erasures, column::rooms, column::moderators,
                 column::members, column::messages, column::message_index, column::inbox})
    w.b.erase_range(c, old_begin, old_end);
  w.b.put(column::meta, "store", meta_v3);
  return w.add_done(true);
}

} // namespace parley::storage
