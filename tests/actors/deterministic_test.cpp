// Interleavings of agents and moderators that a real scheduler produces only
// by luck, forced one message at a time on CAF's deterministic scheduler
// (tests/actors/deterministic_fixture.hpp): who is granted, who receives
// what, and what the member lists, turn states and manifests say after.

#include "actors/deterministic_fixture.hpp"

#include <algorithm>

using namespace parley;
using namespace parley::test;


using Deterministic = DeterministicActors;

// Verifies that turn requests are granted in the order the moderator gets
// them (forced: b's request first although a was nudged first), and that
// when the holder leaves while its grant is still queued, the turn passes
// to the next waiter: nobody holds a turn without being a member, and the
// stale grant makes the leaver say nothing anyone receives.
TEST_F(Deterministic, HolderLeavingWithItsGrantQueuedPassesTheTurnOn) {
  auto o = add_agent("o");
  auto a = add_agent("a");
  auto b = add_agent("b");
  auto mod = add_room("r", {"o", "a", "b"}, rules(speaker_policy::fifo));
  a->on_nudge = {behavior_action::request_turn("r")};
  b->on_nudge = {behavior_action::request_turn("r")};
  a->speak_on_grant = b->speak_on_grant = true;
  caf::anon_send(agent("a"), atoms::nudge::value);
  caf::anon_send(agent("b"), atoms::nudge::value);
  // b asks first, then a.
  ASSERT_TRUE(run_once_on(agent("b")));
  ASSERT_TRUE(run_once_on(agent("a")));
  ASSERT_TRUE(run_once_on(mod)); // b's request: granted at once
  ASSERT_TRUE(run_once_on(mod)); // a's request: waits
  ASSERT_TRUE(has_mail(agent("b"))) << "b's grant is queued";
  // b leaves before it has read its grant.
  tell(mod, atoms::remove_member::value, room_id{"r"}, admin_, agent_id{"b"}, false);
  while (run_once_on(mod)) {
  }
  EXPECT_TRUE(answer<caf::ok_atom>().has_value());
  run_all();

  auto turns = read_turns("r");
  ASSERT_TRUE(turns.current);
  EXPECT_EQ(turns.current->speaker, "a");
  EXPECT_TRUE(turns.waiting.empty());
  EXPECT_EQ(members_of("r"), (std::vector<agent_id>{"o", "a"}));
  EXPECT_TRUE(read_manifest("b").rooms.empty());
  // Granted b (turn 1), then a (turn 2) once b left.
  EXPECT_EQ(events_of(event_kind::turn_granted), (std::vector<std::string>{"b turn 1", "a turn 2"}));
  // b read its stale grant and spoke into a room it had left: refused;
  // only a's words reached the members.
  EXPECT_EQ(b->grants(), 1u);
  EXPECT_EQ(o->room_messages(), (std::vector<std::string>{"a speaks in turn 2"}));
  EXPECT_TRUE(b->room_messages().empty());
  EXPECT_EQ(events_of(event_kind::message_refused, "b").size(), 1u);
}

// Verifies that a member leaving while a post's fan-out to it is queued
// does not disturb the others: every remaining member gets the post
// exactly once, the next post reaches the remaining members only (the
// member list shifted), and the leaver's manifest no longer lists the room.
TEST_F(Deterministic, MemberLeavingDuringAFanOutLeavesTheOthersWhole) {
  auto o = add_agent("o");
  auto a = add_agent("a");
  auto b = add_agent("b");
  auto c = add_agent("c");
  auto mod = add_room("r", {"o", "a", "b", "c"}, rules(speaker_policy::none));
  a->on_nudge = {behavior_action::send(address::room("r"), "first")};
  caf::anon_send(agent("a"), atoms::nudge::value);
  ASSERT_TRUE(run_once_on(agent("a"))); // a posts
  tell(mod, atoms::remove_member::value, room_id{"r"}, admin_, agent_id{"b"}, false);
  ASSERT_TRUE(run_once_on(mod)); // the post: fanned out to o, b, c
  ASSERT_TRUE(run_once_on(mod)); // b leaves, its copy still queued
  ASSERT_TRUE(has_mail(agent("b")));
  EXPECT_TRUE(answer<caf::ok_atom>().has_value());
  run_all();
  a->on_nudge = {behavior_action::send(address::room("r"), "second")};
  caf::anon_send(agent("a"), atoms::nudge::value);
  run_all();

  EXPECT_EQ(o->room_messages(), (std::vector<std::string>{"first", "second"}));
  EXPECT_EQ(c->room_messages(), (std::vector<std::string>{"first", "second"}));
  EXPECT_EQ(b->room_messages(), (std::vector<std::string>{"first"})) << "b got what was sent while it was a member";
  EXPECT_TRUE(a->room_messages().empty()) << "the author gets no copy";
  EXPECT_EQ(members_of("r"), (std::vector<agent_id>{"o", "a", "c"}));
  EXPECT_TRUE(read_manifest("b").rooms.empty());
  EXPECT_EQ(read_manifest("c").rooms, (std::vector<room_id>{"r"}));
}

// Verifies that an agent that retires while a turn grant and a room post
// for it are queued reacts to neither (its behaviour is not called after
// retiring, so it says nothing), leaves both rooms, and the turn passes to
// the next waiter.
TEST_F(Deterministic, RetiredAgentServesAndSpeaksNothingQueuedBeforeIt) {
  auto o = add_agent("o");
  auto x = add_agent("x");
  auto z = add_agent("z");
  auto turns_room = add_room("t", {"o", "x", "z"}, rules(speaker_policy::fifo));
  auto chat_room = add_room("c", {"o", "x"}, rules(speaker_policy::none));
  x->speak_on_grant = z->speak_on_grant = true;
  // x retires first in its mailbox; the grant and the post are already on
  // their way (sent by actors that do not know yet).
  tell(agent("x"), atoms::retire::value, admin_);
  tell(turns_room, atoms::request_turn::value, room_id{"t"}, admin_, agent_id{"x"});
  tell(turns_room, atoms::request_turn::value, room_id{"t"}, admin_, agent_id{"z"});
  ASSERT_TRUE(run_once_on(turns_room)); // x granted: the grant is queued behind the retirement
  ASSERT_TRUE(run_once_on(turns_room)); // z waits
  o->on_nudge = {behavior_action::send(address::room("c"), "for x")};
  caf::anon_send(agent("o"), atoms::nudge::value);
  ASSERT_TRUE(run_once_on(agent("o")));
  ASSERT_TRUE(run_once_on(chat_room)); // the post: x's copy queued behind the retirement
  const size_t seen_before = x->log.size();
  run_all();
  EXPECT_TRUE(answer<caf::ok_atom>().has_value()); // retire
  EXPECT_TRUE(answer<caf::ok_atom>().has_value()); // x's request
  EXPECT_TRUE(answer<caf::ok_atom>().has_value()); // z's request

  EXPECT_EQ(x->log.size(), seen_before) << "the retired agent's behaviour was called";
  // o hears z, granted after x left, and nothing from x.
  EXPECT_EQ(o->room_messages(), (std::vector<std::string>{"z speaks in turn 2"}));
  EXPECT_EQ(read_manifest("x").status, agent_status::retired);
  EXPECT_TRUE(read_manifest("x").rooms.empty());
  EXPECT_EQ(members_of("t"), (std::vector<agent_id>{"o", "z"}));
  EXPECT_EQ(members_of("c"), (std::vector<agent_id>{"o"}));
  auto turns = read_turns("t");
  ASSERT_TRUE(turns.current);
  EXPECT_EQ(turns.current->speaker, "z");
  EXPECT_EQ(z->grants(), 1u);
}

// Verifies that with two joins and a close interleaved (admit p, close,
// admit q at the moderator), the join processed after the close is refused
// with failed_precondition, and the member list, the manifests and the
// closed turn state agree.
TEST_F(Deterministic, JoinAfterCloseIsRefusedAndMembershipStaysConsistent) {
  add_agent("o");
  add_agent("p");
  add_agent("q");
  auto mod = add_room("r", {"o"}, rules(speaker_policy::fifo));
  tell(agent("p"), atoms::join_as::value, admin_, room_id{"r"});
  ASSERT_TRUE(run_once_on(agent("p"))); // p asks the moderator to admit it
  tell(mod, atoms::close_room::value, admin_, agent_id{});
  tell(agent("q"), atoms::join_as::value, admin_, room_id{"r"});
  ASSERT_TRUE(run_once_on(agent("q"))); // q asks too, behind the close
  ASSERT_TRUE(run_once_on(mod));        // admit p
  ASSERT_TRUE(run_once_on(mod));        // close
  ASSERT_TRUE(run_once_on(mod));        // admit q
  run_all();
  auto p_joined = answer<room>();
  auto closed = answer<caf::ok_atom>();
  auto q_joined = answer<room>();

  ASSERT_TRUE(p_joined.has_value()) << to_string(p_joined.error());
  EXPECT_TRUE(closed.has_value());
  ASSERT_FALSE(q_joined.has_value());
  EXPECT_EQ(q_joined.error().code, errc::failed_precondition) << to_string(q_joined.error());
  auto r = read_room("r");
  EXPECT_FALSE(r.open);
  EXPECT_EQ(members_of("r"), (std::vector<agent_id>{"o", "p"}));
  EXPECT_EQ(read_manifest("p").rooms, (std::vector<room_id>{"r"}));
  EXPECT_TRUE(read_manifest("q").rooms.empty());
  EXPECT_TRUE(read_turns("r").closed);
  EXPECT_EQ(events_of(event_kind::member_joined), (std::vector<std::string>{"p member"}));
  EXPECT_EQ(events_of(event_kind::room_closed).size(), 1u);
}

// Verifies that when the holder's time slot runs out (the manual clock
// moves past its deadline) while its post is queued at the moderator, the
// moderator expires the turn before it looks at the post: the post is
// refused (the author no longer holds the turn), reaches nobody, and the
// next waiter is granted the turn.
TEST_F(Deterministic, PostQueuedWhenTheSlotExpiresIsRefusedAndTheNextWaiterSpeaks) {
  auto o = add_agent("o");
  auto a = add_agent("a");
  auto b = add_agent("b");
  auto mod = add_room("r", {"o", "a", "b"}, rules(speaker_policy::fifo, 1000));
  a->speak_on_grant = true;
  tell(mod, atoms::request_turn::value, room_id{"r"}, admin_, agent_id{"a"});
  tell(mod, atoms::request_turn::value, room_id{"r"}, admin_, agent_id{"b"});
  ASSERT_TRUE(run_once_on(mod)); // a granted until now + 1000 ms
  ASSERT_TRUE(run_once_on(mod)); // b waits
  ASSERT_TRUE(run_once_on(agent("a"))); // a reads its grant and posts: queued at the moderator
  ASSERT_TRUE(has_mail(mod));
  clock_->advance(1000); // the slot ends before the moderator sees the post
  run_all();
  EXPECT_TRUE(answer<caf::ok_atom>().has_value());
  EXPECT_TRUE(answer<caf::ok_atom>().has_value());

  EXPECT_TRUE(o->room_messages().empty()) << "a post after the slot ended was delivered";
  EXPECT_EQ(events_of(event_kind::message_refused, "a").size(), 1u);
  EXPECT_EQ(rt_->counters.refused.load(), 1u);
  EXPECT_EQ(events_of(event_kind::turn_expired), (std::vector<std::string>{"a turn 1: time slot expired"}));
  auto turns = read_turns("r");
  ASSERT_TRUE(turns.current);
  EXPECT_EQ(turns.current->speaker, "b");
  EXPECT_EQ(b->grants(), 1u);
  // The moderator's own timers (CAF's clock, not the manual one) fire later
  // and find nothing to end.
  ASSERT_TRUE(sched_->has_pending_timeout());
  sched_->trigger_timeouts();
  run_all();
  EXPECT_EQ(read_turns("r").current->speaker, "b");
  EXPECT_EQ(events_of(event_kind::turn_expired).size(), 1u);
}

// Verifies that an agent whose retirement is handled while its join is on
// its way to the moderator (join_as delegated, admit not yet handled) ends
// up out of the room: a retired agent is a member of no room.
// Verifies an agent that retires while its join is in flight ends up in no
// room: retire() leaves the rooms its manifest lists, and the room it is
// being admitted to is not listed yet, so the agent leaves it when the
// moderator's joined_room arrives.
TEST_F(Deterministic, AgentRetiringWhileItsJoinIsInFlightEndsUpInNoRoom) {
  add_agent("o");
  add_agent("x");
  auto mod = add_room("r", {"o"}, rules(speaker_policy::fifo));
  tell(agent("x"), atoms::join_as::value, admin_, room_id{"r"});
  ASSERT_TRUE(run_once_on(agent("x"))); // not retired: asks the moderator to admit it
  tell(agent("x"), atoms::retire::value, admin_);
  ASSERT_TRUE(run_once_on(agent("x"))); // retires: its manifest lists no room yet
  ASSERT_TRUE(run_once_on(mod));        // admits x
  run_all();
  (void) answer<room>();
  EXPECT_TRUE(answer<caf::ok_atom>().has_value());

  EXPECT_EQ(read_manifest("x").status, agent_status::retired);
  EXPECT_EQ(members_of("r"), (std::vector<agent_id>{"o"})) << "a retired agent is a member";
  EXPECT_TRUE(read_manifest("x").rooms.empty());
}
