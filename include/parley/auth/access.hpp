#pragma once

// The one authorization decision of a node: may principal P do action A to
// (or as) agent X, in room R? Every request path ends here: the API's
// handlers, the node facade and the actors that own the state (a room's
// moderator knows its members) call authorize() with what they know, so a
// rule lives in this file only. docs/security.md prints the matrix.
//
// Room roles (only owners and admins invite, a member may not promote
// itself, ...) are rules of the room, not of the caller: the moderator
// applies them after authorize() has said the caller may act as `by`.

#include <cstdint>
#include <string_view>

#include "parley/auth/principal.hpp"
#include "parley/error.hpp"
#include "parley/model/room.hpp"

namespace parley {

enum class action : uint8_t {
  // -- agents
  introduce,       ///< start agent X
  retire,          ///< retire agent X
  update_manifest, ///< change agent X's public page
  read_manifest,   ///< read any public page
  list_agents,     ///< list the agents of the node
  tune_attention,  ///< set agent X's attention knobs, nudge it
  // -- rooms
  create_room,  ///< create a room with X as creator (direct: X is one of the pair)
  join,         ///< X joins a room
  leave,        ///< X leaves a room
  invite,       ///< X invites into a room (room roles apply)
  set_role,     ///< X changes a role in a room (room roles apply)
  close_room,   ///< close a room, as member X (room roles apply) or as staff
  read_room,    ///< a room's metadata: members, rules, turns
  read_history, ///< a room's messages (room R) or a pair's (X and other)
  // -- turns and messages
  take_turn, ///< X requests or yields the turn
  send,      ///< send as X
  read_inbox,
  mark_read,
  link,      ///< open X's agent link
  // -- events and the node
  subscribe, ///< follow events (about agent X, or of room R, or all)
  node_info,
  backup,
  drain,
  maintain, ///< run retention and other upkeep now
  erase,    ///< erase agent X's personal data (privacy law)
  // -- between nodes
  federate, ///< open a federation link as another node of the network
  move_shards, ///< move shards between nodes (the coordinator, a node's mover)
  remove_node, ///< give a lost node's shards to the others, empty
};

/// Stable name, e.g. "send", "read_history".
std::string_view to_string(action a) noexcept;

/// What an action touches. Set the fields the action has.
struct access_target {
  /// The agent acted as or on (send: the sender; history: one of the pair).
  std::string_view agent = {};
  /// The second agent of a pair (create_room direct, read_history of a pair).
  std::string_view other = {};
  /// The room, as its owner sees it now (read_room, read_history of a
  /// room, subscribe to a room).
  const room* in_room = nullptr;
};

/// OK, or permission_denied with a sentence naming the principal, the action
/// and why. Pure: no I/O, no locks; safe on any thread.
expected<void> authorize(const principal& p, action a, const access_target& t = {});

/// True when `p` may read room `r`'s metadata (listing filters with it).
bool may_see_room(const principal& p, const room& r) noexcept;

} // namespace parley
