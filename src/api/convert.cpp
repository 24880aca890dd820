#include "api/convert.hpp"

#include <string>

namespace parley::api {

namespace {

unexpected bad_enum(const char* field, int value) {
  return unexpected{errc::invalid_argument,
                    std::string{field} + ": unknown value " + std::to_string(value)};
}

} // namespace

// -- agents -------------------------------------------------------------------

void to_pb(const manifest& m, pb::Manifest& out) {
  out.set_id(m.id);
  out.set_display_name(m.display_name);
  out.set_bio(m.bio);
  out.set_status(static_cast<pb::AgentStatus>(static_cast<int>(m.status) + 1));
  for (auto& a : m.activities)
    out.add_activities(a);
  out.set_focus(m.focus);
  for (auto& r : m.rooms)
    out.add_rooms(r);
  for (auto& s : m.skills) {
    auto* ps = out.add_skills();
    ps->set_id(s.id);
    ps->set_name(s.name);
    for (auto& t : s.tags)
      ps->add_tags(t);
    ps->set_description(s.description);
  }
  out.set_capacity(m.capacity);
  out.set_last_updated(m.last_updated);
  out.set_online(m.online);
  out.set_last_seen(m.last_seen);
}

expected<std::optional<agent_status>> status_filter(pb::AgentStatus s) {
  if (s == pb::AGENT_STATUS_UNSPECIFIED)
    return std::optional<agent_status>{};
  if (s < pb::AGENT_STATUS_ACTIVE || s > pb::AGENT_STATUS_RETIRED)
    return bad_enum("status", s);
  return std::optional<agent_status>{static_cast<agent_status>(s - 1)};
}

expected<manifest> from_pb(const pb::Manifest& p, bool introducing) {
  manifest m;
  m.id = p.id();
  m.display_name = p.display_name();
  m.bio = p.bio();
  auto st = status_filter(p.status());
  if (!st)
    return unexpected{errc::invalid_argument, "manifest." + st.error().message};
  if (!*st && !introducing)
    return unexpected{errc::invalid_argument, "manifest.status: required (active, busy or idle)"};
  m.status = st->value_or(agent_status::active);
  m.activities.assign(p.activities().begin(), p.activities().end());
  for (auto& ps : p.skills())
    m.skills.push_back({ps.id(), ps.name(), {ps.tags().begin(), ps.tags().end()}, ps.description()});
  m.capacity = p.capacity() == 0 && introducing ? manifest{}.capacity : p.capacity();
  m.online = introducing ? true : p.online();
  m.last_seen = p.last_seen();
  return m;
}

expected<behavior_spec> from_pb(const pb::Behavior& b) {
  behavior_spec s;
  switch (b.kind()) {
    case pb::Behavior::KIND_UNSPECIFIED:
    case pb::Behavior::KIND_EXTERNAL: s.k = behavior_spec::kind::external; break;
    case pb::Behavior::KIND_SILENT: s.k = behavior_spec::kind::silent; break;
    case pb::Behavior::KIND_ECHO: s.k = behavior_spec::kind::echo; break;
    case pb::Behavior::KIND_SCRIPTED: s.k = behavior_spec::kind::scripted; break;
    case pb::Behavior::KIND_CHATTY: s.k = behavior_spec::kind::chatty; break;
    default: return bad_enum("behavior.kind", b.kind());
  }
  s.script.insert(b.script().begin(), b.script().end());
  if (b.seed() != 0)
    s.seed = b.seed();
  if (b.reply_probability() < 0 || b.reply_probability() > 1)
    return unexpected{errc::invalid_argument, "behavior.reply_probability: must be 0 to 1"};
  if (s.k == behavior_spec::kind::chatty && b.reply_probability() > 0)
    s.reply_probability = b.reply_probability();
  if (b.messages_per_turn() != 0)
    s.messages_per_turn = b.messages_per_turn();
  return s;
}

void to_pb(const behavior_spec& b, pb::Behavior& out) {
  switch (b.k) {
    case behavior_spec::kind::external: out.set_kind(pb::Behavior::KIND_EXTERNAL); break;
    case behavior_spec::kind::silent: out.set_kind(pb::Behavior::KIND_SILENT); break;
    case behavior_spec::kind::echo: out.set_kind(pb::Behavior::KIND_ECHO); break;
    case behavior_spec::kind::scripted: out.set_kind(pb::Behavior::KIND_SCRIPTED); break;
    case behavior_spec::kind::chatty: out.set_kind(pb::Behavior::KIND_CHATTY); break;
  }
  out.mutable_script()->insert(b.script.begin(), b.script.end());
  out.set_seed(b.seed);
  out.set_reply_probability(b.reply_probability);
  out.set_messages_per_turn(b.messages_per_turn);
}

// -- rooms --------------------------------------------------------------------

pb::RoomRole to_pb(room_role r) {
  return static_cast<pb::RoomRole>(static_cast<int>(r) + 1);
}

expected<room_role> from_pb(pb::RoomRole r, room_role fallback) {
  if (r == pb::ROOM_ROLE_UNSPECIFIED)
    return fallback;
  if (r < pb::ROOM_ROLE_GUEST || r > pb::ROOM_ROLE_OWNER)
    return bad_enum("role", r);
  return static_cast<room_role>(r - 1);
}

void to_pb(const room& r, pb::Room& out) {
  out.set_id(r.id);
  out.set_kind(r.kind == room_kind::direct ? pb::ROOM_KIND_DIRECT : pb::ROOM_KIND_GROUP);
  out.set_topic(r.topic);
  out.set_created_by(r.created_by);
  for (auto& m : r.members) {
    auto* pm = out.add_members();
    pm->set_agent(m.id);
    pm->set_role(to_pb(m.role));
    pm->set_joined_at(m.joined_at);
  }
  auto* rules = out.mutable_rules();
  rules->set_policy(static_cast<pb::SpeakerPolicy>(static_cast<int>(r.rules.policy) + 1));
  rules->set_max_messages_per_turn(r.rules.max_messages_per_turn);
  rules->set_turn_slot_ms(r.rules.turn_slot_ms);
  rules->set_max_rounds(r.rules.max_rounds);
  for (auto& [who, next] : r.rules.transitions) {
    auto& allowed = (*rules->mutable_transitions())[who];
    for (auto& n : next)
      allowed.add_agents(n);
  }
  rules->set_seed(r.rules.seed);
  out.set_invite_only(r.access == room_access::invite_only);
  out.set_created_at(r.created_at);
  out.set_last_activity(r.last_activity);
  out.set_open(r.open);
  out.set_member_count(static_cast<uint32_t>(r.size()));
}

expected<speaker_rules> from_pb(const pb::SpeakerRules& p) {
  speaker_rules r;
  if (p.policy() == pb::SPEAKER_POLICY_UNSPECIFIED)
    r.policy = speaker_policy::none;
  else if (p.policy() >= pb::SPEAKER_POLICY_NONE && p.policy() <= pb::SPEAKER_POLICY_RANDOM)
    r.policy = static_cast<speaker_policy>(p.policy() - 1);
  else
    return bad_enum("rules.policy", p.policy());
  r.max_messages_per_turn = p.max_messages_per_turn();
  r.turn_slot_ms = p.turn_slot_ms();
  r.max_rounds = p.max_rounds();
  for (auto& [who, next] : p.transitions())
    r.transitions[who] = {next.agents().begin(), next.agents().end()};
  r.seed = p.seed();
  return r;
}

// -- messages -----------------------------------------------------------------

pb::MessageStatus to_pb(message_status s) {
  return static_cast<pb::MessageStatus>(static_cast<int>(s) + 1);
}

void to_pb(const message& m, pb::Message& out) {
  out.set_id(m.id);
  out.set_from(m.from);
  if (m.to.is_room())
    out.set_to_room(m.to.id);
  else
    out.set_to_agent(m.to.id);
  out.set_sent_at(m.sent_at);
  out.set_content_type(std::string{to_string(m.type)});
  out.set_content(m.content);
  out.set_reply_to(m.reply_to);
  out.set_status(to_pb(m.status));
  out.set_deadline(m.deadline);
  out.set_receipt(m.receipt);
  out.set_delivery(m.delivery);
  out.set_hops(m.hops);
  out.set_erased(m.erased);
}

expected<message> from_pb(const pb::Message& p) {
  message m;
  m.id = p.id();
  m.from = p.from();
  switch (p.to_case()) {
    case pb::Message::kToAgent: m.to = address::agent(p.to_agent()); break;
    case pb::Message::kToRoom: m.to = address::room(p.to_room()); break;
    default:
      return unexpected{errc::invalid_argument, "message.to: set to_agent or to_room"};
  }
  if (!p.content_type().empty()) {
    auto t = parse_content_type(p.content_type());
    if (!t)
      return unexpected{errc::invalid_argument,
                        "message.content_type: '" + p.content_type() + "' is not text or json"};
    m.type = *t;
  }
  m.content = p.content();
  m.reply_to = p.reply_to();
  if (p.deadline() < 0)
    return unexpected{errc::invalid_argument, "message.deadline: must not be negative"};
  m.deadline = p.deadline();
  m.receipt = p.receipt();
  return m;
}

// -- turns and events -----------------------------------------------------------

void to_pb(const turn_grant& g, pb::TurnGrant& out) {
  out.set_speaker(g.speaker);
  out.set_turn(g.turn);
  out.set_granted_at(g.granted_at);
  out.set_deadline(g.deadline);
  out.set_round(g.round);
}

void to_pb(const turn_state& t, pb::TurnState& out) {
  if (t.current)
    to_pb(*t.current, *out.mutable_current());
  out.set_messages_in_turn(t.messages_in_turn);
  for (auto& w : t.waiting)
    out.add_waiting(w.who);
  out.set_turns_granted(t.turns_granted);
  out.set_rounds(t.rounds);
  out.set_closed(t.closed);
}

void to_pb(const event& e, pb::Event& out) {
  out.set_offset(e.seq);
  out.set_kind(std::string{to_string(e.kind)});
  out.set_at(e.at);
  out.set_agent(e.agent);
  out.set_room(e.room);
  out.set_detail(e.detail);
  out.set_node(e.node);
}

void to_pb(const erasure& e, pb::Erasure& out) {
  out.set_agent(e.agent);
  out.set_erased_at(e.erased_at);
  out.set_erased_by(e.erased_by);
  for (auto& f : e.fields)
    out.add_fields(f);
  out.set_messages(e.messages);
  out.set_inbox_entries(e.inbox_entries);
  out.set_events(e.events);
}

erasure from_pb(const pb::Erasure& p) {
  erasure e;
  e.agent = p.agent();
  e.erased_at = p.erased_at();
  e.erased_by = p.erased_by();
  e.fields.assign(p.fields().begin(), p.fields().end());
  e.messages = p.messages();
  e.inbox_entries = p.inbox_entries();
  e.events = p.events();
  return e;
}

expected<event> from_pb(const pb::Event& p) {
  auto kind = parse_event_kind(p.kind());
  if (!kind)
    return unexpected{kind.error()};
  event e;
  e.seq = p.offset();
  e.kind = *kind;
  e.at = p.at();
  e.agent = p.agent();
  e.room = p.room();
  e.detail = p.detail();
  e.node = p.node();
  return e;
}

} // namespace parley::api
