// The resume token of a subscription across a network: one offset per node,
// written and read back exactly, and anything else refused with a reason.

#include <gtest/gtest.h>

#include "parley/model/event_cursor.hpp"

namespace parley {
namespace {

// Verifies a cursor survives its token and moves per node.
TEST(EventCursor, TokensRoundTripAndPositionsMovePerNode) {
  event_cursor c;
  EXPECT_EQ(event_cursor::parse(c.token()).value(), c); // no node yet
  c.set("node-a", 5);
  c.passed("node-b", 41);
  c.passed("node-a", 9);
  EXPECT_EQ(c.next("node-a"), 10u);
  EXPECT_EQ(c.next("node-b"), 42u);
  EXPECT_EQ(c.next("node-c"), std::nullopt);
  auto back = event_cursor::parse(c.token());
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(*back, c);
}

// Verifies tokens that no cursor wrote are refused with invalid_argument and a reason naming the token.
TEST(EventCursor, MalformedTokensAreRefused) {
  for (const char* bad : {"", "node-a=1", "2|node-a=1", "1|node-a", "1|node-a=x", "1|node-a=1,node-a=2",
                          "1|bad node=1", "1|node-a=", "1|node-a=1,", "1|=4", "1|node-a=99999999999999999999"}) {
    auto got = event_cursor::parse(bad);
    ASSERT_FALSE(got) << bad;
    EXPECT_EQ(got.error().code, errc::invalid_argument) << bad;
    EXPECT_NE(got.error().message.find("resume_token"), std::string::npos) << got.error().message;
  }
}

} // namespace
} // namespace parley
