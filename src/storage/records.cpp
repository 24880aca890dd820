#include "parley/storage/records.hpp"

#include "parley/v1/storage.pb.h"

namespace parley::storage {

namespace pb = v1::storage;

namespace {

unexpected corrupt(std::string_view what, std::string why = "not a valid record") {
  return unexpected{errc::storage_failure,
                    "stored " + std::string{what} + " cannot be decoded: " + std::move(why)};
}

// Parses an enum name stored by this module; a bad one means a corrupt record.
template <class T>
bool parse_into(expected<T> parsed, T& out) {
  if (!parsed)
    return false;
  out = *parsed;
  return true;
}

void to_pb(const skill& s, pb::Skill& out) {
  out.set_id(s.id);
  out.set_name(s.name);
  for (auto& t : s.tags)
    out.add_tags(t);
  out.set_description(s.description);
}

} // namespace

// -- keys ---------------------------------------------------------------------

std::string u64_key(uint64_t x) {
  std::string out(8, '\0');
  for (int i = 7; i >= 0; --i) {
    out[static_cast<size_t>(i)] = static_cast<char>(x & 0xff);
    x >>= 8;
  }
  return out;
}

uint64_t parse_u64_key(std::string_view bytes) noexcept {
  uint64_t x = 0;
  for (size_t i = 0; i < 8 && i < bytes.size(); ++i)
    x = (x << 8) | static_cast<unsigned char>(bytes[i]);
  return x;
}

namespace {

constexpr char direct_kind = 'a';
constexpr char room_kind_tag = 'r';

// shard(owner) [kind] owner, with room for `extra` more bytes.
std::string owned(std::string_view owner, size_t extra = 0, char kind = 0) {
  const auto s = shard_of(owner);
  std::string k;
  k.reserve(3 + owner.size() + extra);
  k.push_back(static_cast<char>(s >> 8));
  k.push_back(static_cast<char>(s & 0xff));
  if (kind)
    k.push_back(kind);
  k.append(owner);
  return k;
}

// shard(owner) kind owner \0: the head of message and index keys.
std::string dialogue_head(char kind, std::string_view owner, size_t extra) {
  auto k = owned(owner, extra + 1, kind);
  k.push_back('\0');
  return k;
}

// Splits `rest` at its first \0: the part before, and `rest` moves past it.
std::optional<std::string_view> take_part(std::string_view& rest) {
  auto sep = rest.find('\0');
  if (sep == std::string_view::npos)
    return std::nullopt;
  auto part = rest.substr(0, sep);
  rest.remove_prefix(sep + 1);
  return part;
}

// The kind and owner of a message or index key; `rest` is what follows.
std::optional<address> parse_head(std::string_view key, std::string_view& rest) {
  if (key.size() < 4 || (key[2] != direct_kind && key[2] != room_kind_tag))
    return std::nullopt;
  rest = key.substr(3);
  auto owner = take_part(rest);
  if (!owner || owner->empty())
    return std::nullopt;
  return key[2] == room_kind_tag ? address::room(std::string{*owner}) : address::agent(std::string{*owner});
}

} // namespace

std::string shard_begin(uint32_t s) {
  std::string k(2, '\0');
  k[0] = static_cast<char>((s >> 8) & 0xff);
  k[1] = static_cast<char>(s & 0xff);
  return k;
}

shard_id shard_of_key(std::string_view key) noexcept {
  if (key.size() < 2)
    return 0;
  return static_cast<shard_id>(static_cast<unsigned char>(key[0]) << 8 | static_cast<unsigned char>(key[1]));
}

std::string agent_key(std::string_view agent) {
  return owned(agent);
}

std::string room_key(std::string_view room) {
  return owned(room);
}

std::string_view owner_of_key(std::string_view key) noexcept {
  return key.size() > 2 ? key.substr(2) : std::string_view{};
}

std::string member_prefix(std::string_view room) {
  auto k = owned(room, 1);
  k.push_back('\0');
  return k;
}

std::string member_key(std::string_view room, std::string_view agent) {
  auto k = member_prefix(room);
  k.append(agent);
  return k;
}

std::string message_key(const address& to, std::string_view from, std::string_view id) {
  auto k = dialogue_head(to.is_room() ? room_kind_tag : direct_kind, to.id, from.size() + 1 + id.size());
  k.append(from).push_back('\0');
  k.append(id);
  return k;
}

std::optional<message_key_parts> parse_message_key(std::string_view key) {
  std::string_view rest;
  auto to = parse_head(key, rest);
  if (!to)
    return std::nullopt;
  auto from = take_part(rest);
  if (!from || rest.empty())
    return std::nullopt;
  return message_key_parts{std::move(*to), *from, rest};
}

std::string inbox_prefix(std::string_view agent) {
  auto k = owned(agent, 9);
  k.push_back('\0');
  return k;
}

std::string inbox_key(std::string_view agent, uint64_t delivery) {
  return inbox_prefix(agent) + u64_key(delivery);
}

std::string room_index_prefix(std::string_view room) {
  return dialogue_head(room_kind_tag, room, 0);
}

std::string direct_index_prefix(std::string_view to, std::string_view from) {
  auto k = dialogue_head(direct_kind, to, from.size() + 1);
  k.append(from).push_back('\0');
  return k;
}

std::string index_key(const message& m) {
  // Time as unsigned big-endian: timestamps are positive ms since the epoch.
  const auto t = u64_key(static_cast<uint64_t>(m.sent_at));
  if (m.to.is_room()) {
    auto k = room_index_prefix(m.to.id);
    k.append(t).append(m.from).push_back('\0');
    k.append(m.id);
    return k;
  }
  auto k = direct_index_prefix(m.to.id, m.from);
  k.append(t).append(m.id);
  return k;
}

std::optional<index_entry> parse_index_key(std::string_view key) {
  std::string_view rest;
  auto to = parse_head(key, rest);
  if (!to)
    return std::nullopt;
  index_entry e;
  if (to->is_room()) {
    if (rest.size() < 8)
      return std::nullopt;
    e.at = static_cast<timestamp>(parse_u64_key(rest.substr(0, 8)));
    rest.remove_prefix(8);
    auto from = take_part(rest);
    if (!from)
      return std::nullopt;
    e.from = *from;
  } else {
    auto from = take_part(rest);
    if (!from || rest.size() < 8)
      return std::nullopt;
    e.from = *from;
    e.at = static_cast<timestamp>(parse_u64_key(rest.substr(0, 8)));
    rest.remove_prefix(8);
  }
  if (rest.empty())
    return std::nullopt;
  e.id = rest;
  e.to = std::move(*to);
  return e;
}

// -- agent --------------------------------------------------------------------

std::string encode(const agent_record& x) {
  pb::AgentRecord r;
  auto& m = x.man;
  r.set_id(m.id);
  r.set_display_name(m.display_name);
  r.set_bio(m.bio);
  r.set_status(std::string{to_string(m.status)});
  for (auto& a : m.activities)
    r.add_activities(a);
  for (auto& room : m.rooms)
    r.add_rooms(room);
  for (auto& s : m.skills)
    to_pb(s, *r.add_skills());
  r.set_capacity(m.capacity);
  r.set_last_updated(m.last_updated);
  r.set_online(m.online);
  r.set_last_seen(m.last_seen);
  auto* b = r.mutable_behavior();
  b->set_kind(std::string{to_string(x.behavior.k)});
  for (auto& [k, v] : x.behavior.script)
    (*b->mutable_script())[k] = v;
  b->set_seed(x.behavior.seed);
  b->set_reply_probability(x.behavior.reply_probability);
  b->set_messages_per_turn(x.behavior.messages_per_turn);
  b->set_rerequest_after_yield(x.behavior.rerequest_after_yield);
  r.set_next_message(x.next_message);
  return r.SerializeAsString();
}

expected<agent_record> decode_agent(std::string_view bytes) {
  // Reused: recovery decodes a million of these, and a fresh message would
  // allocate every field again before it is copied out.
  thread_local pb::AgentRecord r;
  r.Clear();
  if (!r.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())))
    return corrupt("agent");
  agent_record x;
  auto& m = x.man;
  m.id = r.id();
  m.display_name = r.display_name();
  m.bio = r.bio();
  if (!parse_into(parse_agent_status(r.status()), m.status))
    return corrupt("agent '" + r.id() + "'", "unknown status '" + r.status() + "'");
  m.activities.assign(r.activities().begin(), r.activities().end());
  m.rooms.assign(r.rooms().begin(), r.rooms().end());
  for (auto& s : r.skills())
    m.skills.push_back({s.id(), s.name(), {s.tags().begin(), s.tags().end()}, s.description()});
  m.capacity = r.capacity();
  m.last_updated = r.last_updated();
  m.online = r.online();
  m.last_seen = r.last_seen();
  auto& b = r.behavior();
  if (!parse_into(parse_behavior_kind(b.kind()), x.behavior.k))
    return corrupt("agent '" + r.id() + "'", "unknown behaviour '" + b.kind() + "'");
  x.behavior.script.insert(b.script().begin(), b.script().end());
  x.behavior.seed = b.seed();
  x.behavior.reply_probability = b.reply_probability();
  x.behavior.messages_per_turn = b.messages_per_turn();
  x.behavior.rerequest_after_yield = b.rerequest_after_yield();
  x.next_message = r.next_message();
  return x;
}

// -- room ---------------------------------------------------------------------

std::string encode(const room_record& x) {
  pb::RoomRecord r;
  auto& room = x.r;
  r.set_id(room.id);
  r.set_kind(std::string{to_string(room.kind)});
  r.set_topic(room.topic);
  r.set_created_by(room.created_by);
  for (auto& p : room.pair)
    r.add_pair(p);
  auto* rules = r.mutable_rules();
  rules->set_policy(std::string{to_string(room.rules.policy)});
  rules->set_max_messages_per_turn(room.rules.max_messages_per_turn);
  rules->set_turn_slot_ms(room.rules.turn_slot_ms);
  rules->set_max_rounds(room.rules.max_rounds);
  for (auto& [from, to] : room.rules.transitions) {
    auto& t = (*rules->mutable_transitions())[from];
    for (auto& next : to)
      t.add_next(next);
  }
  rules->set_seed(room.rules.seed);
  r.set_access(std::string{to_string(room.access)});
  r.set_created_at(room.created_at);
  r.set_last_activity(room.last_activity);
  r.set_open(room.open);
  return r.SerializeAsString();
}

expected<room_record> decode_room(std::string_view bytes) {
  pb::RoomRecord r;
  if (!r.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())))
    return corrupt("room");
  room_record x;
  auto& room = x.r;
  const auto what = "room '" + r.id() + "'";
  room.id = r.id();
  if (!parse_into(parse_room_kind(r.kind()), room.kind))
    return corrupt(what, "unknown kind '" + r.kind() + "'");
  room.topic = r.topic();
  room.created_by = r.created_by();
  room.pair.assign(r.pair().begin(), r.pair().end());
  for (auto& pm : r.members()) {
    room_member m;
    m.id = pm.id();
    if (!parse_into(parse_room_role(pm.role()), m.role))
      return corrupt(what, "unknown role '" + pm.role() + "'");
    m.joined_at = pm.joined_at();
    room.members.push_back(std::move(m));
  }
  auto& rules = r.rules();
  if (!parse_into(parse_speaker_policy(rules.policy()), room.rules.policy))
    return corrupt(what, "unknown speaker policy '" + rules.policy() + "'");
  room.rules.max_messages_per_turn = rules.max_messages_per_turn();
  room.rules.turn_slot_ms = rules.turn_slot_ms();
  room.rules.max_rounds = rules.max_rounds();
  for (auto& [from, t] : rules.transitions())
    room.rules.transitions[from] = {t.next().begin(), t.next().end()};
  room.rules.seed = rules.seed();
  if (!parse_into(parse_room_access(r.access()), room.access))
    return corrupt(what, "unknown access '" + r.access() + "'");
  room.created_at = r.created_at();
  room.last_activity = r.last_activity();
  room.open = r.open();
  for (auto& [who, role] : r.invitations()) {
    room_role rr{};
    if (!parse_into(parse_room_role(role), rr))
      return corrupt(what, "unknown invitation role '" + role + "'");
    x.invitations[who] = rr;
  }
  return x;
}

// -- members and erasures -----------------------------------------------------

std::string encode(const member_record& x) {
  pb::MemberRecord r;
  r.set_role(std::string{to_string(x.role)});
  r.set_joined_at(x.joined_at);
  r.set_position(x.position);
  r.set_invited(x.invited);
  return r.SerializeAsString();
}

expected<member_record> decode_member(std::string_view bytes) {
  pb::MemberRecord r;
  if (!r.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())))
    return corrupt("room member");
  member_record x;
  if (!parse_into(parse_room_role(r.role()), x.role))
    return corrupt("room member", "unknown role '" + r.role() + "'");
  x.joined_at = r.joined_at();
  x.position = r.position();
  x.invited = r.invited();
  return x;
}

std::string encode(const erasure_record& x) {
  pb::ErasureRecord r;
  r.set_agent(x.agent);
  r.set_erased_at(x.erased_at);
  r.set_erased_by(x.erased_by);
  for (auto& f : x.fields)
    r.add_fields(f);
  r.set_messages(x.messages);
  r.set_inbox_entries(x.inbox_entries);
  r.set_events(x.events);
  return r.SerializeAsString();
}

expected<erasure_record> decode_erasure(std::string_view bytes) {
  pb::ErasureRecord r;
  if (!r.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())))
    return corrupt("erasure");
  erasure_record x;
  x.agent = r.agent();
  x.erased_at = r.erased_at();
  x.erased_by = r.erased_by();
  x.fields.assign(r.fields().begin(), r.fields().end());
  x.messages = r.messages();
  x.inbox_entries = r.inbox_entries();
  x.events = r.events();
  return x;
}

// -- moderator ----------------------------------------------------------------

std::string encode(const moderator_record& x) {
  pb::ModeratorRecord r;
  if (auto& c = x.state.current) {
    r.set_speaker(c->speaker);
    r.set_turn(c->turn);
    r.set_granted_at(c->granted_at);
    r.set_round(c->round);
  }
  r.set_messages_in_turn(x.state.messages_in_turn);
  for (auto& w : x.state.waiting) {
    auto* pw = r.add_waiting();
    pw->set_who(w.who);
    pw->set_requested_at(w.requested_at);
  }
  r.set_turns_granted(x.state.turns_granted);
  r.set_rounds(x.state.rounds);
  r.set_closed(x.state.closed);
  if (x.last_speaker)
    r.set_last_speaker(*x.last_speaker);
  for (auto& s : x.spoken_this_round)
    r.add_spoken_this_round(s);
  r.set_rng_state(x.rng_state);
  r.set_rr_last(x.rr_last ? *x.rr_last + 1 : 0);
  return r.SerializeAsString();
}

expected<moderator_record> decode_moderator(std::string_view bytes) {
  pb::ModeratorRecord r;
  if (!r.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())))
    return corrupt("moderator");
  moderator_record x;
  if (!r.speaker().empty())
    x.state.current = turn_grant{r.speaker(), r.turn(), r.granted_at(), 0, r.round()};
  x.state.messages_in_turn = r.messages_in_turn();
  for (auto& w : r.waiting())
    x.state.waiting.push_back({w.who(), w.requested_at()});
  x.state.turns_granted = r.turns_granted();
  x.state.rounds = r.rounds();
  x.state.closed = r.closed();
  if (!r.last_speaker().empty())
    x.last_speaker = r.last_speaker();
  x.spoken_this_round.assign(r.spoken_this_round().begin(), r.spoken_this_round().end());
  x.rng_state = r.rng_state();
  if (r.rr_last() != 0)
    x.rr_last = static_cast<size_t>(r.rr_last() - 1);
  return x;
}

// -- attention ----------------------------------------------------------------

std::string encode(const attention_record& x) {
  pb::AttentionRecord r;
  for (auto& [k, w] : x.importance)
    (*r.mutable_importance())[k] = w;
  for (auto& [k, w] : x.relationships)
    (*r.mutable_relationships())[k] = w;
  return r.SerializeAsString();
}

expected<attention_record> decode_attention(std::string_view bytes) {
  pb::AttentionRecord r;
  if (!r.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())))
    return corrupt("attention");
  attention_record x;
  x.importance.insert(r.importance().begin(), r.importance().end());
  x.relationships.insert(r.relationships().begin(), r.relationships().end());
  return x;
}

// -- message ------------------------------------------------------------------

std::string encode(const message& m) {
  pb::MessageRecord r;
  r.set_id(m.id);
  r.set_from(m.from);
  r.set_to_kind(m.to.is_room() ? "room" : "agent");
  r.set_to(m.to.id);
  r.set_sent_at(m.sent_at);
  r.set_type(std::string{to_string(m.type)});
  r.set_content(m.content);
  r.set_reply_to(m.reply_to);
  r.set_status(std::string{to_string(m.status)});
  r.set_deadline(m.deadline);
  r.set_receipt(m.receipt);
  r.set_hops(m.hops);
  r.set_erased(m.erased);
  return r.SerializeAsString();
}

expected<message> decode_message(std::string_view bytes) {
  pb::MessageRecord r;
  if (!r.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())))
    return corrupt("message");
  message m;
  const auto what = "message '" + r.from() + "/" + r.id() + "'";
  m.id = r.id();
  m.from = r.from();
  if (r.to_kind() == "room")
    m.to = address::room(r.to());
  else if (r.to_kind() == "agent")
    m.to = address::agent(r.to());
  else
    return corrupt(what, "unknown recipient kind '" + r.to_kind() + "'");
  m.sent_at = r.sent_at();
  if (!parse_into(parse_content_type(r.type()), m.type))
    return corrupt(what, "unknown content type '" + r.type() + "'");
  m.content = r.content();
  m.reply_to = r.reply_to();
  if (!parse_into(parse_message_status(r.status()), m.status))
    return corrupt(what, "unknown status '" + r.status() + "'");
  m.deadline = r.deadline();
  m.receipt = r.receipt();
  m.hops = r.hops();
  m.erased = r.erased();
  return m;
}

bool message_erased(std::string_view bytes) {
  pb::MessageRecord r;
  return r.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())) && r.erased();
}

// -- event --------------------------------------------------------------------

std::string encode(const event& e) {
  pb::EventRecord r;
  r.set_seq(e.seq);
  r.set_kind(std::string{to_string(e.kind)});
  r.set_at(e.at);
  r.set_agent(e.agent);
  r.set_room(e.room);
  r.set_detail(e.detail);
  return r.SerializeAsString();
}

expected<event> decode_event(std::string_view bytes) {
  pb::EventRecord r;
  if (!r.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())))
    return corrupt("event");
  event e;
  e.seq = r.seq();
  if (!parse_into(parse_event_kind(r.kind()), e.kind))
    return corrupt("event " + std::to_string(r.seq()), "unknown kind '" + r.kind() + "'");
  e.at = r.at();
  e.agent = r.agent();
  e.room = r.room();
  e.detail = r.detail();
  return e;
}

} // namespace parley::storage
