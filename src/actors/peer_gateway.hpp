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
//
// Messages for agents elsewhere (direct messages, a room's posts for its
// members elsewhere) go through the durable outbox (peer_outbox.cpp).

#include <deque>
#include <map>
#include <set>

#include "actors/messages.hpp"
#include "actors/runtime.hpp"

namespace parley {

/// The durable outbox's knobs (node_config::outbox_limit, outbox_wait).
struct outbox_options {
  /// Entries waiting for one node; beyond, a send is refused (overloaded).
  size_t limit_per_node = 100000;
  /// How long a sender waits for the owner's answer before it is answered
  /// `sent` (the message is in the outbox and goes when the owner can
  /// take it).
  std::chrono::milliseconds wait{500};
};

class peer_gateway : public caf::event_based_actor {
public:
  peer_gateway(caf::actor_config& cfg, runtime* rt, outbox_options outbox);
  caf::behavior make_behavior() override;
  /// Drops the calls still waiting: each holds its asker's response promise
  /// (a handle to the asker), and the askers hold this gateway, so a stopped
  /// node would otherwise keep both alive.
  void on_exit() override {
    calls_.clear();
    outbox_.clear();
  }

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
  /// A room's post for `members` of other nodes: one outbox entry (one
  /// room_delivery) per node; members a node no longer serves are
  /// resolved again.
  void deliver_to_members(message m, std::vector<agent_id> members);
  /// start() for a request whose asker waits: `pick` makes the answer.
  template <class T, class Pick>
  caf::result<T> ask(federation::remote_request req, const std::string& target, Pick pick);
  void dispatch(uint64_t id);
  void finish(uint64_t id, expected<federation::remote_reply> r);

  // -- the durable outbox (peer_outbox.cpp) --
  struct queued {
    storage::outbox_entry entry;
    std::string node; // where it was counted against the bound
    std::optional<caf::typed_response_promise<send_receipt>> waiting;
    std::string lane;
    /// Its record: not written (a direct message the owner may answer
    /// first), being written, written.
    enum { memory, writing, written } state = memory;
    bool finished = false;  // answered while being written
    bool left_lane = false; // no longer in its lane
  };
  caf::message_handler outbox_handlers();
  /// Takes `e` (its seq is set here) if the outbox for its node has room:
  /// writes it, then sends it. `waiting`: a sender to answer (the owner's
  /// answer, or `sent` after outbox_options::wait).
  void enqueue(storage::outbox_entry e, std::optional<caf::typed_response_promise<send_receipt>> waiting);
  void send_entry(uint64_t seq);
  /// Writes entry `seq`'s record; once written, tells a waiting sender
  /// `sent` and, with `then_send`, sends the entry.
  void persist(uint64_t seq, bool then_send);
  /// By reference: g++ 12 warns (wrongly, -Wmaybe-uninitialized) on moves.
  void on_entry_answer(uint64_t seq, expected<federation::remote_reply>& r);
  /// The entry is done: it leaves the outbox (memory and store).
  void drop_entry(uint64_t seq);
  void count_entry(const std::string& node, int64_t delta);
  /// Sets entry `seq` aside until the next retry wave, when every entry set
  /// aside goes again in the order taken.
  void park(uint64_t seq);
  /// Puts entry `seq` at the end of its lane; sends it if it is the first.
  void join_lane(uint64_t seq);

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
  outbox_options outbox_opts_;
  std::map<uint64_t, queued> outbox_;
  std::unordered_map<std::string, size_t> outbox_by_node_;
  std::set<uint64_t> parked_;
  /// Entries by recipient (an agent, or a room's members on one node),
  /// oldest first: only the first of each lane is on its way, so that a
  /// message waiting for a moving shard or a node that is down is never
  /// overtaken by a later one to the same recipient.
  std::unordered_map<std::string, std::deque<uint64_t>> lanes_;
  bool retry_armed_ = false;
  /// Senders waiting for an owner's answer, by when they are answered
  /// `sent` (oldest first: the wait is the same for all), and whether the
  /// one timer that walks them is set (not one timer per message).
  std::deque<std::pair<std::chrono::steady_clock::time_point, uint64_t>> waits_;
  bool wait_armed_ = false;
  std::chrono::milliseconds retry_backoff_{0};
};

} // namespace parley
