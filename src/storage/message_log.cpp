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

// Shows a key with its \0 separators as '/' and its shard as a number.
std::string shown(std::string_view key) {
  std::string out = std::to_string(shard_of_key(key)) + ":";
  out.append(key.substr(std::min<size_t>(2, key.size())));
  std::replace(out.begin(), out.end(), '\0', '/');
  return out;
}

expected<message> load_message(const state_store& s, std::string_view key) {
  auto raw = s.get(column::messages, key);
  if (!raw)
    return unexpected{raw.error()};
  if (!*raw)
    return unexpected{errc::storage_failure,
                      "message '" + shown(key) + "' is referenced but missing from the store"};
  return decode_message(**raw);
}

// -- history ------------------------------------------------------------------
// A history position is (time, from, id): the order of a room's index and
// of a direct dialogue's two merged directions. A cursor is the hex of
// dialogue \0 time(8) from \0 id, so a cursor of another dialogue is told.

struct position {
  timestamp at = 0;
  std::string from;
  std::string id;

  friend auto operator<=>(const position&, const position&) = default;
};

std::string dialogue_name(std::string_view room) {
  std::string d = "room:";
  return d.append(room);
}

std::string dialogue_name(std::string_view a, std::string_view b) {
  if (b < a)
    std::swap(a, b);
  std::string d = "direct:";
  d.append(a).push_back('|');
  return d.append(b);
}

std::string encode_cursor(std::string_view dialogue, const position& p) {
  std::string raw{dialogue};
  raw.push_back('\0');
  raw.append(u64_key(static_cast<uint64_t>(p.at))).append(p.from).push_back('\0');
  raw.append(p.id);
  return to_hex(raw);
}

expected<std::optional<position>> decode_cursor(std::string_view dialogue, const std::string& text) {
  if (text.empty())
    return std::optional<position>{};
  auto bad = [&] {
    return unexpected{errc::invalid_argument, "history cursor '" + text + "' is not a cursor of this dialogue"};
  };
  auto raw = from_hex(text);
  if (!raw || raw->size() < dialogue.size() + 1 + 8 + 2 || std::string_view{*raw}.substr(0, dialogue.size()) != dialogue
      || (*raw)[dialogue.size()] != '\0')
    return bad();
  std::string_view rest{*raw};
  rest.remove_prefix(dialogue.size() + 1);
  position p;
  p.at = static_cast<timestamp>(parse_u64_key(rest.substr(0, 8)));
  rest.remove_prefix(8);
  auto sep = rest.find('\0');
  if (sep == std::string_view::npos || sep + 1 == rest.size())
    return bad();
  p.from = rest.substr(0, sep);
  p.id = rest.substr(sep + 1);
  return std::optional<position>{std::move(p)};
}

expected<void> check_query(const history_query& q) {
  if (q.limit == 0 || q.limit > max_page_size)
    return unexpected{errc::invalid_argument, "history limit must be 1 to "
                                                + std::to_string(max_page_size) + ", not "
                                                + std::to_string(q.limit)};
  if (q.since < 0)
    return unexpected{errc::invalid_argument, "history since must not be negative"};
  return {};
}

// One index range of a dialogue: a room's, or one direction of a direct
// dialogue (its sender fixed). Reads up to `want` entries past the cursor
// in the query's direction.
struct index_range {
  std::string prefix;
  bool room = true;
  std::string from; // the fixed sender of a direct range

  // The key of position `p` in this range, or where it would be.
  std::string key_at(timestamp at, std::string_view from_, std::string_view id) const {
    auto k = prefix + u64_key(static_cast<uint64_t>(at));
    if (room)
      k.append(from_).push_back('\0');
    return k.append(id);
  }

  expected<void> read(const state_store& s, const history_query& q, const std::optional<position>& c,
                      size_t want, std::vector<std::pair<position, std::string>>& out) const {
    auto take = [&](std::string_view k, std::string_view) {
      auto e = parse_index_key(k);
      if (!e)
        return true; // not ours (cannot happen within the prefix)
      if (e->at < q.since) // newest first: everything after is older still
        return false;
      out.push_back({position{e->at, std::string{e->from}, std::string{e->id}}, std::string{k}});
      return out.size() < want;
    };
    const auto since = static_cast<uint64_t>(q.since);
    const auto t = c ? static_cast<uint64_t>(c->at) : 0;
    if (q.direction == history_query::order::newest_first) {
      // The last key before the cursor's position in (time, from, id) order.
      std::string before;
      if (c) {
        if (room || from == c->from)
          before = key_at(c->at, c->from, c->id);
        else if (from < c->from)
          before = prefix + u64_key(t + 1); // same time, earlier sender: still before
        else
          before = prefix + u64_key(t);
      }
      return s.scan_reverse(column::message_index, prefix, before, take);
    }
    // Oldest first: the first key after the cursor's position.
    std::string start = prefix + u64_key(since);
    if (c) {
      if (room || from == c->from)
        start = key_at(c->at, c->from, c->id) + '\0';
      else if (from < c->from)
        start = prefix + u64_key(t + 1);
      else
        start = prefix + u64_key(t);
    }
    return s.scan(column::message_index, prefix, start, take);
  }
};

// A page from `ranges` merged in (time, from, id) order.
expected<history_page> read_ranges(const state_store& s, std::string_view dialogue,
                                   const std::vector<index_range>& ranges, const history_query& q) {
  if (auto ok = check_query(q); !ok)
    return unexpected{ok.error()};
  auto c = decode_cursor(dialogue, q.cursor);
  if (!c)
    return unexpected{c.error()};
  std::vector<std::pair<position, std::string>> found;
  for (auto& r : ranges) {
    std::vector<std::pair<position, std::string>> part;
    if (auto ok = r.read(s, q, *c, q.limit + 1, part); !ok)
      return unexpected{ok.error()};
    found.insert(found.end(), std::make_move_iterator(part.begin()), std::make_move_iterator(part.end()));
  }
  const bool newest_first = q.direction == history_query::order::newest_first;
  std::sort(found.begin(), found.end(), [&](auto& x, auto& y) {
    return newest_first ? y.first < x.first : x.first < y.first;
  });
  const bool more = found.size() > q.limit;
  if (more)
    found.resize(q.limit);
  history_page page;
  page.messages.reserve(found.size());
  for (auto& [pos, key] : found) {
    auto e = parse_index_key(key);
    auto m = load_message(s, message_key(e->to, e->from, e->id));
    if (!m)
      return unexpected{m.error()};
    // A record whose time differs was replaced by a later send under the
    // same key (after the idempotency window): this entry is stale.
    if (m->sent_at != pos.at)
      continue;
    page.messages.push_back(std::move(*m));
  }
  if (more && !found.empty())
    page.next_cursor = encode_cursor(dialogue, found.back().first);
  return page;
}

} // namespace

void add_message(write_batch& b, const message& m, const std::vector<agent_id>& recipients,
                 uint64_t delivery) {
  auto key = message_key(m.to, m.from, m.id);
  b.put(column::message_index, index_key(m), {});
  for (auto& r : recipients)
    b.put(column::inbox, inbox_key(r, delivery), key);
  b.put(column::messages, std::move(key), encode(m));
}

void guard_idempotency(write_batch& b, const message& m, timestamp not_before) {
  b.require_absent(column::messages, message_key(m.to, m.from, m.id), [not_before](std::string_view v) {
    auto o = outcome_of_record(v);
    return !o || o->at >= not_before;
  });
}

expected<send_outcome> outcome_of_record(std::string_view record) {
  auto m = decode_message(record);
  if (!m)
    return unexpected{m.error()};
  return send_outcome{message_status::delivered, m->sent_at};
}

void add_inbox_removal(write_batch& b, std::string_view agent, uint64_t delivery) {
  b.erase(column::inbox, inbox_key(agent, delivery));
}

expected<std::optional<send_outcome>> find_outcome(const state_store& s, std::string_view key) {
  auto raw = s.get(column::messages, key);
  if (!raw)
    return unexpected{raw.error()};
  if (!*raw)
    return std::optional<send_outcome>{};
  auto out = outcome_of_record(**raw);
  if (!out)
    return unexpected{out.error()};
  return std::optional<send_outcome>{std::move(*out)};
}

expected<history_page> read_room_history(const state_store& s, std::string_view room,
                                         const history_query& q) {
  return read_ranges(s, dialogue_name(room), {index_range{room_index_prefix(room), true, {}}}, q);
}

expected<history_page> read_direct_history(const state_store& s, std::string_view a, std::string_view b,
                                           const history_query& q) {
  std::vector<index_range> ranges{index_range{direct_index_prefix(b, a), false, std::string{a}}};
  if (a != b)
    ranges.push_back(index_range{direct_index_prefix(a, b), false, std::string{b}});
  return read_ranges(s, dialogue_name(a, b), ranges, q);
}

std::string direct_history_cursor(std::string_view a, std::string_view b, const message& m) {
  return encode_cursor(dialogue_name(a, b), position{m.sent_at, m.from, m.id});
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
                                const std::function<void(const std::string&)>& orphan, std::string_view prefix) {
  uint64_t highest = 0;
  std::optional<error> failure;
  auto scanned = s.scan(column::inbox, prefix, {}, [&](std::string_view k, std::string_view v) {
    // shard(2) agent \0 delivery(8); the shard bytes may hold a \0.
    auto sep = k.find('\0', 2);
    if (k.size() < 3 || sep == std::string_view::npos || k.size() != sep + 9) {
      failure = error{errc::storage_failure, "inbox entry with a malformed key"};
      return false;
    }
    const auto delivery = parse_u64_key(k.substr(sep + 1));
    const agent_id who{k.substr(2, sep - 2)};
    auto raw = s.get(column::messages, v);
    if (!raw) {
      failure = raw.error();
      return false;
    }
    if (!*raw) {
      if (orphan) {
        orphan("inbox entry " + std::to_string(delivery) + " of agent '" + who + "': its message '"
               + shown(v) + "' is not stored");
        return true;
      }
      failure = error{errc::storage_failure, "message '" + shown(v) + "' is referenced but missing from the store"};
      return false;
    }
    auto m = decode_message(**raw);
    if (!m) {
      failure = m.error();
      return false;
    }
    m->delivery = delivery;
    m->status = message_status::delivered;
    highest = std::max(highest, m->delivery);
    if (auto ok = visit(who, std::move(*m)); !ok) {
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

expected<void> scan_sent_messages(const state_store& s, std::string_view from, const scan_fn& fn) {
  return s.scan(column::messages, {}, {}, [&](std::string_view k, std::string_view v) {
    auto parts = parse_message_key(k);
    return !parts || parts->from != from || fn(k, v);
  });
}

} // namespace parley::storage
