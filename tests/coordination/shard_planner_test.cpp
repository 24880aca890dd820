// The rule for unowned shards: to the up member with the fewest, never
// taking a shard from its owner.

#include <gtest/gtest.h>

#include <map>

#include "parley/coordination/shard_planner.hpp"

namespace parley::coordination {
namespace {

member up(std::string name) { return {std::move(name), "h:1", 1, member_state::up}; }

std::map<std::string, size_t> counts(const std::vector<shard_owner>& map) {
  std::map<std::string, size_t> out;
  for (auto& o : map)
    if (!o.node.empty())
      ++out[o.node];
  return out;
}

void apply_plan(std::vector<shard_owner>& map, const std::vector<assignment>& plan) {
  for (auto& a : plan)
    map[a.shard] = {a.node, 1, {}};
}

// Verifies an empty map is spread evenly over the up members, deterministically.
TEST(ShardPlanner, SpreadsUnownedShardsEvenly) {
  std::vector<shard_owner> map(shard_count);
  auto plan = plan_unassigned(map, {up("c"), up("a"), up("b")}, shard_count);
  ASSERT_EQ(plan.size(), shard_count);
  EXPECT_EQ(plan, plan_unassigned(map, {up("b"), up("c"), up("a")}, shard_count)) << "order of members matters not";
  EXPECT_EQ(plan[0].node, "a") << "ties go by name";
  apply_plan(map, plan);
  auto n = counts(map);
  EXPECT_EQ(n["a"], 342u);
  EXPECT_EQ(n["b"], 341u);
  EXPECT_EQ(n["c"], 341u);
  EXPECT_TRUE(plan_unassigned(map, {up("a"), up("b"), up("c")}, shard_count).empty());
}

// Verifies owned shards stay where they are (also with a departed owner), only up members get shards, and the limit holds.
TEST(ShardPlanner, NeverTakesAShardFromItsOwner) {
  std::vector<shard_owner> map(shard_count);
  for (shard_id s = 0; s < 1000; ++s)
    map[s] = {s % 2 ? "gone" : "a", 5, {}};
  auto joining = up("b");
  joining.state = member_state::joining;
  auto plan = plan_unassigned(map, {up("a"), joining, up("c")}, 10);
  ASSERT_EQ(plan.size(), 10u);
  for (auto& a : plan) {
    EXPECT_GE(a.shard, 1000) << "an owned shard was planned";
    EXPECT_EQ(a.node, "c") << "c owns fewest; b is not up";
    EXPECT_EQ(a.expected_epoch, 0u);
  }
  EXPECT_TRUE(plan_unassigned(map, {joining}, 100).empty()) << "nobody up: nothing planned";
  EXPECT_TRUE(plan_unassigned(map, {}, 100).empty());
}

} // namespace
} // namespace parley::coordination
