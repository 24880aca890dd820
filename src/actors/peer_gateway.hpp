#pragma once

// The peer gateway: the actor the router gives for an agent that lives on
// another node. It takes the messages actors send an agent that name their
// target (a direct message, a send as an agent), finds the owner of the
// target's shard in the shard map, hands the request to the peer transport
// with that epoch, and answers the asker when the owner answered. A
// refusal as a stale owner (the shard moved) is resolved and sent again, a
// few times. It is also the room of another node for an agent here, and
// the member of another node for a room here (every message between rooms
// and members names its room and, wrapped, its member). Messages that do
// not name their agent (a read receipt, a manifest read) are not carried
// yet: requests among them are answered with an error, the others dropped
// (docs/federation.md, "Not yet"). The
// node's own calls about agents elsewhere go to their owner without it
// (node/federation.cpp).

#include "actors/messages.hpp"
#include "actors/runtime.hpp"

namespace parley {

class peer_gateway : public caf::event_based_actor {
public:
  peer_gateway(caf::actor_config& cfg, runtime* rt);
  caf::behavior make_behavior() override;
  /// Drops the calls still waiting: each holds its asker's response promise
  /// (a handle to the asker), and the askers hold this gateway, so a stopped
  /// node would otherwise keep both alive.
  void on_exit() override { calls_.clear(); }

private:
  struct call {
    federation::remote_request req;
    std::string target; // the agent whose shard decides the owner
    std::function<void(expected<federation::remote_reply>)> answer;
    int attempts = 0;
    int moving_waits = 0;
  };
  void start(federation::remote_request req, const std::string& target,
             std::function<void(expected<federation::remote_reply>)> answer);
  /// start() for a request nobody waits for: a failure is counted and logged.
  void tell(federation::remote_request req, const std::string& target);
  /// What rooms send members elsewhere and members send rooms elsewhere
  /// (peer_gateway_rooms.cpp).
  caf::message_handler room_handlers();
  /// A room's post for `members` of other nodes: one room_delivery per
  /// node; members a node no longer serves are resolved again.
  void deliver_to_members(message m, std::vector<agent_id> members, int attempt);
  /// start() for a request whose asker waits: `pick` makes the answer.
  template <class T, class Pick>
  caf::result<T> ask(federation::remote_request req, const std::string& target, Pick pick);
  void dispatch(uint64_t id);
  void finish(uint64_t id, expected<federation::remote_reply> r);

  /// Attempts of a request whose owner was stale (each resolves again), and
  /// the pause before resolving again (the watch brings the new map within
  /// ~10 ms).
  static constexpr int max_attempts = 4;
  /// Pauses (stale_pause each) a call waits for a shard that is moving.
  static constexpr int max_moving_waits = 400;
  static constexpr auto stale_pause = std::chrono::milliseconds(50);

  runtime* rt_;
  uint64_t next_id_ = 1;
  std::unordered_map<uint64_t, call> calls_;
};

} // namespace parley
