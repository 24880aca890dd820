#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "parley/model/ids.hpp"

namespace parley {

enum class room_kind : uint8_t { direct, group };

/// Ordered: owner > admin > member > guest. Guests read only.
enum class room_role : uint8_t { guest = 0, member = 1, admin = 2, owner = 3 };

/// How the moderator picks the next speaker.
enum class speaker_policy : uint8_t {
  /// Unmoderated: every member but guests may post at any time.
  none,
  /// Requests are granted in the order they arrived.
  fifo,
  /// Members in join order, starting after the last speaker, skipping those
  /// without a pending request.
  round_robin,
  /// Highest role first, then earliest request.
  priority,
  /// Uniformly among requesters, from a seeded generator.
  random,
};

/// Who may join without an invitation.
enum class room_access : uint8_t { open, invite_only };

std::string_view to_string(room_kind x) noexcept;
std::string_view to_string(room_role x) noexcept;
std::string_view to_string(speaker_policy x) noexcept;
std::string_view to_string(room_access x) noexcept;
expected<room_kind> parse_room_kind(std::string_view text);
expected<room_role> parse_room_role(std::string_view text);
expected<speaker_policy> parse_speaker_policy(std::string_view text);
expected<room_access> parse_room_access(std::string_view text);

/// The moderator's rules for one room.
struct speaker_rules {
  speaker_policy policy = speaker_policy::fifo;
  /// A turn ends after this many messages. 0 = unlimited. Default: 1.
  uint32_t max_messages_per_turn = 1;
  /// A turn ends (auto-yield) this long after its grant. 0 = no limit.
  /// Default: 30 s.
  int64_t turn_slot_ms = 30000;
  /// The room closes when a round beyond this would start. A round is a
  /// maximal run of turns with distinct speakers. 0 = unlimited. Default: 0.
  uint32_t max_rounds = 0;
  /// Optional allowed transitions: after speaker K, only the agents in
  /// transitions[K] may be granted. A speaker without an entry restricts
  /// nothing. Default: empty.
  std::map<agent_id, std::set<agent_id>> transitions;
  /// Seed for the `random` policy. Default: 0.
  uint64_t seed = 0;

  friend bool operator==(const speaker_rules&, const speaker_rules&) = default;
};

expected<void> validate(const speaker_rules& r);

struct room_member {
  agent_id id;
  room_role role = room_role::member;
  timestamp joined_at = 0;

  friend bool operator==(const room_member&, const room_member&) = default;
};

struct room {
  room_id id;
  room_kind kind = room_kind::group;
  std::string topic;
  agent_id created_by;
  /// In join order (round_robin follows it).
  std::vector<room_member> members;
  speaker_rules rules;
  room_access access = room_access::open;
  timestamp created_at = 0;
  timestamp last_activity = 0;
  bool open = true;
  /// Direct rooms: the pair, sorted. The room's id is a hash of it, and two
  /// pairs may hash alike: the pair, not the id, says whose room it is.
  std::vector<agent_id> pair;
  /// How many members the room has, when `members` holds only some of them
  /// (a join answers the room with the new member alone); 0 = members.size().
  uint32_t member_count = 0;

  /// members.size(), or member_count when that is set.
  size_t size() const noexcept { return member_count != 0 ? member_count : members.size(); }

  /// The member entry for `id`, or nullptr.
  const room_member* find(std::string_view id) const;

  friend bool operator==(const room&, const room&) = default;
};

/// Checks id, topic, rules and member count.
expected<void> validate(const room& r);

/// The stable id of the direct room for a pair, independent of order.
room_id direct_room_id(std::string_view a, std::string_view b);

} // namespace parley
