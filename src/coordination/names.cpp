// Names of the coordination enums (one table each: to_string and parse
// cannot drift).

#include "model/enum_names.hpp"
#include "parley/coordination/coordination.hpp"

namespace parley::coordination {

namespace {

constexpr detail::enum_table<member_state, 5> states{{
  {member_state::joining, "joining"},
  {member_state::up, "up"},
  {member_state::suspect, "suspect"},
  {member_state::down, "down"},
  {member_state::leaving, "leaving"},
}};

constexpr detail::enum_table<change::kind, 5> kinds{{
  {change::kind::member_joined, "member_joined"},
  {change::kind::member_changed, "member_changed"},
  {change::kind::member_left, "member_left"},
  {change::kind::shard_changed, "shard_changed"},
  {change::kind::lease_lost, "lease_lost"},
}};

} // namespace

std::string_view to_string(member_state s) noexcept {
  return detail::enum_name(states, s);
}

expected<member_state> parse_member_state(std::string_view text) {
  return detail::enum_parse(states, text, "member state");
}

std::string_view to_string(change::kind k) noexcept {
  return detail::enum_name(kinds, k);
}

} // namespace parley::coordination
