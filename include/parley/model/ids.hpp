#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "parley/error.hpp"

namespace parley {

/// Ids are plain strings; the rule is enforced where they enter the node.
using agent_id = std::string;
using room_id = std::string;
using message_id = std::string;

/// Milliseconds since the Unix epoch (wall time, for records people read).
using timestamp = int64_t;

/// Checks the id rule: 1..128 chars of [A-Za-z0-9._:-]. `what` names the
/// field in the error ("agent id", "room id", ...).
expected<void> validate_id(std::string_view id, std::string_view what);

inline expected<void> validate_agent_id(std::string_view id) {
  return validate_id(id, "agent id");
}

inline expected<void> validate_room_id(std::string_view id) {
  return validate_id(id, "room id");
}

/// The forms of id the node generates: rooms "room-<n>", messages
/// "m<n>[.<m>]" (agents' behaviours) and "api-<n>[.<m>]" (API sends without
/// an id). A client may not choose them: a later generated id would take
/// its message for a duplicate, or overwrite its record.
bool is_generated_room_id(std::string_view id) noexcept;
bool is_generated_message_id(std::string_view id) noexcept;

} // namespace parley
