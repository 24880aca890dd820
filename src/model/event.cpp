#include "parley/model/event.hpp"

#include "enum_names.hpp"

namespace parley {

namespace {

constexpr detail::enum_table<topic, 5> topic_names{{
  {topic::agent_lifecycle, "agent_lifecycle"},
  {topic::agent_status, "agent_status"},
  {topic::room, "room"},
  {topic::turn, "turn"},
  {topic::message, "message"},
}};

constexpr detail::enum_table<event_kind, 18> kind_names{{
  {event_kind::agent_introduced, "agent_introduced"},
  {event_kind::agent_retired, "agent_retired"},
  {event_kind::agent_status_changed, "agent_status_changed"},
  {event_kind::manifest_updated, "manifest_updated"},
  {event_kind::room_created, "room_created"},
  {event_kind::member_joined, "member_joined"},
  {event_kind::member_left, "member_left"},
  {event_kind::member_invited, "member_invited"},
  {event_kind::role_changed, "role_changed"},
  {event_kind::room_closed, "room_closed"},
  {event_kind::turn_requested, "turn_requested"},
  {event_kind::turn_granted, "turn_granted"},
  {event_kind::turn_yielded, "turn_yielded"},
  {event_kind::turn_expired, "turn_expired"},
  {event_kind::message_sent, "message_sent"},
  {event_kind::message_delivered, "message_delivered"},
  {event_kind::message_read, "message_read"},
  {event_kind::message_refused, "message_refused"},
}};

} // namespace

std::string_view to_string(topic x) noexcept {
  return detail::enum_name(topic_names, x);
}
std::string_view to_string(event_kind x) noexcept {
  return detail::enum_name(kind_names, x);
}
expected<topic> parse_topic(std::string_view text) {
  return detail::enum_parse(topic_names, text, "topic");
}
expected<event_kind> parse_event_kind(std::string_view text) {
  return detail::enum_parse(kind_names, text, "event kind");
}

topic topic_of(event_kind k) noexcept {
  switch (k) {
    case event_kind::agent_introduced:
    case event_kind::agent_retired:
      return topic::agent_lifecycle;
    case event_kind::agent_status_changed:
    case event_kind::manifest_updated:
      return topic::agent_status;
    case event_kind::room_created:
    case event_kind::member_joined:
    case event_kind::member_left:
    case event_kind::member_invited:
    case event_kind::role_changed:
    case event_kind::room_closed:
      return topic::room;
    case event_kind::turn_requested:
    case event_kind::turn_granted:
    case event_kind::turn_yielded:
    case event_kind::turn_expired:
      return topic::turn;
    default:
      return topic::message;
  }
}

} // namespace parley
