#pragma once

// Speaking turns in one room: who has asked, who holds the turn, and who is
// granted next under the room's speaker_rules. Plain C++, single-threaded
// (owned by the room's moderator actor), time passed in.

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "parley/model/room.hpp"

namespace parley {

struct turn_grant {
  agent_id speaker;
  /// 1 for the room's first turn, then +1 per grant.
  uint64_t turn = 0;
  timestamp granted_at = 0;
  /// Auto-yield time; 0 = no time limit.
  timestamp deadline = 0;
  /// The round this turn belongs to (1-based).
  uint32_t round = 0;

  friend bool operator==(const turn_grant&, const turn_grant&) = default;
};

struct turn_request {
  agent_id who;
  timestamp requested_at = 0;

  friend bool operator==(const turn_request&, const turn_request&) = default;
};

/// A snapshot for readers (the API's turn state).
struct turn_state {
  std::optional<turn_grant> current;
  uint32_t messages_in_turn = 0;
  std::vector<turn_request> waiting; // in request order
  uint64_t turns_granted = 0;
  uint32_t rounds = 0;
  bool closed = false;

  friend bool operator==(const turn_state&, const turn_state&) = default;
};

/// Why a turn ended.
enum class turn_end : uint8_t { yielded, max_messages, expired, left };

class turn_scheduler {
public:
  explicit turn_scheduler(speaker_rules rules);

  /// Queues a request. Guests and non-members are refused
  /// (permission_denied); an unmoderated or closed room fails
  /// (failed_precondition). Asking again while waiting or speaking is a
  /// no-op that succeeds.
  expected<void> request(const room& r, std::string_view who, timestamp now);

  /// Drops `who`'s request and ends its turn if it holds one (it left).
  /// Returns the ended turn, if any.
  std::optional<turn_grant> withdraw(std::string_view who);

  /// When nobody holds the turn, grants the next one per policy and
  /// transitions. `closes` is set when max_rounds is reached instead (the
  /// room must close; the scheduler refuses everything after).
  struct grant_result {
    std::optional<turn_grant> granted;
    bool closes = false;
  };
  grant_result grant_next(const room& r, timestamp now);

  /// ok when `who` may post now (always, for an unmoderated room).
  expected<void> check_post(const room& r, std::string_view who) const;

  /// Counts a posted message of the current speaker; true when that used up
  /// max_messages_per_turn (the turn has then ended).
  bool count_message();

  /// Ends `who`'s turn. failed_precondition if `who` does not hold it.
  expected<turn_grant> yield(const room& r, std::string_view who);

  /// Ends the current turn if its deadline is <= now.
  std::optional<turn_grant> expire(timestamp now);

  /// Everything the scheduler knows besides its rules: what the store keeps
  /// for a room's moderator.
  struct snapshot {
    turn_state state;
    std::optional<agent_id> last_speaker;
    std::vector<agent_id> spoken_this_round;
    uint64_t rng_state = 0;
    /// Index into the room's members of the last round_robin speaker.
    std::optional<size_t> rr_last;

    friend bool operator==(const snapshot&, const snapshot&) = default;
  };
  snapshot save() const;
  /// Continues from a saved state. A current turn gets a fresh time slot
  /// starting at `now` (the old one ran out while the node was down), and
  /// requests or turns of agents no longer in `r` are dropped.
  void restore(snapshot s, const room& r, timestamp now);

  const turn_state& state() const noexcept { return state_; }
  const speaker_rules& rules() const noexcept { return rules_; }
  void close() noexcept { state_.closed = true; }

private:
  std::optional<size_t> pick(const room& r);
  bool allowed_after_last(std::string_view who) const;
  uint64_t next_random();

  speaker_rules rules_;
  turn_state state_;
  std::optional<agent_id> last_speaker_;
  std::set<agent_id> spoken_this_round_;
  uint64_t rng_state_;
  // Index into r.members of the last round_robin speaker.
  std::optional<size_t> rr_last_;
};

} // namespace parley
