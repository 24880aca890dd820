#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "parley/model/ids.hpp"

namespace parley {

/// What an erasure of an agent's personal data did (privacy law); kept as
/// the agent's tombstone, which outlives the data.
struct erasure {
  agent_id agent;
  timestamp erased_at = 0;
  /// The principal that asked for it (to_string(principal)).
  std::string erased_by;
  /// Manifest fields that held data (display_name, bio, activities, skills).
  std::vector<std::string> fields;
  /// Messages the agent sent whose content was erased.
  uint64_t messages = 0;
  /// Entries of its inbox deleted.
  uint64_t inbox_entries = 0;
  /// Events about it whose detail was erased.
  uint64_t events = 0;

  friend bool operator==(const erasure&, const erasure&) = default;
};

} // namespace parley
