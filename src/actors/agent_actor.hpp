#pragma once

#include <memory>
#include <vector>

#include "actors/messages.hpp"
#include "actors/runtime.hpp"
#include "parley/behavior/behavior.hpp"

namespace parley {

/// One agent: its manifest, its attention queue (the bounded inbox) and its
/// behaviour. Kept small: a node holds a million of these.
struct agent_state {
  runtime* rt = nullptr;
  /// Public page; `skills` and `focus` stay empty here (see below).
  manifest man;
  /// Interned skills (shared with other agents that have the same skill).
  std::vector<std::shared_ptr<const skill>> skills;
  attention_queue attention{nullptr};
  std::shared_ptr<agent_behavior> behavior;
  /// Status of messages sent via the API that asked for receipts: the newest
  /// few, oldest first.
  std::vector<std::pair<message_id, message_status>> tracked;
  uint64_t next_message = 1;
  bool serve_scheduled = false;

  static inline const char* name = "parley.agent";
};

using agent_actor = caf::stateful_actor<agent_state>;

/// Everything an agent starts with.
struct agent_seed {
  manifest man;
  std::vector<std::shared_ptr<const skill>> skills;
  std::shared_ptr<agent_behavior> behavior;
};

caf::behavior agent(agent_actor* self, runtime* rt, agent_seed seed);

} // namespace parley

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(parley::agent_seed)
