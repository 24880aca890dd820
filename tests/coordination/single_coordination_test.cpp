// The `single` backend: one node that is the whole network.

#include <gtest/gtest.h>

#include "parley/coordination/coordination.hpp"

namespace parley::coordination {
namespace {

// Verifies a lone node is the only member, owns every shard at epoch 1, coordinates, and refuses moves.
TEST(SingleCoordination, OneNodeIsTheWholeNetwork) {
  auto c = make_single("solo");
  EXPECT_FALSE(c->registered());
  EXPECT_TRUE(c->members().empty());
  EXPECT_EQ(c->coordinator(), "");

  auto wrong = c->join({"other", "127.0.0.1:1", 1, member_state::up});
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error().code, errc::invalid_argument);

  ASSERT_TRUE(c->join({"solo", "127.0.0.1:7000", 3, member_state::joining}));
  EXPECT_TRUE(c->registered());
  auto again = c->join({"solo", "127.0.0.1:7000", 3, member_state::joining});
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, errc::already_exists);
  ASSERT_TRUE(c->set_state(member_state::up));
  ASSERT_EQ(c->members().size(), 1u);
  EXPECT_EQ(c->members()[0].state, member_state::up);
  EXPECT_EQ(c->members()[0].incarnation, 3u);

  for (shard_id s : {shard_id{0}, shard_id{511}, shard_id{1023}})
    EXPECT_EQ(c->owner(s), (shard_owner{"solo", 1, {}}));
  auto moved = c->assign(3, 1, {"elsewhere", 0, {}});
  ASSERT_FALSE(moved);
  EXPECT_EQ(moved.error().code, errc::failed_precondition);
  EXPECT_EQ(c->owner(3).node, "solo");

  auto claimed = c->claim_coordinator();
  ASSERT_TRUE(claimed);
  EXPECT_TRUE(*claimed);
  EXPECT_EQ(c->coordinator(), "solo");

  ASSERT_TRUE(c->leave());
  EXPECT_FALSE(c->registered());
  EXPECT_TRUE(c->members().empty());
  EXPECT_FALSE(c->set_state(member_state::up));
}

// Verifies member states round-trip through their names and a bad name is refused.
TEST(SingleCoordination, MemberStateNames) {
  for (auto s : {member_state::joining, member_state::up, member_state::suspect, member_state::down,
                 member_state::leaving}) {
    auto back = parse_member_state(to_string(s));
    ASSERT_TRUE(back);
    EXPECT_EQ(*back, s);
  }
  auto bad = parse_member_state("sleepy");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("joining"), std::string::npos) << bad.error().message;
}

} // namespace
} // namespace parley::coordination
