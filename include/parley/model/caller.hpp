#pragma once

#include "parley/model/ids.hpp"

namespace parley {

/// Who asks for a change: an agent acting for itself, or the node's admin.
struct caller {
  agent_id id;
  bool admin = false;
  static caller agent(agent_id id) { return {std::move(id), false}; }
  static caller administrator() { return {"admin", true}; }
};

} // namespace parley
