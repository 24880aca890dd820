// Room moderators through the node facade: speaker policies, turn limits,
// time slots on a manual clock, rounds and transitions.
//
// Turn holders are `echo` agents where the test must keep the turn (echo
// ignores grants); `silent` and `scripted` agents yield as soon as they are
// granted, and `chatty` ones post and then yield.

#include <algorithm>

#include "support/node_fixture.hpp"

namespace parley {
namespace {

using namespace test_support;

constexpr auto echo = behavior_spec::kind::echo;

class NodeTurns : public NodeFixture {
protected:
  void SetUp() override {
    NodeFixture::SetUp();
    ASSERT_TRUE(node_);
    ASSERT_TRUE(succeeded(rec_.attach(n(), all_topics)));
  }

  /// Speakers of the turn_granted events of room `r`, in order.
  std::vector<agent_id> granted_in(const room_id& r) {
    settle();
    std::vector<agent_id> out;
    for (auto& e : rec_.matching(is_event(event_kind::turn_granted, {}, r)))
      out.push_back(e.agent);
    return out;
  }

  event_recorder rec_;
};

// Verifies that fifo grants turns in request order and that the turn state
// shows the speaker and the waiting list; yield passes the turn on.
TEST_F(NodeTurns, FifoGrantsInRequestOrder) {
  ASSERT_TRUE(add_agents({"owner", "a", "b", "c"}, echo));
  ASSERT_TRUE(add_group("r", "owner", moderated(speaker_policy::fifo), {"c", "b", "a"}));
  ASSERT_TRUE(succeeded(n().request_turn(as_admin, "r", "a")));
  ASSERT_TRUE(succeeded(n().request_turn(as_admin, "r", "b")));
  ASSERT_TRUE(succeeded(n().request_turn(as_admin, "r", "c")));
  // Asking again while waiting or speaking changes nothing.
  ASSERT_TRUE(succeeded(n().request_turn(as_admin, "r", "b")));
  ASSERT_TRUE(succeeded(n().request_turn(as_admin, "r", "a")));

  auto t = n().turns(as_admin, "r");
  ASSERT_TRUE(succeeded(t));
  ASSERT_TRUE(t->current);
  EXPECT_EQ(t->current->speaker, "a");
  EXPECT_EQ(t->current->turn, 1u);
  EXPECT_EQ(t->current->round, 1u);
  EXPECT_EQ(t->current->granted_at, clock_->now());
  EXPECT_EQ(t->current->deadline, 0);
  EXPECT_EQ(t->turns_granted, 1u);
  EXPECT_EQ(waiting("r"), (std::vector<agent_id>{"b", "c"}));
  EXPECT_EQ(t->waiting[0].requested_at, clock_->now());

  EXPECT_TRUE(fails_with(n().yield_turn(as_admin, "r", "b"), errc::failed_precondition, {"'b'"}));
  ASSERT_TRUE(succeeded(n().yield_turn(as_admin, "r", "a")));
  EXPECT_EQ(holder("r"), "b");
  EXPECT_EQ(waiting("r"), std::vector<agent_id>{"c"});
  ASSERT_TRUE(succeeded(n().yield_turn(as_admin, "r", "b")));
  EXPECT_EQ(holder("r"), "c");
  EXPECT_TRUE(waiting("r").empty());
  ASSERT_TRUE(succeeded(n().yield_turn(as_admin, "r", "c")));
  EXPECT_EQ(holder("r"), "");

  EXPECT_EQ(granted_in("r"), (std::vector<agent_id>{"a", "b", "c"}));
  EXPECT_EQ(rec_.count(is_event(event_kind::turn_requested, {}, "r")), 3u);
  EXPECT_EQ(rec_.count(is_event(event_kind::turn_yielded, {}, "r")), 3u);
  EXPECT_EQ(n().stats().turns_granted, 3u);
}

// Verifies that non-members cannot request turns and that an unknown room
// is not found.
TEST_F(NodeTurns, RequestNeedsMembership) {
  ASSERT_TRUE(add_agents({"owner", "outsider"}, echo));
  ASSERT_TRUE(add_group("r", "owner", moderated(speaker_policy::fifo)));
  EXPECT_TRUE(
    fails_with(n().request_turn(as_admin, "r", "outsider"), errc::permission_denied, {"'outsider'"}));
  EXPECT_TRUE(fails_with(n().request_turn(as_admin, "nowhere", "owner"), errc::not_found, {"'nowhere'"}));
  EXPECT_TRUE(fails_with(n().turns(as_admin, "nowhere"), errc::not_found));
}

// Verifies that a post out of turn is refused naming the turn holder, and
// that no member receives it.
TEST_F(NodeTurns, OutOfTurnPostIsRefusedAndNotDelivered) {
  ASSERT_TRUE(add_agents({"owner", "a", "b"}, echo));
  ASSERT_TRUE(add_group("r", "owner", moderated(speaker_policy::fifo), {"a", "b"}));

  // Nobody holds the turn yet.
  EXPECT_TRUE(fails_with(n().send(as_admin, room_message("b", "r", "early")), errc::failed_precondition,
                         {"'b'", "nobody"}));
  ASSERT_TRUE(succeeded(n().request_turn(as_admin, "r", "a")));
  auto before = n().stats();
  auto refused = room_message("b", "r", "interrupting");
  refused.id = "interrupt-1";
  EXPECT_TRUE(fails_with(n().send(as_admin, refused), errc::failed_precondition,
                         {"'b'", "turn holder: 'a'", "'r'"}));

  // The holder's post reaches both other members; by then the refused one
  // would have too.
  auto ok = n().send(as_admin, room_message("a", "r", "my turn"));
  ASSERT_TRUE(succeeded(ok));
  EXPECT_EQ(ok->status, message_status::delivered);
  ASSERT_TRUE(rec_.wait_for(delivered_to("owner", "a", ok->id)));
  ASSERT_TRUE(rec_.wait_for(delivered_to("b", "a", ok->id)));
  EXPECT_EQ(rec_.count([](const event& e) {
    return e.kind == event_kind::message_delivered && e.detail == "b/interrupt-1";
  }),
            0u);
  EXPECT_EQ(n().stats().deliveries - before.deliveries, 2u);
  EXPECT_EQ(holder("r"), "a");
}

// Verifies that max_messages_per_turn ends the turn after that many posts
// and grants the next requester.
TEST_F(NodeTurns, MaxMessagesPerTurnEndsTurn) {
  ASSERT_TRUE(add_agents({"owner", "a", "b"}, echo));
  auto rules = moderated(speaker_policy::fifo);
  rules.max_messages_per_turn = 2;
  ASSERT_TRUE(add_group("r", "owner", rules, {"a", "b"}));
  ASSERT_TRUE(succeeded(n().request_turn(as_admin, "r", "a")));
  ASSERT_TRUE(succeeded(n().request_turn(as_admin, "r", "b")));

  ASSERT_TRUE(succeeded(n().send(as_admin, room_message("a", "r", "one"))));
  auto t = n().turns(as_admin, "r");
  ASSERT_TRUE(succeeded(t));
  ASSERT_TRUE(t->current);
  EXPECT_EQ(t->current->speaker, "a");
  EXPECT_EQ(t->messages_in_turn, 1u);

  ASSERT_TRUE(succeeded(n().send(as_admin, room_message("a", "r", "two"))));
  EXPECT_EQ(holder("r"), "b");
  auto ended = rec_.wait_for(is_event(event_kind::turn_yielded, "a", "r"));
  ASSERT_TRUE(ended);
  EXPECT_NE(ended->detail.find("max messages"), std::string::npos) << ended->detail;
  EXPECT_TRUE(fails_with(n().send(as_admin, room_message("a", "r", "three")), errc::failed_precondition,
                         {"turn holder: 'b'"}));
  EXPECT_EQ(granted_in("r"), (std::vector<agent_id>{"a", "b"}));
}

// Verifies that a time slot expires on the injected clock when the
// moderator next handles a message: turn_expired, then the next requester.
TEST_F(NodeTurns, TimeSlotExpiresOnManualClock) {
  ASSERT_TRUE(add_agents({"owner", "a", "b"}, echo));
  auto rules = moderated(speaker_policy::fifo);
  rules.turn_slot_ms = 1000;
  ASSERT_TRUE(add_group("r", "owner", rules, {"a", "b"}));
  ASSERT_TRUE(succeeded(n().request_turn(as_admin, "r", "a")));
  ASSERT_TRUE(succeeded(n().request_turn(as_admin, "r", "b")));
  auto t = n().turns(as_admin, "r");
  ASSERT_TRUE(succeeded(t));
  ASSERT_TRUE(t->current);
  EXPECT_EQ(t->current->deadline, t->current->granted_at + 1000);

  clock_->advance(999);
  EXPECT_EQ(holder("r"), "a");
  settle();
  EXPECT_EQ(rec_.count(is_event(event_kind::turn_expired)), 0u);

  clock_->advance(1);
  t = n().turns(as_admin, "r");
  ASSERT_TRUE(succeeded(t));
  ASSERT_TRUE(t->current);
  EXPECT_EQ(t->current->speaker, "b");
  EXPECT_EQ(t->current->granted_at, clock_->now());
  auto expired = rec_.wait_for(is_event(event_kind::turn_expired, "a", "r"));
  ASSERT_TRUE(expired);
  EXPECT_NE(expired->detail.find("expired"), std::string::npos);
  EXPECT_TRUE(fails_with(n().send(as_admin, room_message("a", "r", "too late")), errc::failed_precondition,
                         {"turn holder: 'b'"}));

  // The last speaker's slot runs out with nobody waiting: the room is free.
  clock_->advance(1000);
  EXPECT_EQ(holder("r"), "");
  settle();
  EXPECT_EQ(rec_.count(is_event(event_kind::turn_expired, {}, "r")), 2u);
}

// Verifies that round_robin grants in join order after the last speaker,
// not in request order.
TEST_F(NodeTurns, RoundRobinFollowsJoinOrder) {
  ASSERT_TRUE(add_agents({"owner", "a", "b", "c"}, echo));
  ASSERT_TRUE(add_group("r", "owner", moderated(speaker_policy::round_robin), {"a", "b", "c"}));
  ASSERT_TRUE(succeeded(n().request_turn(as_admin, "r", "owner")));
  ASSERT_TRUE(succeeded(n().request_turn(as_admin, "r", "c")));
  ASSERT_TRUE(succeeded(n().request_turn(as_admin, "r", "b")));
  ASSERT_TRUE(succeeded(n().request_turn(as_admin, "r", "a")));
  EXPECT_EQ(waiting("r"), (std::vector<agent_id>{"c", "b", "a"}));
  for (auto who : {"owner", "a", "b"})
    ASSERT_TRUE(succeeded(n().yield_turn(as_admin, "r", who))) << who;
  // Wraps around: after c comes owner again.
  ASSERT_TRUE(succeeded(n().request_turn(as_admin, "r", "b")));
  ASSERT_TRUE(succeeded(n().request_turn(as_admin, "r", "owner")));
  ASSERT_TRUE(succeeded(n().yield_turn(as_admin, "r", "c")));
  EXPECT_EQ(granted_in("r"), (std::vector<agent_id>{"owner", "a", "b", "c", "owner"}));
}

// Verifies that priority grants the highest role first, then the earliest
// request.
TEST_F(NodeTurns, PriorityPrefersHigherRole) {
  ASSERT_TRUE(add_agents({"owner", "adm", "m1", "m2", "m3"}, echo));
  ASSERT_TRUE(add_group("r", "owner", moderated(speaker_policy::priority), {"adm", "m1", "m2", "m3"}));
  ASSERT_TRUE(succeeded(n().set_role(as_admin, "r", "owner", "adm", room_role::admin)));
  ASSERT_TRUE(succeeded(n().request_turn(as_admin, "r", "m1")));
  for (auto who : {"m3", "m2", "adm", "owner"})
    ASSERT_TRUE(succeeded(n().request_turn(as_admin, "r", who))) << who;
  for (auto who : {"m1", "owner", "adm", "m3"})
    ASSERT_TRUE(succeeded(n().yield_turn(as_admin, "r", who))) << who;
  EXPECT_EQ(granted_in("r"), (std::vector<agent_id>{"m1", "owner", "adm", "m3", "m2"}));
}

// Verifies that the random policy replays exactly from its seed: two rooms
// with the same rules and requests grant in the same order.
TEST_F(NodeTurns, RandomPolicyReplaysFromSeed) {
  const std::vector<agent_id> requesters{"a", "b", "c", "d", "e"};
  ASSERT_TRUE(add_agent("owner", echo));
  ASSERT_TRUE(add_agents(requesters, echo));
  auto rules = moderated(speaker_policy::random);
  rules.seed = 7;
  for (auto r : {"r1", "r2"}) {
    ASSERT_TRUE(add_group(r, "owner", rules, requesters));
    ASSERT_TRUE(succeeded(n().request_turn(as_admin, r, "owner")));
    for (auto& who : requesters)
      ASSERT_TRUE(succeeded(n().request_turn(as_admin, r, who)));
    for (size_t i = 0; i <= requesters.size(); ++i) {
      auto speaker = holder(r);
      ASSERT_FALSE(speaker.empty()) << r << " turn " << i;
      ASSERT_TRUE(succeeded(n().yield_turn(as_admin, r, speaker)));
    }
  }
  auto first = granted_in("r1");
  EXPECT_EQ(first, granted_in("r2"));
  ASSERT_EQ(first.size(), requesters.size() + 1);
  std::vector<agent_id> sorted(first.begin() + 1, first.end());
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(sorted, requesters);
}

// Verifies that the room closes with room_closed when a round beyond
// max_rounds would start, and refuses turns afterwards.
TEST_F(NodeTurns, MaxRoundsClosesRoom) {
  ASSERT_TRUE(add_agents({"owner", "a", "b"}, echo));
  auto rules = moderated(speaker_policy::fifo);
  rules.max_rounds = 1;
  ASSERT_TRUE(add_group("r", "owner", rules, {"a", "b"}));
  ASSERT_TRUE(succeeded(n().request_turn(as_admin, "r", "a")));
  ASSERT_TRUE(succeeded(n().request_turn(as_admin, "r", "b")));
  ASSERT_TRUE(succeeded(n().yield_turn(as_admin, "r", "a")));
  EXPECT_EQ(holder("r"), "b");
  ASSERT_TRUE(succeeded(n().request_turn(as_admin, "r", "a")));
  // a again would start round 2.
  ASSERT_TRUE(succeeded(n().yield_turn(as_admin, "r", "b")));

  auto closed = rec_.wait_for(is_event(event_kind::room_closed, {}, "r"));
  ASSERT_TRUE(closed);
  EXPECT_NE(closed->detail.find("max rounds"), std::string::npos) << closed->detail;
  auto t = n().turns(as_admin, "r");
  ASSERT_TRUE(succeeded(t));
  EXPECT_TRUE(t->closed);
  EXPECT_FALSE(t->current);
  EXPECT_TRUE(t->waiting.empty());
  EXPECT_EQ(t->rounds, 1u);
  auto got = n().get_room(as_admin, "r");
  ASSERT_TRUE(succeeded(got));
  EXPECT_FALSE(got->open);
  EXPECT_TRUE(fails_with(n().request_turn(as_admin, "r", "owner"), errc::failed_precondition, {"closed"}));
  EXPECT_TRUE(fails_with(n().send(as_admin, room_message("a", "r", "hello?")), errc::failed_precondition,
                         {"closed"}));
  EXPECT_EQ(granted_in("r"), (std::vector<agent_id>{"a", "b"}));
}

// Verifies that transitions restrict who may follow a speaker, skipping
// earlier requesters, and that a speaker without an entry restricts nothing.
TEST_F(NodeTurns, TransitionsRestrictNextSpeaker) {
  ASSERT_TRUE(add_agents({"owner", "a", "b", "c"}, echo));
  auto rules = moderated(speaker_policy::fifo);
  rules.transitions["a"] = {"c"};
  ASSERT_TRUE(add_group("r", "owner", rules, {"a", "b", "c"}));
  ASSERT_TRUE(succeeded(n().request_turn(as_admin, "r", "a")));
  ASSERT_TRUE(succeeded(n().request_turn(as_admin, "r", "b")));
  ASSERT_TRUE(succeeded(n().yield_turn(as_admin, "r", "a")));
  // Only c may follow a, and c has not asked: b keeps waiting.
  EXPECT_EQ(holder("r"), "");
  EXPECT_EQ(waiting("r"), std::vector<agent_id>{"b"});
  ASSERT_TRUE(succeeded(n().request_turn(as_admin, "r", "c")));
  EXPECT_EQ(holder("r"), "c");
  ASSERT_TRUE(succeeded(n().yield_turn(as_admin, "r", "c")));
  EXPECT_EQ(holder("r"), "b");
  EXPECT_EQ(granted_in("r"), (std::vector<agent_id>{"a", "c", "b"}));
}

// Verifies that a silent agent gives back a granted turn at once, so the
// next requester gets it.
TEST_F(NodeTurns, SilentAgentYieldsWhenGranted) {
  ASSERT_TRUE(add_agents({"owner", "e"}, echo));
  ASSERT_TRUE(add_agent("quiet", behavior_spec::kind::silent));
  ASSERT_TRUE(add_group("r", "owner", moderated(speaker_policy::fifo), {"quiet", "e"}));
  ASSERT_TRUE(succeeded(n().request_turn(as_admin, "r", "quiet")));
  ASSERT_TRUE(succeeded(n().request_turn(as_admin, "r", "e")));
  auto yielded = rec_.wait_for(is_event(event_kind::turn_yielded, "quiet", "r"));
  ASSERT_TRUE(yielded);
  EXPECT_NE(yielded->detail.find("yielded"), std::string::npos);
  ASSERT_TRUE(rec_.wait_for(is_event(event_kind::turn_granted, "e", "r")));
  EXPECT_EQ(holder("r"), "e");
}

// Verifies that a nudged chatty agent asks for the turn, posts when granted
// and then yields.
TEST_F(NodeTurns, ChattyAgentPostsThenYields) {
  ASSERT_TRUE(add_agents({"owner", "listener"}, echo));
  agent_spec talker = make_spec("talker", behavior_spec::kind::chatty);
  talker.behavior.messages_per_turn = 2;
  ASSERT_TRUE(succeeded(n().introduce(as_admin, talker)));
  ASSERT_TRUE(add_group("r", "owner", moderated(speaker_policy::fifo), {"talker", "listener"}));

  ASSERT_TRUE(succeeded(n().nudge(as_admin, "talker")));
  ASSERT_TRUE(rec_.wait_for(is_event(event_kind::turn_yielded, "talker", "r")));
  auto to_listener = [](const event& e) {
    return e.kind == event_kind::message_delivered && e.agent == "listener"
           && e.detail.starts_with("talker/");
  };
  ASSERT_TRUE(rec_.wait_count(to_listener, 2));
  EXPECT_EQ(granted_in("r"), std::vector<agent_id>{"talker"});
  EXPECT_EQ(holder("r"), "");
  EXPECT_TRUE(fails_with(n().nudge(as_admin, "nobody"), errc::not_found));
}

// Verifies that a speaker leaving the room ends its turn and the next
// requester is granted.
TEST_F(NodeTurns, SpeakerLeavingEndsTurn) {
  ASSERT_TRUE(add_agents({"owner", "a", "b"}, echo));
  ASSERT_TRUE(add_group("r", "owner", moderated(speaker_policy::fifo), {"a", "b"}));
  ASSERT_TRUE(succeeded(n().request_turn(as_admin, "r", "a")));
  ASSERT_TRUE(succeeded(n().request_turn(as_admin, "r", "b")));
  ASSERT_TRUE(succeeded(n().leave(as_admin, "r", "a")));
  EXPECT_EQ(holder("r"), "b");
  auto ended = rec_.wait_for(is_event(event_kind::turn_yielded, "a", "r"));
  ASSERT_TRUE(ended);
  EXPECT_NE(ended->detail.find("left"), std::string::npos);
}

// Verifies that demoting a waiting requester to guest drops its request.
TEST_F(NodeTurns, DemotedToGuestLosesRequest) {
  ASSERT_TRUE(add_agents({"owner", "a", "b"}, echo));
  ASSERT_TRUE(add_group("r", "owner", moderated(speaker_policy::fifo), {"a", "b"}));
  ASSERT_TRUE(succeeded(n().request_turn(as_admin, "r", "a")));
  ASSERT_TRUE(succeeded(n().request_turn(as_admin, "r", "b")));
  ASSERT_TRUE(succeeded(n().set_role(as_admin, "r", "owner", "b", room_role::guest)));
  EXPECT_TRUE(waiting("r").empty());
  ASSERT_TRUE(succeeded(n().yield_turn(as_admin, "r", "a")));
  EXPECT_EQ(holder("r"), "");
}

} // namespace
} // namespace parley
