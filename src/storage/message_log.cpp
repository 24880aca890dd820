#include "parley/storage/message_log.hpp"

#include <algorithm>

namespace parley::storage {

namespace {

// Cursors are index keys, which hold raw bytes: hex keeps them printable
// for the API and the CLI.
std::string to_hex(std::string_view bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(digits[c >> 4]);
    out.push_back(digits[c & 0xf]);
  }
  return out;
}

std::optional<std::string> from_hex(std::string_view text) {
  if (text.size() % 2 != 0)
    return std::nullopt;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9')
      return c - '0';
    if (c >= 'a' && c <= 'f')
      return c - 'a' + 10;
    return -1;
  };
  std::string out;
  out.reserve(text.size() / 2);
  for (size_t i = 0; i < text.size(); i += 2) {
    int hi = nibble(text[i]);
    int lo = nibble(text[i + 1]);
    if (hi < 0 || lo < 0)
      return std::nullopt;
    out.push_back(static_cast<char>(hi << 4 | lo));
  }
  return out;
}

// The messages-column key inside an index key: prefix, time(8), \0, key.
std::string_view message_key_of(std::string_view index_key, size_t prefix_size) {
  const size_t skip = prefix_size + 8 + 1;
  return index_key.size() > skip ? index_key.substr(skip) : std::string_view{};
}

expected<message> load_message(const state_store& s, std::string_view key) {
  auto raw = s.get(column::messages, key);
  if (!raw)
    return unexpected{raw.error()};
  if (!*raw) {
    auto shown = std::string{key};
    std::replace(shown.begin(), shown.end(), '\0', '/');
    return unexpected{errc::storage_failure, "message '" + shown
                                               + "' is referenced but missing from the store"};
  }
  return decode_message(**raw);
}

} // namespace

std::string room_dialogue(std::string_view room) {
  std::string d = "room:";
  d.append(room);
  return d;
}

std::string history_dialogue(const message& m) {
  return m.to.is_room() ? room_dialogue(m.to.id) : direct_dialogue(m.from, m.to.id);
}

void add_message(write_batch& b, const message& m, const std::vector<agent_id>& recipients,
                 uint64_t delivery, const send_outcome* outcome) {
  auto key = message_key(m.from, m.id);
  b.put(column::messages, key, encode(m));
  b.put(column::message_index, index_key(history_dialogue(m), m.sent_at, m.from, m.id), {});
  for (auto& r : recipients)
    b.put(column::inbox, inbox_key(r, delivery), key);
  if (outcome)
    b.put(column::idempotency, std::move(key), encode(*outcome));
}

void guard_idempotency(write_batch& b, std::string_view from, std::string_view id, timestamp not_before) {
  b.require_absent(column::idempotency, message_key(from, id), [not_before](std::string_view v) {
    auto o = decode_outcome(v);
    return !o || o->at >= not_before;
  });
}

void add_inbox_removal(write_batch& b, std::string_view agent, uint64_t delivery) {
  b.erase(column::inbox, inbox_key(agent, delivery));
}

expected<std::optional<send_outcome>> find_outcome(const state_store& s, std::string_view from,
                                                   std::string_view id) {
  auto raw = s.get(column::idempotency, message_key(from, id));
  if (!raw)
    return unexpected{raw.error()};
  if (!*raw)
    return std::optional<send_outcome>{};
  auto out = decode_outcome(**raw);
  if (!out)
    return unexpected{out.error()};
  return std::optional<send_outcome>{std::move(*out)};
}

expected<history_page> read_history(const state_store& s, std::string_view dialogue,
                                    const history_query& q) {
  if (q.limit == 0 || q.limit > max_page_size)
    return unexpected{errc::invalid_argument, "history limit must be 1 to "
                                                + std::to_string(max_page_size) + ", not "
                                                + std::to_string(q.limit)};
  if (q.since < 0)
    return unexpected{errc::invalid_argument, "history since must not be negative"};
  const auto prefix = index_prefix(dialogue);
  std::string cursor;
  if (!q.cursor.empty()) {
    auto raw = from_hex(q.cursor);
    if (!raw || !raw->starts_with(prefix) || raw->size() <= prefix.size() + 9)
      return unexpected{errc::invalid_argument,
                        "history cursor '" + q.cursor + "' is not a cursor of this dialogue"};
    cursor = std::move(*raw);
  }
  std::vector<std::string> keys;
  bool more = false;
  auto take = [&](std::string_view k, std::string_view) {
    if (keys.size() == q.limit) {
      more = true;
      return false;
    }
    keys.emplace_back(k);
    return true;
  };
  expected<void> scanned;
  if (q.direction == history_query::order::newest_first) {
    const auto oldest = prefix + u64_key(static_cast<uint64_t>(q.since));
    scanned = s.scan_reverse(column::message_index, prefix, cursor,
                             [&](std::string_view k, std::string_view v) {
                               return k >= std::string_view{oldest} && take(k, v);
                             });
  } else {
    // Strictly after the cursor: the smallest key greater than it.
    auto start = cursor.empty() ? prefix + u64_key(static_cast<uint64_t>(q.since)) : cursor + '\0';
    scanned = s.scan(column::message_index, prefix, start, take);
  }
  if (!scanned)
    return unexpected{scanned.error()};
  history_page page;
  page.messages.reserve(keys.size());
  for (auto& k : keys) {
    auto m = load_message(s, message_key_of(k, prefix.size()));
    if (!m)
      return unexpected{m.error()};
    page.messages.push_back(std::move(*m));
  }
  if (more && !keys.empty())
    page.next_cursor = to_hex(keys.back());
  return page;
}

expected<std::vector<message>> read_inbox(const state_store& s, std::string_view agent,
                                          size_t limit) {
  if (limit == 0 || limit > max_page_size)
    return unexpected{errc::invalid_argument, "inbox limit must be 1 to "
                                                + std::to_string(max_page_size) + ", not "
                                                + std::to_string(limit)};
  const auto prefix = inbox_prefix(agent);
  std::vector<std::pair<uint64_t, std::string>> entries;
  auto scanned = s.scan(column::inbox, prefix, {}, [&](std::string_view k, std::string_view v) {
    entries.emplace_back(parse_u64_key(k.substr(prefix.size())), std::string{v});
    return entries.size() < limit;
  });
  if (!scanned)
    return unexpected{scanned.error()};
  std::vector<message> out;
  out.reserve(entries.size());
  for (auto& [delivery, key] : entries) {
    auto m = load_message(s, key);
    if (!m)
      return unexpected{m.error()};
    m->delivery = delivery;
    m->status = message_status::delivered;
    out.push_back(std::move(*m));
  }
  return out;
}

expected<std::vector<message>> load_inbox_entries(const state_store& s, std::string_view agent,
                                                  const std::vector<uint64_t>& deliveries) {
  std::vector<message> out;
  out.reserve(deliveries.size());
  for (auto d : deliveries) {
    auto key = s.get(column::inbox, inbox_key(agent, d));
    if (!key)
      return unexpected{key.error()};
    if (!*key)
      continue;
    auto m = load_message(s, **key);
    if (!m)
      return unexpected{m.error()};
    m->delivery = d;
    m->status = message_status::delivered;
    out.push_back(std::move(*m));
  }
  return out;
}

expected<uint64_t> scan_inboxes(const state_store& s, const inbox_visit& visit,
                                const std::function<void(const std::string&)>& orphan) {
  uint64_t highest = 0;
  std::optional<error> failure;
  auto scanned = s.scan(column::inbox, {}, {}, [&](std::string_view k, std::string_view v) {
    auto sep = k.find('\0');
    if (sep == std::string_view::npos || k.size() != sep + 9) {
      failure = error{errc::storage_failure, "inbox entry with a malformed key"};
      return false;
    }
    auto present = s.get(column::messages, v);
    if (present && !*present && orphan) {
      auto shown = std::string{v};
      std::replace(shown.begin(), shown.end(), '\0', '/');
      orphan("inbox entry " + std::to_string(parse_u64_key(k.substr(sep + 1))) + " of agent '"
             + std::string{k.substr(0, sep)} + "': its message '" + shown + "' is not stored");
      return true;
    }
    auto m = load_message(s, v);
    if (!m) {
      failure = m.error();
      return false;
    }
    m->delivery = parse_u64_key(k.substr(sep + 1));
    m->status = message_status::delivered;
    highest = std::max(highest, m->delivery);
    if (auto ok = visit(agent_id{k.substr(0, sep)}, std::move(*m)); !ok) {
      failure = ok.error();
      return false;
    }
    return true;
  });
  if (!scanned)
    return unexpected{scanned.error()};
  if (failure)
    return unexpected{*failure};
  return highest;
}

} // namespace parley::storage
