#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include "actors/messages.hpp"
#include "actors/runtime.hpp"
#include "parley/model/member_index.hpp"

namespace parley {

/// One room: its members and roles, who may speak (turn_scheduler), and the
/// fan-out of posts to members. Every room has one; direct rooms run with
/// speaker_policy::none.
struct room_moderator_state {
  runtime* rt = nullptr;
  room r;
  turn_scheduler turns{speaker_rules{}};
  /// Position of each member in r.members (lookups stay O(1) in big rooms).
  member_index index;
  /// Each member's actor, parallel to r.members: resolved through the
  /// router (an invalid handle is resolved again when needed).
  std::vector<caf::actor> handles;
  /// Pending invitations: who -> role they join with.
  std::map<agent_id, room_role> invitations;
  /// Members whose backlog is full: posts are refused until they catch up.
  std::unordered_set<agent_id> saturated;
  /// Join order of the next member (stored with each member).
  uint64_t next_position = 0;
  /// Side effects (events, grants, the fan-out) of a change being written:
  /// on a durable node they run only once the change is on disk.
  std::vector<std::function<void()>> effects;
  bool deferring = false;
  /// Durable nodes: the turn state as last written, so that only changes
  /// are written.
  std::string stored_turns;
  /// Durable nodes: posts being written while the moderator goes on
  /// (pipelined, rooms without turns), and the retries of those that carry
  /// an idempotency key, by (sender, id), waiting for the first's answer.
  uint32_t posts_in_flight = 0;
  std::map<std::pair<agent_id, message_id>, std::vector<caf::typed_response_promise<send_receipt>>>
    retries;
  /// A message is waiting for the posts in flight to be answered (a change
  /// that holds, or a post beyond the bound): every later one waits too.
  bool draining = false;
  /// Posts one room has in flight at most; more wait in the mailbox.
  static constexpr uint32_t max_posts_in_flight = 256;

  static inline const char* name = "parley.room_moderator";
};

using room_moderator_actor = caf::stateful_actor<room_moderator_state>;

/// How a moderator starts: a room just created, or one recovered from the
/// store with its invitations, the members' join positions and its turn
/// state (a current turn gets a fresh slot and is granted again).
struct moderator_seed {
  room r;
  std::map<agent_id, room_role> invitations;
  std::optional<storage::moderator_record> turns;
  /// Next join position (recovered rooms: one past the highest stored).
  uint64_t next_position = 0;
};

/// On a durable node every change (membership, turns, posts) is written to
/// the store before it applies or is answered.
caf::behavior room_moderator(room_moderator_actor* self, runtime* rt, moderator_seed seed);

} // namespace parley

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(parley::moderator_seed)
