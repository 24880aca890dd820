#include "parley/model/event.hpp"

#include <string>

#include <gtest/gtest.h>

namespace parley {
namespace {

// Verifies every topic round-trips through its name and an unknown name lists the valid ones.
TEST(Topic, RoundTripsAndRejectsUnknown) {
  for (int i = 0; i < topic_count; ++i) {
    auto t = static_cast<topic>(i);
    auto p = parse_topic(to_string(t));
    ASSERT_TRUE(p) << to_string(t);
    EXPECT_EQ(*p, t);
  }
  auto bad = parse_topic("weather");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, errc::invalid_argument);
  EXPECT_NE(bad.error().message.find("agent_lifecycle agent_status room turn message"),
            std::string::npos)
    << bad.error().message;
}

// Verifies topic masks: one bit per topic and all_topics covers exactly the five.
TEST(Topic, MasksHaveOneBitEach) {
  topic_mask seen = 0;
  for (int i = 0; i < topic_count; ++i) {
    auto bit = mask_of(static_cast<topic>(i));
    EXPECT_EQ(bit & (bit - 1), 0) << "not a single bit";
    EXPECT_EQ(seen & bit, 0) << "bit shared";
    seen |= bit;
  }
  EXPECT_EQ(seen, all_topics);
}

// Verifies each event kind belongs to the topic its name suggests.
TEST(EventKind, MapsToItsTopic) {
  EXPECT_EQ(topic_of(event_kind::agent_introduced), topic::agent_lifecycle);
  EXPECT_EQ(topic_of(event_kind::agent_retired), topic::agent_lifecycle);
  EXPECT_EQ(topic_of(event_kind::manifest_updated), topic::agent_status);
  EXPECT_EQ(topic_of(event_kind::member_joined), topic::room);
  EXPECT_EQ(topic_of(event_kind::room_closed), topic::room);
  EXPECT_EQ(topic_of(event_kind::turn_expired), topic::turn);
  EXPECT_EQ(topic_of(event_kind::message_refused), topic::message);
  EXPECT_EQ(to_string(event_kind::turn_granted), "turn_granted");
  // Every kind's name begins with its topic's subject (agent/manifest, room/member, turn, message).
  for (int i = 0; i <= static_cast<int>(event_kind::message_refused); ++i) {
    auto k = static_cast<event_kind>(i);
    std::string name{to_string(k)};
    EXPECT_NE(name, "unknown") << i;
    switch (topic_of(k)) {
      case topic::turn: EXPECT_EQ(name.rfind("turn_", 0), 0u) << name; break;
      case topic::message: EXPECT_EQ(name.rfind("message_", 0), 0u) << name; break;
      case topic::room:
        EXPECT_TRUE(name.rfind("room_", 0) == 0 || name.rfind("member_", 0) == 0
                    || name == "role_changed")
          << name;
        break;
      default:
        EXPECT_TRUE(name.rfind("agent_", 0) == 0 || name == "manifest_updated") << name;
        break;
    }
  }
}

} // namespace
} // namespace parley
