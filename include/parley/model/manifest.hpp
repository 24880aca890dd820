#pragma once

// The agent's public page. Plain values: anyone may read a manifest; only the
// agent itself or an admin may change it (enforced by the node).

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "parley/model/ids.hpp"

namespace parley {

enum class agent_status : uint8_t { active, busy, idle, retired };

std::string_view to_string(agent_status x) noexcept;
expected<agent_status> parse_agent_status(std::string_view text);

/// One thing the agent can do, in the shape of an A2A AgentCard skill.
struct skill {
  std::string id;
  std::string name;
  std::vector<std::string> tags;
  std::string description;

  friend bool operator==(const skill&, const skill&) = default;
};

struct manifest {
  agent_id id;
  std::string display_name;
  std::string bio;
  agent_status status = agent_status::active;
  /// What the agent is doing now, as short free-text lines.
  std::vector<std::string> activities;
  /// The dialogue the agent's attention served last ("room:<id>",
  /// "direct:<id>"): what it is attending to; empty before its first
  /// message. Derived by the node; ignored on update.
  std::string focus;
  /// Rooms the agent is a member of. Derived by the node; ignored on update.
  std::vector<room_id> rooms;
  std::vector<skill> skills;
  /// Maximum concurrent dialogues. Default: 8.
  uint32_t capacity = 8;
  timestamp last_updated = 0;
  bool online = true;
  timestamp last_seen = 0;

  friend bool operator==(const manifest&, const manifest&) = default;
};

/// Checks every field against parley/model/limits.hpp. The error names the
/// field, the limit and the agent id.
expected<void> validate(const manifest& m);

} // namespace parley
