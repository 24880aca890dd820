#pragma once

// Who gets the shards nobody owns yet: the coordinator's first duty. Pure
// logic, so that the rule is tested apart from etcd.
//
// The rule: a shard without an owner goes to the `up` member that owns the
// fewest shards (ties by name), at most `limit` per round. A shard that has
// an owner is never given away here, even when its owner is down: that node
// restarts on its own volume and still has the shard's data
// (docs/federation.md); moving shards is a drain's or an operator's act.

#include <cstddef>
#include <string>
#include <vector>

#include "parley/coordination/coordination.hpp"

namespace parley::coordination {

struct assignment {
  shard_id shard = 0;
  /// The epoch the plan was made from (0: unassigned); assign() refuses
  /// the step if the shard changed meanwhile.
  uint64_t expected_epoch = 0;
  std::string node;

  friend bool operator==(const assignment&, const assignment&) = default;
};

/// The next assignments for `map` (one entry per shard, shard_count long).
std::vector<assignment> plan_unassigned(const std::vector<shard_owner>& map, const std::vector<member>& members,
                                        size_t limit);

/// Shards a member should move to another so that the up members own about
/// as many each (a node that joined gets its share: scale-out).
struct transfer {
  std::string from;
  std::string to;
  uint32_t count = 0;

  friend bool operator==(const transfer&, const transfer&) = default;
};

/// The moves that bring the up members within one shard of each other, at
/// most `limit` shards in all, from the member with the most to the one
/// with the fewest (ties by name). Only up members give or take: the shards
/// of a member that is down, leaving or gone stay where they are. Nothing
/// while a shard is moving (one round at a time) or an unowned shard is left.
std::vector<transfer> plan_rebalance(const std::vector<shard_owner>& map, const std::vector<member>& members,
                                     size_t limit);

/// Plans from `c`'s view and applies the plan with assign(); the number of
/// shards assigned. A step that lost a race is skipped (the next round
/// plans from the new map). Call only on the coordinator.
expected<size_t> assign_unassigned(coordination& c, size_t limit);

} // namespace parley::coordination
