#pragma once

// What the crash worker (crash_worker.cpp, a child process that is SIGKILLed)
// and the crash test (crash_test.cpp, which checks the store after each kill)
// share: the population, the rooms, the content of a message and the lines
// the worker prints.
//
// Worker output, one line per write(2) (atomic on a pipe: lines never
// interleave, and a SIGKILL never leaves half a line):
//
//   READY <agents> <rooms>                    setup done (fresh or recovered)
//   RETRY <from> <id> ok <status> <sent_at>   a retried send took effect
//   RETRY <from> <id> fail <errc> <text...>   a retried send was refused
//   LOADING                                   the load threads start
//   ATTEMPT <from> <agent|room> <to> <id>     printed before node::send
//   ACK <from> <id> <status> <sent_at>        node::send succeeded
//   FAIL <from> <id> <errc> <text...>         node::send failed
//   ERROR <text...>                           the worker gives up (exit 1)
//
// Retry file (--retry-file), one send per line: <from> <agent|room> <to> <id>;
// the content is content_for(id).

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "parley/behavior/behavior.hpp"

namespace parley::crash {

/// The node id of the worker and of the checking node (one store).
inline const std::string node_name = "crash-node";

inline constexpr int agent_count = 8;
/// Each load thread sends as its own two agents (so every agent's turn in
/// the moderated room is given back by the thread that asked for it).
inline constexpr int load_threads = agent_count / 2;

/// The unmoderated group room (every member posts at will).
inline const std::string lobby = "lobby";
/// The moderated room: fifo, no time slot, at most 2 messages per turn.
inline const std::string stage = "stage";
inline constexpr uint32_t stage_messages_per_turn = 2;

inline std::string agent_name(int i) {
  return "agent-" + std::to_string(i);
}

inline std::vector<std::string> agent_names() {
  std::vector<std::string> out;
  for (int i = 0; i < agent_count; ++i)
    out.push_back(agent_name(i));
  return out;
}

/// The content of message `id`: the checker compares what it finds.
inline std::string content_for(std::string_view id) {
  return "payload of " + std::string{id};
}

/// Reads its messages and does nothing: it neither answers (every stored
/// message comes from the worker's sends) nor gives back a granted turn
/// (the worker's threads yield their turns themselves). Used by the worker
/// and by the checking node, so that a recovered turn stays where it was.
class holding_behavior final : public agent_behavior {
public:
  void react(const behavior_view&, const behavior_input&, std::vector<behavior_action>&) override {}
  std::string_view name() const noexcept override { return "holding"; }
};

/// A node_config::behavior_factory giving every agent one shared holding_behavior.
inline auto holding_factory() {
  auto b = std::make_shared<holding_behavior>();
  return [b](const agent_id&, const behavior_spec&) -> std::shared_ptr<agent_behavior> {
    return b;
  };
}

} // namespace parley::crash
