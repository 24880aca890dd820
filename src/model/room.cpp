#include "parley/model/room.hpp"

#include "enum_names.hpp"
#include "parley/model/limits.hpp"
#include "parley/model/random.hpp"

namespace parley {

namespace {

constexpr detail::enum_table<room_kind, 2> kind_names{{
  {room_kind::direct, "direct"},
  {room_kind::group, "group"},
}};

constexpr detail::enum_table<room_role, 4> role_names{{
  {room_role::guest, "guest"},
  {room_role::member, "member"},
  {room_role::admin, "admin"},
  {room_role::owner, "owner"},
}};

constexpr detail::enum_table<speaker_policy, 5> policy_names{{
  {speaker_policy::none, "none"},
  {speaker_policy::fifo, "fifo"},
  {speaker_policy::round_robin, "round_robin"},
  {speaker_policy::priority, "priority"},
  {speaker_policy::random, "random"},
}};

constexpr detail::enum_table<room_access, 2> access_names{{
  {room_access::open, "open"},
  {room_access::invite_only, "invite_only"},
}};

} // namespace

std::string_view to_string(room_kind x) noexcept {
  return detail::enum_name(kind_names, x);
}
std::string_view to_string(room_role x) noexcept {
  return detail::enum_name(role_names, x);
}
std::string_view to_string(speaker_policy x) noexcept {
  return detail::enum_name(policy_names, x);
}
std::string_view to_string(room_access x) noexcept {
  return detail::enum_name(access_names, x);
}
expected<room_kind> parse_room_kind(std::string_view text) {
  return detail::enum_parse(kind_names, text, "room kind");
}
expected<room_role> parse_room_role(std::string_view text) {
  return detail::enum_parse(role_names, text, "room role");
}
expected<speaker_policy> parse_speaker_policy(std::string_view text) {
  return detail::enum_parse(policy_names, text, "speaker policy");
}
expected<room_access> parse_room_access(std::string_view text) {
  return detail::enum_parse(access_names, text, "room access");
}

expected<void> validate(const speaker_rules& r) {
  if (r.turn_slot_ms < 0 || r.turn_slot_ms > limits::max_turn_slot_ms)
    return unexpected{errc::invalid_argument,
                      "speaker rules: turn_slot_ms is " + std::to_string(r.turn_slot_ms)
                        + ", must be 0 (no limit) to " + std::to_string(limits::max_turn_slot_ms)
                        + " (a day)"};
  for (auto& [from, to] : r.transitions) {
    if (auto ok = validate_agent_id(from); !ok)
      return unexpected{errc::invalid_argument, "speaker rules: transitions: " + ok.error().message};
    for (auto& next : to)
      if (auto ok = validate_agent_id(next); !ok)
        return unexpected{errc::invalid_argument,
                          "speaker rules: transitions of '" + from + "': " + ok.error().message};
  }
  return {};
}

const room_member* room::find(std::string_view who) const {
  for (auto& m : members)
    if (m.id == who)
      return &m;
  return nullptr;
}

expected<void> validate(const room& r) {
  if (auto ok = validate_room_id(r.id); !ok)
    return ok;
  if (r.topic.size() > limits::max_topic)
    return unexpected{errc::invalid_argument, "room '" + r.id + "': topic is "
                                                + std::to_string(r.topic.size())
                                                + " bytes, the limit is 512"};
  if (r.members.size() > limits::max_members)
    return unexpected{errc::invalid_argument, "room '" + r.id + "' has more than 100000 members"};
  if (r.kind == room_kind::direct && r.members.size() != 2)
    return unexpected{errc::invalid_argument, "direct room '" + r.id + "' must have exactly 2 members, has "
                                                + std::to_string(r.members.size())};
  if (auto ok = validate(r.rules); !ok)
    return unexpected{errc::invalid_argument, "room '" + r.id + "': " + ok.error().message};
  return {};
}

room_id direct_room_id(std::string_view a, std::string_view b) {
  if (b < a)
    std::swap(a, b);
  // FNV-1a 64 over "a\0b": stable across runs and builds, so the same pair
  // always maps to the same id (the node still checks for collisions).
  uint64_t h = fnv1a(b, fnv1a(std::string_view{"\0", 1}, fnv1a(a)));
  static constexpr char hex[] = "0123456789abcdef";
  std::string id = "dm-";
  for (int shift = 60; shift >= 0; shift -= 4)
    id += hex[(h >> shift) & 0xf];
  return id;
}

} // namespace parley
