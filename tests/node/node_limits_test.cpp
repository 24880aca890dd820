// What one caller cannot make a node hold or do forever: reply chains,
// backlogs, subscriptions and links, room sizes, skills, reserved ids, and
// the bounds that keep a subscriber that falls behind from losing events.

#include <future>
#include <limits>
#include <thread>

#include "support/node_fixture.hpp"

namespace parley {
namespace {

using namespace test_support;

class NodeLimits : public NodeFixture {
protected:
  void configure(node_config& cfg) override {
    cfg.limits.max_reply_hops = 5;
    cfg.limits.max_subscriptions = 3;
    cfg.limits.subscription_queue = 5;
    cfg.limits.max_links = 1;
    cfg.limits.max_members = 3;
    cfg.limits.backlog = 3;
    cfg.attention.inbox_limit = 2;
  }
};

// Verifies two echo agents answering each other stop once the chain of
// automatic replies reaches the hop limit (before, they wrote records until
// the disk was full), and that the stop is counted and published.
TEST_F(NodeLimits, AutomaticRepliesStopAtTheHopLimit) {
  ASSERT_TRUE(add_agents({"a", "b"}, behavior_spec::kind::echo));
  ASSERT_TRUE(succeeded(n().send(as_admin, direct_message("a", "b", "ping"))));
  ASSERT_TRUE(eventually([&] { return n().stats().replies_stopped == 1; }));
  settle();
  // The first message and five replies (hops 0 to 5); the sixth is
  // refused, and nothing more happens.
  EXPECT_EQ(n().stats().messages_sent, 6u);
  EXPECT_EQ(n().stats().refused, 1u);
  EXPECT_EQ(n().stats().replies_stopped, 1u);
}

// Verifies a room holds posts back (overloaded) while a member's backlog is
// full, and takes them again once the member caught up; nothing accepted is
// lost on the way. The slow member is an external agent without a link:
// what it receives waits in its inbox (2), then its backlog (3).
TEST_F(NodeLimits, RoomHoldsPostsWhileAMemberCannotKeepUp) {
  ASSERT_TRUE(add_agent("tx"));
  ASSERT_TRUE(add_agent("rx", behavior_spec::kind::external));
  ASSERT_TRUE(add_group("hall", "tx", unmoderated(), {"rx"}));
  int accepted = 0;
  expected<message> refused = unexpected{errc::internal, "none"};
  // The notice is asynchronous: on a busy machine it has trailed the post
  // that filled the backlog by more than 40 posts (1 run in 40, after the
  // workers stopped napping between polls), so allow 200.
  constexpr int most = 200;
  for (int i = 0; i < most; ++i) {
    auto r = n().send(as_admin, room_message("tx", "hall", "post " + std::to_string(i)));
    if (!r) {
      refused = r;
      break;
    }
    ++accepted;
  }
  EXPECT_TRUE(fails_with(refused, errc::overloaded, {"'rx'", "not keeping up"}));
  // The notice may trail the post that filled the backlog by a few posts.
  EXPECT_GE(accepted, 5);
  EXPECT_LT(accepted, most);
  // rx catches up: every accepted post comes, in order, and the room takes
  // posts again.
  auto link = n().open_link(as_admin, "rx", 1000);
  ASSERT_TRUE(succeeded(link));
  for (int i = 0; i < accepted; ++i) {
    auto item = (*link)->next(wait_timeout);
    ASSERT_TRUE(item) << "post " << i << " of " << accepted << " never came";
    EXPECT_EQ(item->msg.content, "post " + std::to_string(i));
    (*link)->acknowledge({item->msg.delivery});
  }
  EXPECT_TRUE(eventually([&] { return n().send(as_admin, room_message("tx", "hall", "again")).has_value(); }));
}

// Verifies a subscriber that falls more than subscription_queue events
// behind gets what it had, ends at the first event it missed (overloaded,
// saying where to resume), and resuming there loses nothing. Before, the
// stream went on with newer events and named a resume offset past the gap.
TEST_F(NodeLimits, SlowSubscriberEndsAtTheFirstEventItMissed) {
  subscription_spec spec;
  spec.topics = mask_of(topic::agent_lifecycle);
  auto slow = n().subscribe(as_admin, spec);
  ASSERT_TRUE(succeeded(slow));
  std::vector<agent_id> ids;
  for (int i = 0; i < 12; ++i)
    ids.push_back("a" + std::to_string(i));
  ASSERT_TRUE(add_agents(ids));
  settle();
  std::vector<event> got;
  for (int i = 0; i < 10 && !(*slow)->ended(); ++i) {
    auto batch = (*slow)->next(100, std::chrono::milliseconds(50));
    got.insert(got.end(), batch.begin(), batch.end());
  }
  ASSERT_TRUE((*slow)->ended());
  EXPECT_EQ((*slow)->ended()->code, errc::overloaded);
  ASSERT_EQ(got.size(), 5u);
  const uint64_t resume = (*slow)->resume_from();
  EXPECT_EQ(resume, got.back().seq + 1);
  EXPECT_NE((*slow)->ended()->message.find(std::to_string(resume)), std::string::npos);
  // Resuming from there gives the other 7, in order, without a gap.
  spec.from_seq = resume;
  auto again = n().subscribe(as_admin, spec);
  ASSERT_TRUE(succeeded(again));
  auto rest = (*again)->next(100, std::chrono::milliseconds(500));
  ASSERT_EQ(rest.size(), 7u);
  for (size_t i = 0; i < rest.size(); ++i)
    EXPECT_EQ(rest[i].seq, resume + i);
  EXPECT_EQ(rest.back().agent, "a11");
}

// Verifies the node caps open subscriptions and gives a slot back when a
// stream goes away.
TEST_F(NodeLimits, SubscriptionsAreCapped) {
  std::vector<std::unique_ptr<event_stream>> open;
  for (int i = 0; i < 3; ++i) {
    auto s = n().subscribe(as_admin, subscription_spec{});
    ASSERT_TRUE(succeeded(s)) << i;
    open.push_back(std::move(*s));
  }
  EXPECT_TRUE(fails_with(n().subscribe(as_admin, subscription_spec{}), errc::overloaded,
                         {"limits.max_subscriptions"}));
  EXPECT_EQ(n().stats().subscriptions, 3u);
  open.pop_back();
  EXPECT_EQ(n().stats().subscriptions, 2u);
  EXPECT_TRUE(succeeded(n().subscribe(as_admin, subscription_spec{})));
}

// Verifies the node caps open agent links (each holds threads of the API).
TEST_F(NodeLimits, LinksAreCapped) {
  ASSERT_TRUE(add_agents({"x", "y"}, behavior_spec::kind::external));
  auto first = n().open_link(as_admin, "x", 4);
  ASSERT_TRUE(succeeded(first));
  EXPECT_TRUE(fails_with(n().open_link(as_admin, "y", 4), errc::overloaded, {"limits.max_links"}));
  first->reset();
  EXPECT_TRUE(succeeded(n().open_link(as_admin, "y", 4)));
}

// Verifies a join beyond max_members is refused and changes nothing.
TEST_F(NodeLimits, JoinRespectsMaxMembers) {
  ASSERT_TRUE(add_agents({"o", "m1", "m2", "m3"}));
  ASSERT_TRUE(add_group("club", "o", unmoderated(), {"m1", "m2"}));
  EXPECT_TRUE(fails_with(n().join(as_admin, "club", "m3"), errc::failed_precondition, {"full"}));
  auto r = n().get_room(as_admin, "club");
  ASSERT_TRUE(succeeded(r));
  EXPECT_EQ(r->members.size(), 3u);
  auto m = n().get_manifest(as_admin, "m3");
  ASSERT_TRUE(succeeded(m));
  EXPECT_TRUE(m->rooms.empty());
}

// Verifies the credit a link is given is capped, not wrapped around: a
// client granting the largest credit twice still gets every message (with a
// wrapped counter it would have got 5 + 2^32 - 1 mod 2^32 = 4).
TEST_F(NodeLimits, LinkCreditIsCappedNotWrapped) {
  ASSERT_TRUE(add_agent("tx"));
  ASSERT_TRUE(add_agent("x", behavior_spec::kind::external));
  auto link = n().open_link(as_admin, "x", 5);
  ASSERT_TRUE(succeeded(link));
  (*link)->add_credit(std::numeric_limits<uint32_t>::max());
  (*link)->add_credit(std::numeric_limits<uint32_t>::max());
  size_t got = 0;
  for (int i = 0; i < 8; ++i) {
    ASSERT_TRUE(succeeded(n().send(as_admin, direct_message("tx", "x", "m" + std::to_string(i)))));
    while (auto item = (*link)->next(std::chrono::milliseconds(1000))) {
      ++got;
      (*link)->acknowledge({item->msg.delivery});
      break;
    }
  }
  EXPECT_EQ(got, 8u);
}

// Verifies the skill catalogue forgets skills no agent holds any more.
TEST_F(NodeLimits, SkillsNoAgentHoldsAreReleased) {
  auto spec = make_spec("a");
  spec.man.skills.push_back({"old", "Old skill", {}, "what a used to do"});
  ASSERT_TRUE(succeeded(n().introduce(as_admin, std::move(spec))));
  EXPECT_EQ(n().stats().skills, 1u);
  auto m = n().get_manifest(as_admin, "a");
  ASSERT_TRUE(succeeded(m));
  m->skills = {{"new", "New skill", {}, "what a does now"}};
  ASSERT_TRUE(succeeded(n().update_manifest(as_admin, *m)));
  EXPECT_EQ(n().stats().skills, 2u);
  ASSERT_TRUE(succeeded(n().run_retention(as_admin)));
  EXPECT_EQ(n().stats().skills, 1u);
  ASSERT_TRUE(succeeded(n().retire(as_admin, "a")));
}

// Verifies ids of the forms the node generates are refused when a client
// picks them (a later generated id would take its message for a duplicate),
// and that similar ids are fine.
TEST_F(NodeLimits, GeneratedIdFormsAreReserved) {
  ASSERT_TRUE(add_agents({"a", "b"}));
  for (auto id : {"m1", "m2.7", "api-3", "api-4.1"}) {
    auto m = direct_message("a", "b", "x");
    m.id = id;
    EXPECT_TRUE(fails_with(n().send(as_admin, m), errc::invalid_argument, {id, "generates"}));
  }
  for (auto id : {"m", "mine", "m1x", "api-", "msg-1"}) {
    auto m = direct_message("a", "b", "x");
    m.id = id;
    EXPECT_TRUE(succeeded(n().send(as_admin, m))) << id;
  }
  group_spec g;
  g.id = "room-7";
  EXPECT_TRUE(fails_with(n().create_group(as_admin, "a", g), errc::invalid_argument, {"room-7"}));
  g.id = "room-seven";
  EXPECT_TRUE(succeeded(n().create_group(as_admin, "a", g)));
  // Generated room ids still come out as before.
  auto made = n().create_group(as_admin, "a", group_spec{});
  ASSERT_TRUE(succeeded(made));
  EXPECT_TRUE(is_generated_room_id(made->id)) << made->id;
}

// Verifies a turn slot longer than a day (whose deadline could overflow) is
// refused.
TEST_F(NodeLimits, TurnSlotBeyondADayIsRefused) {
  ASSERT_TRUE(add_agent("a"));
  group_spec g;
  g.rules.turn_slot_ms = std::numeric_limits<int64_t>::max();
  EXPECT_TRUE(fails_with(n().create_group(as_admin, "a", g), errc::invalid_argument, {"turn_slot_ms"}));
  g.rules.turn_slot_ms = 24LL * 3600 * 1000;
  EXPECT_TRUE(succeeded(n().create_group(as_admin, "a", g)));
}

class NodeTimeouts : public NodeFixture {
protected:
  void configure(node_config& cfg) override { cfg.call_timeout = std::chrono::milliseconds(300); }

  // Agents tx and rx, with rx blocked in its behaviour (on a message from
  // tx) until g opens: rx answers nothing meanwhile.
  void block_rx(const std::shared_ptr<gate>& g) {
    ASSERT_TRUE(add_agent("tx"));
    agent_spec slow = make_spec("rx");
    slow.custom = std::make_shared<blocking_behavior>(g);
    ASSERT_TRUE(succeeded(n().introduce(as_admin, std::move(slow))));
    ASSERT_TRUE(succeeded(n().post(as_admin, direct_message("tx", "rx", "block"))));
    ASSERT_TRUE(g->wait_arrivals(1));
  }
};

// Verifies a call that gets no answer in time is deadline_exceeded (the
// outcome is unknown), not unavailable (which promises nothing changed):
// here the send does take effect once the recipient is free again.
TEST_F(NodeTimeouts, NoAnswerInTimeIsDeadlineExceeded) {
  auto g = std::make_shared<gate>();
  gate_opener opener{g};
  ASSERT_NO_FATAL_FAILURE(block_rx(g));
  event_recorder rec;
  ASSERT_TRUE(succeeded(rec.attach(n(), mask_of(topic::message))));
  auto m = direct_message("tx", "rx", "late");
  m.id = "late-1";
  EXPECT_TRUE(fails_with(n().send(as_admin, m), errc::deadline_exceeded));
  g->open();
  EXPECT_TRUE(rec.wait_for(delivered_to("rx", "tx", "late-1")));
}

// Verifies each send of a batch ends on its own: the one whose recipient
// never answers in time is deadline_exceeded, the other is delivered, and
// the batch's caller is not held beyond the call timeout.
TEST_F(NodeTimeouts, ABatchEndsOnlyTheUnansweredSendAtTheDeadline) {
  auto g = std::make_shared<gate>();
  gate_opener opener{g};
  ASSERT_TRUE(add_agent("ok"));
  ASSERT_NO_FATAL_FAILURE(block_rx(g));
  std::promise<std::vector<expected<message>>> got;
  auto answer = got.get_future();
  start(n().send_many_async(as_admin, {direct_message("tx", "rx", "late"), direct_message("tx", "ok", "fine")}),
        [&got](std::vector<expected<message>> rs) { got.set_value(std::move(rs)); },
        [](const std::exception& e) {
          return std::vector<expected<message>>(2, expected<message>{unexpected{errc::internal, e.what()}});
        });
  ASSERT_EQ(answer.wait_for(std::chrono::seconds(3)), std::future_status::ready)
    << "the batch was held well beyond its 300 ms call timeout";
  auto rs = answer.get();
  ASSERT_EQ(rs.size(), 2u);
  EXPECT_TRUE(fails_with(rs[0], errc::deadline_exceeded));
  ASSERT_TRUE(succeeded(rs[1]));
  EXPECT_EQ(rs[1]->status, message_status::delivered);
}

// Verifies a call waiting for an actor when the node stops ends with
// unavailable at once: stop() does not wait for the recipient (blocked
// here) to answer it.
TEST_F(NodeTimeouts, AWaitingCallEndsWhenTheNodeStops) {
  auto g = std::make_shared<gate>();
  gate_opener opener{g};
  ASSERT_NO_FATAL_FAILURE(block_rx(g));
  event_recorder rec;
  ASSERT_TRUE(succeeded(rec.attach(n(), mask_of(topic::message))));
  std::promise<expected<message>> got;
  auto answer = got.get_future();
  auto m = direct_message("tx", "rx", "waiting");
  m.id = "waiting-1";
  start(n().send_async(as_admin, m), [&got](expected<message> r) { got.set_value(std::move(r)); });
  // tx has asked rx (blocked) when it publishes the send.
  ASSERT_TRUE(rec.wait_for(is_event(event_kind::message_sent, "tx", {}, "waiting-1")));
  // stop() waits for every actor, and rx is blocked until the gate opens.
  std::thread stopper([&] { n().stop(); });
  const bool ended = answer.wait_for(std::chrono::seconds(5)) == std::future_status::ready;
  EXPECT_TRUE(ended) << "the call was still waiting after the node began to stop";
  if (ended) {
    EXPECT_TRUE(fails_with(answer.get(), errc::unavailable));
  }
  g->open();
  stopper.join();
}

} // namespace
} // namespace parley
