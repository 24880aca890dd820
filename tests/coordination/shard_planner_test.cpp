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

// Verifies a node that joined gets its share from the others, a bounded
// round at a time, until the up members are within one shard of each
// other; nothing moves while a shard is moving, nor from or to a member
// that is not up.
TEST(ShardPlanner, ARebalanceGivesAJoinerItsShareInBoundedRounds) {
  std::vector<shard_owner> map(shard_count);
  apply_plan(map, plan_unassigned(map, {up("a"), up("b"), up("c")}, shard_count));
  const std::vector<member> four{up("a"), up("b"), up("c"), up("d")};
  EXPECT_TRUE(plan_rebalance(map, {up("a"), up("b"), up("c")}, 64).empty()) << "342/341/341 is even";
  int rounds = 0;
  for (;; ++rounds) {
    auto plan = plan_rebalance(map, four, 64);
    if (plan.empty())
      break;
    uint32_t total = 0;
    for (auto& t : plan) {
      EXPECT_EQ(t.to, "d");
      EXPECT_NE(t.from, "d");
      total += t.count;
      // Apply: the donor's first `count` shards go to d.
      uint32_t left = t.count;
      for (auto& o : map)
        if (left > 0 && o.node == t.from) {
          o.node = t.to;
          --left;
        }
    }
    EXPECT_LE(total, 64u) << "a round is bounded";
    ASSERT_LT(rounds, 10);
  }
  auto n = counts(map);
  EXPECT_EQ(n["a"], 256u);
  EXPECT_EQ(n["b"], 256u);
  EXPECT_EQ(n["c"], 256u);
  EXPECT_EQ(n["d"], 256u);
  EXPECT_EQ(rounds, 4); // 256 shards, 64 a round

  // A shard moving: no plan until it lands.
  std::vector<shard_owner> uneven(shard_count, shard_owner{"a", 5, {}});
  EXPECT_FALSE(plan_rebalance(uneven, {up("a"), up("b")}, 8).empty());
  uneven[3].moving_to = "b";
  EXPECT_TRUE(plan_rebalance(uneven, {up("a"), up("b")}, 8).empty());
  // Members that are not up neither give nor take.
  uneven[3].moving_to.clear();
  auto leaving = up("b");
  leaving.state = member_state::leaving;
  EXPECT_TRUE(plan_rebalance(uneven, {up("a"), leaving}, 8).empty());
  auto down_owner = std::vector<shard_owner>(shard_count, shard_owner{"gone", 5, {}});
  EXPECT_TRUE(plan_rebalance(down_owner, {up("a"), up("b")}, 8).empty()) << "a down node's shards stay";
}

} // namespace
} // namespace parley::coordination
