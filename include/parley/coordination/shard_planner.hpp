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

/// Plans from `c`'s view and applies the plan with assign(); the number of
/// shards assigned. A step that lost a race is skipped (the next round
/// plans from the new map). Call only on the coordinator.
expected<size_t> assign_unassigned(coordination& c, size_t limit);

} // namespace parley::coordination
