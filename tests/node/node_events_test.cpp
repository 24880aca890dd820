// The event bus through the node facade: sequence numbers, order, replay,
// topic masks and unsubscription.

#include <atomic>

#include "support/node_fixture.hpp"

namespace parley {
namespace {

using namespace test_support;

class NodeEvents : public NodeFixture {
protected:
  /// A fixed script of operations; each publishes its events before it
  /// returns. Returns the kinds it publishes, in order.
  std::vector<event_kind> run_script() {
    EXPECT_TRUE(add_agent("a"));
    EXPECT_TRUE(add_agent("b"));
    EXPECT_TRUE(add_group("r", "a", unmoderated()));
    EXPECT_TRUE(succeeded(n().join(as_admin, "r", "b")));
    EXPECT_TRUE(succeeded(n().set_role(as_admin, "r", "a", "b", room_role::admin)));
    auto m = make_manifest("b");
    m.status = agent_status::busy;
    EXPECT_TRUE(succeeded(n().update_manifest(principal::agent("b"), m)));
    EXPECT_TRUE(succeeded(n().leave(as_admin, "r", "b")));
    EXPECT_TRUE(succeeded(n().close_room(as_admin, "r", "a")));
    EXPECT_TRUE(succeeded(n().retire(as_admin, "a")));
    return {
      event_kind::agent_introduced,     event_kind::agent_introduced, event_kind::room_created,
      event_kind::member_joined,        event_kind::member_joined,    event_kind::role_changed,
      event_kind::manifest_updated,     event_kind::agent_status_changed,
      event_kind::member_left,          event_kind::room_closed,      event_kind::agent_retired,
      event_kind::agent_status_changed, event_kind::member_left,
    };
  }

  static std::vector<event_kind> kinds(const std::vector<event>& es) {
    std::vector<event_kind> out;
    for (auto& e : es)
      out.push_back(e.kind);
    return out;
  }

  static ::testing::AssertionResult consecutive(const std::vector<event>& es) {
    for (size_t i = 1; i < es.size(); ++i)
      if (es[i].seq != es[i - 1].seq + 1)
        return ::testing::AssertionFailure()
               << "seq " << es[i - 1].seq << " is followed by " << es[i].seq << " at index " << i;
    return ::testing::AssertionSuccess();
  }
};

// Verifies that a live subscription over all topics sees every operation's
// events in the order the operations ran, numbered without gaps.
TEST_F(NodeEvents, LiveSubscriptionSeesOperationsInOrder) {
  event_recorder rec;
  ASSERT_TRUE(succeeded(rec.attach(n(), all_topics)));
  clock_->advance(5);
  auto expected_kinds = run_script();
  ASSERT_TRUE(rec.wait_count([](const event&) { return true; }, expected_kinds.size()));
  auto es = rec.events();
  EXPECT_EQ(kinds(es), expected_kinds);
  EXPECT_TRUE(consecutive(es));
  ASSERT_FALSE(es.empty());
  EXPECT_EQ(es.front().seq, 1u);
  EXPECT_EQ(es.front().agent, "a");
  EXPECT_EQ(es[2].room, "r");
  EXPECT_EQ(es[3].agent, "a");
  EXPECT_EQ(es[3].detail, "owner");
  EXPECT_EQ(es[4].agent, "b");
  EXPECT_EQ(es[7].detail, "busy");
  EXPECT_EQ(es.back().agent, "a");
  for (auto& e : es)
    EXPECT_EQ(e.at, clock_->now()) << to_string(e.kind);
}

// Verifies that events_since replays the retained events from a sequence
// number, at most `max` of them.
TEST_F(NodeEvents, EventsSinceReplaysRetained) {
  auto expected_kinds = run_script();
  // The last event comes from a moderator; wait for it through a replaying
  // subscription before reading the ring.
  event_recorder rec;
  ASSERT_TRUE(succeeded(rec.attach(n(), all_topics, 1)));
  ASSERT_TRUE(rec.wait_count([](const event&) { return true; }, expected_kinds.size()));

  auto all = n().events_since(as_admin, 1, 1000);
  ASSERT_TRUE(succeeded(all));
  EXPECT_EQ(kinds(*all), expected_kinds);
  EXPECT_TRUE(consecutive(*all));
  EXPECT_EQ(*all, rec.events());

  auto some = n().events_since(as_admin, 4, 3);
  ASSERT_TRUE(succeeded(some));
  ASSERT_EQ(some->size(), 3u);
  EXPECT_EQ(some->front().seq, 4u);
  EXPECT_EQ(some->back().seq, 6u);

  auto none = n().events_since(as_admin, all->back().seq + 1, 10);
  ASSERT_TRUE(succeeded(none));
  EXPECT_TRUE(none->empty());
}

// Verifies that subscribing from a sequence number replays the retained
// events from there and continues live without a gap or a duplicate.
TEST_F(NodeEvents, SubscribeFromSeqReplaysThenContinues) {
  ASSERT_TRUE(add_agents({"a", "b", "c"}));
  ASSERT_TRUE(add_group("r", "a", unmoderated(), {"b"}));
  event_recorder rec;
  ASSERT_TRUE(succeeded(rec.attach(n(), all_topics, 2)));
  ASSERT_TRUE(succeeded(n().join(as_admin, "r", "c")));
  ASSERT_TRUE(add_agent("d"));
  auto last = rec.wait_for(is_event(event_kind::agent_introduced, "d"));
  ASSERT_TRUE(last);
  auto es = rec.events();
  ASSERT_FALSE(es.empty());
  EXPECT_EQ(es.front().seq, 2u);
  EXPECT_TRUE(consecutive(es));
  EXPECT_EQ(kinds(es), (std::vector<event_kind>{
                         event_kind::agent_introduced, event_kind::agent_introduced,
                         event_kind::room_created, event_kind::member_joined,
                         event_kind::member_joined, event_kind::member_joined,
                         event_kind::agent_introduced}));
  EXPECT_EQ(es.back().seq, last->seq);
}

// Verifies that a topic mask delivers only its topics, in sequence order.
TEST_F(NodeEvents, TopicMaskFilters) {
  event_recorder rooms, lifecycle;
  ASSERT_TRUE(succeeded(rooms.attach(n(), mask_of(topic::room))));
  ASSERT_TRUE(
    succeeded(lifecycle.attach(n(), mask_of(topic::agent_lifecycle) | mask_of(topic::agent_status))));
  auto expected_kinds = run_script();
  ASSERT_TRUE(rooms.wait_for(is_event(event_kind::member_left, "a")));
  ASSERT_TRUE(lifecycle.wait_count([](const event&) { return true; }, 6));
  std::vector<event_kind> room_kinds, life_kinds;
  for (auto k : expected_kinds)
    (topic_of(k) == topic::room ? room_kinds : life_kinds).push_back(k);
  EXPECT_EQ(kinds(rooms.events()), room_kinds);
  EXPECT_EQ(kinds(lifecycle.events()), life_kinds);
  auto es = rooms.events();
  for (size_t i = 1; i < es.size(); ++i)
    EXPECT_LT(es[i - 1].seq, es[i].seq);
}

// Verifies that an empty or unknown topic mask and a bad agent filter are
// refused.
TEST_F(NodeEvents, InvalidSubscriptionIsRejected) {
  auto spec = [](topic_mask m) {
    subscription_spec s;
    s.topics = m;
    return s;
  };
  EXPECT_TRUE(fails_with(n().subscribe(as_admin, spec(0)), errc::invalid_argument));
  EXPECT_TRUE(fails_with(n().subscribe(as_admin, spec(1u << topic_count)), errc::invalid_argument));
  EXPECT_TRUE(fails_with(n().subscribe(as_admin, spec(0xff)), errc::invalid_argument));
  auto bad = spec(all_topics);
  bad.agent = "not an id";
  EXPECT_TRUE(fails_with(n().subscribe(as_admin, bad), errc::invalid_argument));
}

// Verifies that after unsubscribe a subscription receives nothing more
// while others still do.
TEST_F(NodeEvents, UnsubscribeStopsDelivery) {
  event_recorder gone, stays;
  ASSERT_TRUE(succeeded(gone.attach(n(), all_topics)));
  ASSERT_TRUE(succeeded(stays.attach(n(), all_topics)));
  ASSERT_TRUE(add_agent("a"));
  ASSERT_TRUE(gone.wait_for(is_event(event_kind::agent_introduced, "a")));
  ASSERT_TRUE(succeeded(gone.detach()));
  ASSERT_TRUE(add_agent("b"));
  ASSERT_TRUE(stays.wait_for(is_event(event_kind::agent_introduced, "b")));
  // The bus hands an event to all subscribers at once: by now `gone` would
  // have had it.
  EXPECT_EQ(gone.events().size(), 1u);
  EXPECT_EQ(stays.events().size(), 2u);
}

// Verifies that message events are published only while someone subscribes
// to the message topic.
TEST_F(NodeEvents, MessageEventsOnlyWhileSubscribed) {
  event_recorder rooms;
  ASSERT_TRUE(succeeded(rooms.attach(n(), mask_of(topic::room))));
  ASSERT_TRUE(add_agents({"a", "b"}));
  ASSERT_TRUE(succeeded(n().send(as_admin, direct_message("a", "b", "unobserved"))));

  event_recorder messages;
  ASSERT_TRUE(succeeded(messages.attach(n(), mask_of(topic::message), 1)));
  auto seen = n().send(as_admin, direct_message("a", "b", "observed"));
  ASSERT_TRUE(succeeded(seen));
  ASSERT_TRUE(messages.wait_for(is_event(event_kind::message_read, "b", {}, "a/" + seen->id)));
  auto all = n().events_since(as_admin, 1, 1000);
  ASSERT_TRUE(succeeded(all));
  for (auto& e : *all) {
    if (topic_of(e.kind) == topic::message) {
      EXPECT_NE(e.detail.find(seen->id), std::string::npos) << to_string(e.kind) << " " << e.detail;
    }
  }
  EXPECT_EQ(messages.count(is_event(event_kind::message_sent, "a")), 1u);
}

class NodeEventsRetention : public NodeFixture {
protected:
  void configure(node_config& cfg) override { cfg.event_retention = 4; }
};

// Verifies that the bus keeps only the newest event_retention events for
// replay, and that sequence numbers continue regardless.
TEST_F(NodeEventsRetention, KeepsOnlyNewestEvents) {
  event_recorder rec;
  ASSERT_TRUE(succeeded(rec.attach(n(), all_topics)));
  ASSERT_TRUE(add_agents({"a", "b", "c", "d", "e", "f"}));
  ASSERT_TRUE(rec.wait_for(is_event(event_kind::agent_introduced, "f")));
  auto kept = n().events_since(as_admin, 1, 100);
  ASSERT_TRUE(succeeded(kept));
  ASSERT_EQ(kept->size(), 4u);
  EXPECT_EQ(kept->front().seq, 3u);
  EXPECT_EQ(kept->front().agent, "c");
  EXPECT_EQ(kept->back().seq, 6u);

  // Resuming needs every event from the offset on: one no longer kept is
  // refused with the oldest kept, from which a reader may start instead.
  event_recorder too_late;
  EXPECT_TRUE(test_support::fails_with(too_late.attach(n(), all_topics, 1), errc::out_of_range,
                                       {"offset 1", "oldest kept is 3"}));
  event_recorder late;
  ASSERT_TRUE(succeeded(late.attach(n(), all_topics, 3)));
  ASSERT_TRUE(add_agent("g"));
  ASSERT_TRUE(late.wait_for(is_event(event_kind::agent_introduced, "g"))) << [&] {
    std::string out;
    for (auto& e : late.events())
      out += std::to_string(e.seq) + ":" + std::string{to_string(e.kind)} + ":" + e.agent + " ";
    if (auto why = late.ended())
      out += " ended: " + to_string(*why);
    return out;
  }();
  auto es = late.events();
  ASSERT_EQ(es.size(), 5u);
  EXPECT_EQ(es.front().seq, 3u);
  EXPECT_EQ(es.back().seq, 7u);
}

// Verifies the non-blocking reader's contract: try_next that finds nothing
// arms on_ready, which the next event calls once; a try_next that found
// events arms nothing; after on_ready(nullptr) it is never called again.
TEST_F(NodeEvents, TryNextWakesTheReaderOnceAfterAMiss) {
  auto s = n().subscribe(as_admin, subscription_spec{});
  ASSERT_TRUE(succeeded(s));
  std::atomic<int> wakes{0};
  (*s)->on_ready([&] { ++wakes; });
  EXPECT_TRUE((*s)->try_next(10).empty());
  EXPECT_TRUE(add_agent("a"));
  EXPECT_TRUE(add_agent("b"));
  ASSERT_TRUE(succeeded(n().sync_events(as_admin)));
  EXPECT_EQ(wakes.load(), 1) << "one miss, one wake-up";
  EXPECT_EQ((*s)->try_next(10).size(), 2u);
  EXPECT_TRUE(add_agent("c"));
  ASSERT_TRUE(succeeded(n().sync_events(as_admin)));
  EXPECT_EQ(wakes.load(), 1) << "woken without a miss";
  EXPECT_EQ((*s)->try_next(10).size(), 1u);
  EXPECT_TRUE((*s)->try_next(10).empty());
  (*s)->on_ready(nullptr);
  EXPECT_TRUE(add_agent("d"));
  ASSERT_TRUE(succeeded(n().sync_events(as_admin)));
  EXPECT_EQ(wakes.load(), 1) << "woken after on_ready(nullptr)";
  EXPECT_EQ((*s)->next(10, std::chrono::milliseconds(1000)).size(), 1u);
}

} // namespace
} // namespace parley
