#include "parley/model/turns.hpp"

#include <set>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

namespace parley {
namespace {

constexpr timestamp t0 = 1'700'000'000'000;

// A group room with members in the given join order.
room make_room(std::vector<std::pair<std::string, room_role>> members,
               speaker_policy policy = speaker_policy::fifo) {
  room r;
  r.id = "hall";
  r.kind = room_kind::group;
  r.rules.policy = policy;
  timestamp joined = t0;
  for (auto& [id, role] : members)
    r.members.push_back({id, role, joined++});
  return r;
}

room four_members(speaker_policy policy) {
  return make_room({{"a", room_role::member},
                    {"b", room_role::member},
                    {"c", room_role::member},
                    {"d", room_role::member}},
                   policy);
}

// Grants the next turn and returns the speaker ("" when nobody is granted).
std::string grant(turn_scheduler& s, const room& r, timestamp now = t0) {
  auto g = s.grant_next(r, now);
  EXPECT_FALSE(g.closes);
  return g.granted ? g.granted->speaker : std::string{};
}

// Requests for every id in order; each must succeed.
void request_all(turn_scheduler& s, const room& r, std::vector<std::string> ids,
                 timestamp now = t0) {
  for (auto& id : ids) {
    auto ok = s.request(r, id, now++);
    ASSERT_TRUE(ok) << id << ": " << ok.error().message;
  }
}

// Grants and yields turn after turn, returning the speakers in order.
std::vector<std::string> grant_all(turn_scheduler& s, const room& r) {
  std::vector<std::string> out;
  for (;;) {
    auto who = grant(s, r);
    if (who.empty())
      return out;
    out.push_back(who);
    EXPECT_TRUE(s.yield(r, who));
  }
}

using strings = std::vector<std::string>;

// Verifies fifo grants turns in request order, one at a time.
TEST(TurnScheduler, FifoGrantsInRequestOrder) {
  auto r = four_members(speaker_policy::fifo);
  turn_scheduler s{r.rules};
  request_all(s, r, {"c", "a", "d"});
  auto g = s.grant_next(r, t0 + 10);
  ASSERT_TRUE(g.granted);
  EXPECT_EQ(g.granted->speaker, "c");
  EXPECT_EQ(g.granted->turn, 1u);
  EXPECT_EQ(g.granted->round, 1u);
  EXPECT_EQ(g.granted->granted_at, t0 + 10);
  EXPECT_EQ(g.granted->deadline, t0 + 10 + r.rules.turn_slot_ms);
  // Nobody else is granted while c holds the turn.
  EXPECT_FALSE(s.grant_next(r, t0 + 11).granted);
  ASSERT_EQ(s.state().waiting.size(), 2u);
  EXPECT_EQ(s.state().waiting[0].who, "a");
  EXPECT_TRUE(s.yield(r, "c"));
  EXPECT_EQ(grant_all(s, r), (strings{"a", "d"}));
  EXPECT_EQ(s.state().turns_granted, 3u);
}

// Verifies round robin walks join order after the last speaker, skipping non-requesters.
TEST(TurnScheduler, RoundRobinFollowsJoinOrderAfterLastSpeaker) {
  auto r = four_members(speaker_policy::round_robin);
  turn_scheduler s{r.rules};
  // Request order d, c, b; join order a, b, c, d; nobody has spoken: start at the first member.
  request_all(s, r, {"d", "c", "b"});
  EXPECT_EQ(grant_all(s, r), (strings{"b", "c", "d"}));
  // After d the walk wraps around to a, then b (c has no request and is skipped).
  request_all(s, r, {"b", "d", "a"});
  EXPECT_EQ(grant(s, r), "a");
  ASSERT_TRUE(s.yield(r, "a"));
  // a asks again at once, but b and d come first in the walk after a.
  request_all(s, r, {"a"});
  EXPECT_EQ(grant_all(s, r), (strings{"b", "d", "a"}));
}

// Verifies round robin resumes after the last speaker when an earlier member has left.
TEST(TurnScheduler, RoundRobinContinuesAfterLastSpeakerWhenEarlierMemberLeaves) {
  auto r = four_members(speaker_policy::round_robin);
  turn_scheduler s{r.rules};
  request_all(s, r, {"c"});
  EXPECT_EQ(grant(s, r), "c");
  ASSERT_TRUE(s.yield(r, "c"));
  // a (joined first) leaves; join order is now b, c, d.
  s.withdraw("a");
  r.members.erase(r.members.begin());
  request_all(s, r, {"b", "d"});
  EXPECT_EQ(grant_all(s, r), (strings{"d", "b"}));
}

// Verifies round robin resumes with the last speaker's successor when the speaker has left.
TEST(TurnScheduler, RoundRobinContinuesAfterLastSpeakerWhoLeft) {
  auto r = four_members(speaker_policy::round_robin);
  turn_scheduler s{r.rules};
  request_all(s, r, {"b"});
  EXPECT_EQ(grant(s, r), "b");
  ASSERT_TRUE(s.yield(r, "b"));
  // b leaves; join order is now a, c, d, and c followed b.
  s.withdraw("b");
  r.members.erase(r.members.begin() + 1);
  request_all(s, r, {"a", "d", "c"});
  EXPECT_EQ(grant_all(s, r), (strings{"c", "d", "a"}));
}

// Verifies priority grants the highest role first, then the earliest request.
TEST(TurnScheduler, PriorityGrantsHighestRoleThenEarliestRequest) {
  auto r = make_room({{"m1", room_role::member},
                      {"own", room_role::owner},
                      {"m2", room_role::member},
                      {"adm", room_role::admin},
                      {"adm2", room_role::admin}},
                     speaker_policy::priority);
  turn_scheduler s{r.rules};
  request_all(s, r, {"m2", "adm2", "m1", "own", "adm"});
  EXPECT_EQ(grant_all(s, r), (strings{"own", "adm2", "adm", "m2", "m1"}));
}

// Runs `n` grants under the random policy with `seed`; everyone in `requesters` asks again
// right after speaking.
strings random_sequence(uint64_t seed, const strings& requesters, int n) {
  auto r = make_room({{"a", room_role::member},
                      {"b", room_role::member},
                      {"c", room_role::member},
                      {"d", room_role::member},
                      {"e", room_role::member},
                      {"quiet", room_role::member}},
                     speaker_policy::random);
  r.rules.seed = seed;
  turn_scheduler s{r.rules};
  request_all(s, r, requesters);
  strings out;
  for (int i = 0; i < n; ++i) {
    auto who = grant(s, r);
    if (who.empty())
      break;
    out.push_back(who);
    EXPECT_TRUE(s.yield(r, who));
    EXPECT_TRUE(s.request(r, who, t0 + i));
  }
  return out;
}

// Verifies the random policy replays from its seed and differs for another seed.
TEST(TurnScheduler, RandomIsReproducibleFromSeed) {
  const strings requesters{"a", "b", "c", "d", "e"};
  auto first = random_sequence(42, requesters, 40);
  ASSERT_EQ(first.size(), 40u);
  EXPECT_EQ(random_sequence(42, requesters, 40), first);
  // 40 picks among 5: two seeds agree everywhere with probability 5^-40.
  EXPECT_NE(random_sequence(43, requesters, 40), first);
  // Uniform among requesters: each of the 5 shows up in 40 picks (misses one w.p. < 1e-3).
  std::set<std::string> seen(first.begin(), first.end());
  EXPECT_EQ(seen.size(), 5u);
}

// Verifies the random policy only grants agents that asked.
TEST(TurnScheduler, RandomGrantsOnlyRequesters) {
  for (uint64_t seed : {0u, 1u, 7u, 99u}) {
    auto seq = random_sequence(seed, {"b", "d"}, 30);
    ASSERT_EQ(seq.size(), 30u);
    for (auto& who : seq)
      EXPECT_TRUE(who == "b" || who == "d") << who;
  }
}

// Verifies transitions restrict who may follow; a speaker without an entry restricts nothing.
TEST(TurnScheduler, TransitionsRestrictWhoMayFollow) {
  auto r = four_members(speaker_policy::fifo);
  r.rules.transitions["a"] = {"c"};
  turn_scheduler s{r.rules};
  request_all(s, r, {"a"});
  EXPECT_EQ(grant(s, r), "a");
  ASSERT_TRUE(s.yield(r, "a"));
  // b asked first, but only c may follow a.
  request_all(s, r, {"b", "c"});
  EXPECT_EQ(grant(s, r), "c");
  ASSERT_TRUE(s.yield(r, "c"));
  // c has no entry: b (waiting since before) is free to follow.
  request_all(s, r, {"a"});
  EXPECT_EQ(grant(s, r), "b");
}

// Verifies nobody is granted when no waiting requester may follow the last speaker.
TEST(TurnScheduler, TransitionsCanLeaveNobodyGranted) {
  auto r = four_members(speaker_policy::fifo);
  r.rules.transitions["a"] = {"d"};
  turn_scheduler s{r.rules};
  request_all(s, r, {"a"});
  EXPECT_EQ(grant(s, r), "a");
  ASSERT_TRUE(s.yield(r, "a"));
  request_all(s, r, {"b", "c"});
  auto g = s.grant_next(r, t0);
  EXPECT_FALSE(g.granted);
  EXPECT_FALSE(g.closes);
  EXPECT_FALSE(s.state().current);
  EXPECT_EQ(s.state().waiting.size(), 2u); // still waiting
  request_all(s, r, {"d"});
  EXPECT_EQ(grant(s, r), "d");
}

// Verifies transitions also restrict the round robin and priority policies.
TEST(TurnScheduler, TransitionsApplyToRoundRobinAndPriority) {
  for (auto policy : {speaker_policy::round_robin, speaker_policy::priority}) {
    auto r = four_members(policy);
    r.rules.transitions["a"] = {"d"};
    turn_scheduler s{r.rules};
    request_all(s, r, {"a"});
    EXPECT_EQ(grant(s, r), "a");
    ASSERT_TRUE(s.yield(r, "a"));
    request_all(s, r, {"b", "c", "d"});
    EXPECT_EQ(grant(s, r), "d") << to_string(policy);
  }
}

// Verifies check_post: the holder may post; another member is refused naming the holder.
TEST(TurnScheduler, CheckPostAllowsOnlyTheHolder) {
  auto r = four_members(speaker_policy::fifo);
  turn_scheduler s{r.rules};
  auto nobody = s.check_post(r, "a");
  ASSERT_FALSE(nobody);
  EXPECT_EQ(nobody.error().code, errc::failed_precondition);
  EXPECT_NE(nobody.error().message.find("nobody"), std::string::npos) << nobody.error().message;

  request_all(s, r, {"b"});
  EXPECT_EQ(grant(s, r), "b");
  EXPECT_TRUE(s.check_post(r, "b"));
  auto other = s.check_post(r, "a");
  ASSERT_FALSE(other);
  EXPECT_EQ(other.error().code, errc::failed_precondition);
  EXPECT_NE(other.error().message.find("'b'"), std::string::npos) << other.error().message;
  EXPECT_NE(other.error().message.find("'hall'"), std::string::npos) << other.error().message;
}

// Verifies guests and non-members may neither request nor post (permission_denied).
TEST(TurnScheduler, RefusesGuestsAndStrangers) {
  auto r = make_room({{"host", room_role::owner}, {"visitor", room_role::guest}});
  turn_scheduler s{r.rules};
  for (auto who : {"visitor", "stranger"}) {
    auto req = s.request(r, who, t0);
    ASSERT_FALSE(req) << who;
    EXPECT_EQ(req.error().code, errc::permission_denied) << who;
    auto post = s.check_post(r, who);
    ASSERT_FALSE(post) << who;
    EXPECT_EQ(post.error().code, errc::permission_denied) << who;
  }
  EXPECT_TRUE(s.state().waiting.empty());
}

// Verifies an unmoderated room lets every member but guests post, and refuses turn requests.
TEST(TurnScheduler, UnmoderatedRoomAllowsAllButGuests) {
  auto r = make_room({{"host", room_role::owner},
                      {"m", room_role::member},
                      {"visitor", room_role::guest}},
                     speaker_policy::none);
  turn_scheduler s{r.rules};
  EXPECT_TRUE(s.check_post(r, "host"));
  EXPECT_TRUE(s.check_post(r, "m"));
  auto guest = s.check_post(r, "visitor");
  ASSERT_FALSE(guest);
  EXPECT_EQ(guest.error().code, errc::permission_denied);
  auto stranger = s.check_post(r, "stranger");
  ASSERT_FALSE(stranger);
  EXPECT_EQ(stranger.error().code, errc::permission_denied);
  auto req = s.request(r, "m", t0);
  ASSERT_FALSE(req);
  EXPECT_EQ(req.error().code, errc::failed_precondition);
  EXPECT_FALSE(s.grant_next(r, t0).granted);
}

// Verifies a closed room refuses requests and posts with failed_precondition.
TEST(TurnScheduler, ClosedRoomRefusesEverything) {
  auto r = four_members(speaker_policy::fifo);
  r.open = false;
  turn_scheduler s{r.rules};
  auto req = s.request(r, "a", t0);
  ASSERT_FALSE(req);
  EXPECT_EQ(req.error().code, errc::failed_precondition);
  auto post = s.check_post(r, "a");
  ASSERT_FALSE(post);
  EXPECT_EQ(post.error().code, errc::failed_precondition);

  r.open = true;
  turn_scheduler closed{r.rules};
  closed.close();
  EXPECT_FALSE(closed.request(r, "a", t0));
  EXPECT_TRUE(closed.state().closed);
}

// Verifies max_messages_per_turn ends the turn on the message that uses it up.
TEST(TurnScheduler, MaxMessagesPerTurnEndsTheTurn) {
  auto r = four_members(speaker_policy::fifo);
  r.rules.max_messages_per_turn = 3;
  turn_scheduler s{r.rules};
  EXPECT_FALSE(s.count_message()); // no turn: nothing to count
  request_all(s, r, {"a"});
  EXPECT_EQ(grant(s, r), "a");
  EXPECT_FALSE(s.count_message());
  EXPECT_FALSE(s.count_message());
  EXPECT_EQ(s.state().messages_in_turn, 2u);
  EXPECT_TRUE(s.check_post(r, "a"));
  EXPECT_TRUE(s.count_message());
  EXPECT_FALSE(s.state().current);
  EXPECT_FALSE(s.check_post(r, "a"));
  // The next grant starts counting afresh.
  request_all(s, r, {"a"});
  EXPECT_EQ(grant(s, r), "a");
  EXPECT_EQ(s.state().messages_in_turn, 0u);
}

// Verifies max_messages_per_turn = 0 never ends a turn.
TEST(TurnScheduler, UnlimitedMessagesPerTurn) {
  auto r = four_members(speaker_policy::fifo);
  r.rules.max_messages_per_turn = 0;
  turn_scheduler s{r.rules};
  request_all(s, r, {"a"});
  EXPECT_EQ(grant(s, r), "a");
  for (int i = 0; i < 100; ++i)
    ASSERT_FALSE(s.count_message());
  EXPECT_TRUE(s.check_post(r, "a"));
}

// Verifies expire() ends a turn exactly when its deadline is reached, not before.
TEST(TurnScheduler, ExpireEndsTurnAtDeadline) {
  auto r = four_members(speaker_policy::fifo);
  r.rules.turn_slot_ms = 1000;
  turn_scheduler s{r.rules};
  request_all(s, r, {"a"});
  auto g = s.grant_next(r, t0 + 100);
  ASSERT_TRUE(g.granted);
  EXPECT_EQ(g.granted->deadline, t0 + 1100);
  EXPECT_FALSE(s.expire(t0 + 1099));
  EXPECT_TRUE(s.state().current);
  auto ended = s.expire(t0 + 1100);
  ASSERT_TRUE(ended);
  EXPECT_EQ(ended->speaker, "a");
  EXPECT_FALSE(s.state().current);
  EXPECT_FALSE(s.expire(t0 + 5000)); // nothing left to expire
}

// Verifies turn_slot_ms = 0 gives turns without a deadline that never expire.
TEST(TurnScheduler, ZeroSlotNeverExpires) {
  auto r = four_members(speaker_policy::fifo);
  r.rules.turn_slot_ms = 0;
  turn_scheduler s{r.rules};
  request_all(s, r, {"a"});
  auto g = s.grant_next(r, t0);
  ASSERT_TRUE(g.granted);
  EXPECT_EQ(g.granted->deadline, 0);
  EXPECT_FALSE(s.expire(t0 + 365LL * 24 * 3600 * 1000));
  EXPECT_TRUE(s.check_post(r, "a"));
}

// Verifies yield by anyone but the holder fails and leaves the turn in place.
TEST(TurnScheduler, YieldByNonHolderFails) {
  auto r = four_members(speaker_policy::fifo);
  turn_scheduler s{r.rules};
  auto none = s.yield(r, "a");
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code, errc::failed_precondition);
  request_all(s, r, {"a", "b"});
  EXPECT_EQ(grant(s, r), "a");
  auto wrong = s.yield(r, "b");
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error().code, errc::failed_precondition);
  ASSERT_TRUE(s.state().current);
  EXPECT_EQ(s.state().current->speaker, "a");
  auto ok = s.yield(r, "a");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->speaker, "a");
  EXPECT_EQ(ok->turn, 1u);
}

// Verifies max_rounds = 2 closes the room when a third round would start, refusing requests.
TEST(TurnScheduler, MaxRoundsClosesTheRoom) {
  auto r = four_members(speaker_policy::fifo);
  r.rules.max_rounds = 2;
  turn_scheduler s{r.rules};
  std::vector<uint32_t> rounds;
  std::vector<std::string> speakers;
  request_all(s, r, {"a", "b"});
  for (int i = 0; i < 4; ++i) {
    auto g = s.grant_next(r, t0 + i);
    ASSERT_FALSE(g.closes) << "closed early at grant " << i;
    ASSERT_TRUE(g.granted);
    speakers.push_back(g.granted->speaker);
    rounds.push_back(g.granted->round);
    ASSERT_TRUE(s.yield(r, g.granted->speaker));
    ASSERT_TRUE(s.request(r, g.granted->speaker, t0 + i));
  }
  EXPECT_EQ(speakers, (strings{"a", "b", "a", "b"}));
  EXPECT_EQ(rounds, (std::vector<uint32_t>{1, 1, 2, 2}));
  EXPECT_EQ(s.state().rounds, 2u);

  auto third = s.grant_next(r, t0 + 10);
  EXPECT_TRUE(third.closes);
  EXPECT_FALSE(third.granted);
  EXPECT_TRUE(s.state().closed);
  EXPECT_TRUE(s.state().waiting.empty());
  auto late = s.request(r, "c", t0 + 11);
  ASSERT_FALSE(late);
  EXPECT_EQ(late.error().code, errc::failed_precondition);
  EXPECT_FALSE(s.grant_next(r, t0 + 12).granted);
}

// Verifies a round only ends when a speaker repeats: three distinct speakers share round 1.
TEST(TurnScheduler, RoundEndsWhenASpeakerRepeats) {
  auto r = four_members(speaker_policy::fifo);
  r.rules.max_rounds = 1;
  turn_scheduler s{r.rules};
  request_all(s, r, {"a", "b", "c"});
  EXPECT_EQ(grant_all(s, r), (strings{"a", "b", "c"}));
  EXPECT_EQ(s.state().rounds, 1u);
  request_all(s, r, {"d", "a"});
  EXPECT_EQ(grant(s, r), "d"); // still distinct: round 1
  ASSERT_TRUE(s.yield(r, "d"));
  auto g = s.grant_next(r, t0);
  EXPECT_TRUE(g.closes); // a again would start round 2
}

// Verifies asking again while waiting or while speaking changes nothing.
TEST(TurnScheduler, DuplicateRequestsAreIdempotent) {
  auto r = four_members(speaker_policy::fifo);
  turn_scheduler s{r.rules};
  request_all(s, r, {"a", "b", "a", "a"});
  ASSERT_EQ(s.state().waiting.size(), 2u);
  EXPECT_EQ(s.state().waiting[0].who, "a");
  EXPECT_EQ(s.state().waiting[0].requested_at, t0); // the first request keeps its place
  EXPECT_EQ(grant(s, r), "a");
  EXPECT_TRUE(s.request(r, "a", t0 + 100)); // while speaking
  ASSERT_EQ(s.state().waiting.size(), 1u);
  EXPECT_EQ(s.state().waiting[0].who, "b");
  ASSERT_TRUE(s.yield(r, "a"));
  EXPECT_EQ(grant_all(s, r), (strings{"b"}));
}

// Verifies withdraw drops a waiting request, and ends (and returns) a held turn.
TEST(TurnScheduler, WithdrawDropsRequestAndEndsHeldTurn) {
  auto r = four_members(speaker_policy::fifo);
  turn_scheduler s{r.rules};
  request_all(s, r, {"a", "b", "c"});
  EXPECT_FALSE(s.withdraw("b")); // waiting only: nothing ended
  ASSERT_EQ(s.state().waiting.size(), 2u);
  EXPECT_EQ(grant(s, r), "a");
  auto ended = s.withdraw("a");
  ASSERT_TRUE(ended);
  EXPECT_EQ(ended->speaker, "a");
  EXPECT_FALSE(s.state().current);
  EXPECT_FALSE(s.withdraw("nobody"));
  EXPECT_EQ(grant_all(s, r), (strings{"c"}));
}

// Verifies a requester who left the room (or became a guest) is passed over.
TEST(TurnScheduler, SkipsRequestersNoLongerAllowed) {
  auto r = four_members(speaker_policy::fifo);
  turn_scheduler s{r.rules};
  request_all(s, r, {"a", "b", "c"});
  r.members.erase(r.members.begin()); // a left without withdrawing
  r.members[0].role = room_role::guest; // b was demoted
  EXPECT_EQ(grant(s, r), "c");
}

// Verifies a saved scheduler continues where it stopped: same speaker with a
// fresh slot, same queue minus agents who left, same round-robin position.
TEST(TurnScheduler, SaveAndRestoreContinues) {
  auto r = four_members(speaker_policy::round_robin);
  r.rules.turn_slot_ms = 1000;
  turn_scheduler s{r.rules};
  for (auto who : {"a", "b", "c", "d"})
    ASSERT_TRUE(s.request(r, who, t0).has_value());
  ASSERT_EQ(grant(s, r), "a");
  auto saved = s.save();

  // The node was down for 5 s; "c" left meanwhile.
  auto later = r;
  std::erase_if(later.members, [](const room_member& m) { return m.id == "c"; });
  turn_scheduler back{later.rules};
  back.restore(saved, later, t0 + 5000);
  ASSERT_TRUE(back.state().current);
  EXPECT_EQ(back.state().current->speaker, "a");
  EXPECT_EQ(back.state().current->granted_at, t0 + 5000);
  EXPECT_EQ(back.state().current->deadline, t0 + 6000);
  EXPECT_FALSE(back.expire(t0 + 5999));
  std::vector<std::string> waiting;
  for (auto& w : back.state().waiting)
    waiting.push_back(w.who);
  EXPECT_EQ(waiting, (std::vector<std::string>{"b", "d"}));
  // Round robin goes on after "a" as the original would (without "c").
  ASSERT_TRUE(back.yield(later, "a").has_value());
  EXPECT_EQ(grant(back, later, t0 + 5001), "b");
  EXPECT_EQ(back.state().turns_granted, saved.state.turns_granted + 1);
}

} // namespace
} // namespace parley
