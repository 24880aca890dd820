// external_behavior's non-blocking side (try_next, on_ready), as the API's
// link reactor drives it. The blocking side and the races are covered by
// tests/concurrency/external_behavior_stress_test.cpp.

#include <gtest/gtest.h>

#include "parley/behavior/external.hpp"

using namespace parley;

namespace {

void push_message(external_behavior& ext, uint64_t delivery) {
  manifest man;
  man.id = "ext";
  std::vector<std::shared_ptr<const skill>> no_skills;
  behavior_view view{man, no_skills, nullptr, 0};
  message m;
  m.id = "m" + std::to_string(delivery);
  m.from = "peer";
  m.to = address::agent("ext");
  m.delivery = delivery;
  behavior_input in;
  in.k = behavior_input::kind::message;
  in.msg = &m;
  std::vector<behavior_action> out;
  ext.react(view, in, out);
}

} // namespace

// Verifies a miss arms on_ready, which the next message or credit that
// makes an item takeable calls once; detach clears it.
TEST(ExternalBehavior, TryNextMissWakesOnceWhenAnItemBecomesTakeable) {
  external_behavior ext;
  ASSERT_TRUE(ext.attach(1).has_value());
  int wakes = 0;
  ext.on_ready([&] { ++wakes; });
  EXPECT_FALSE(ext.try_next().has_value());
  push_message(ext, 1);
  EXPECT_EQ(wakes, 1);
  push_message(ext, 2); // no miss since the last wake-up
  EXPECT_EQ(wakes, 1);
  ASSERT_TRUE(ext.try_next().has_value());
  EXPECT_FALSE(ext.try_next().has_value()) << "message 2 waits for credit";
  ext.add_credit(1); // the credit makes message 2 takeable
  EXPECT_EQ(wakes, 2);
  auto item = ext.try_next();
  ASSERT_TRUE(item.has_value());
  EXPECT_EQ(item->msg.delivery, 2u);
  EXPECT_FALSE(ext.try_next().has_value());
  ext.detach();
  ASSERT_TRUE(ext.attach(4).has_value());
  push_message(ext, 3);
  EXPECT_EQ(wakes, 2) << "woken after detach";
}
