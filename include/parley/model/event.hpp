#pragma once

#include <cstdint>
#include <string>

#include "parley/model/ids.hpp"

namespace parley {

/// Subscription topics; an event belongs to exactly one.
enum class topic : uint8_t {
  agent_lifecycle = 0,
  agent_status = 1,
  room = 2,
  turn = 3,
  message = 4,
};
inline constexpr int topic_count = 5;

/// A set of topics as a bit mask (bit i = topic i).
using topic_mask = uint8_t;
inline constexpr topic_mask all_topics = (1u << topic_count) - 1;
constexpr topic_mask mask_of(topic t) noexcept {
  return static_cast<topic_mask>(1u << static_cast<unsigned>(t));
}

enum class event_kind : uint8_t {
  agent_introduced,
  agent_retired,
  agent_status_changed,
  manifest_updated,
  room_created,
  member_joined,
  member_left,
  member_invited,
  role_changed,
  room_closed,
  turn_requested,
  turn_granted,
  turn_yielded,
  turn_expired,
  message_sent,
  message_delivered,
  message_read,
  message_refused,
};

std::string_view to_string(topic x) noexcept;
std::string_view to_string(event_kind x) noexcept;
topic topic_of(event_kind k) noexcept;
expected<topic> parse_topic(std::string_view text);
expected<event_kind> parse_event_kind(std::string_view text);

/// One change on a node. `seq` is assigned by the node's event bus:
/// strictly increasing by 1 per node, in publication order.
struct event {
  uint64_t seq = 0;
  event_kind kind = event_kind::agent_introduced;
  timestamp at = 0;
  /// The agent the event is about (or the actor that caused it).
  agent_id agent;
  /// The room, when the event concerns one.
  room_id room;
  /// Kind-specific detail: the other agent, new status, message id, role.
  std::string detail;
  /// The node whose log holds it, on a subscription across a network
  /// (empty: the node that serves the subscription). Never stored.
  std::string node;

  friend bool operator==(const event&, const event&) = default;
};

} // namespace parley
