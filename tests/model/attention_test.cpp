#include "parley/model/attention.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace parley {
namespace {

constexpr timestamp t0 = 1'700'000'000'000;

message direct_from(std::string peer, std::string content = "hi", timestamp deadline = 0) {
  message m;
  m.from = std::move(peer);
  m.to = address::agent("me");
  m.content = std::move(content);
  m.deadline = deadline;
  return m;
}

message room_msg(std::string room, std::string content = "hi", timestamp deadline = 0) {
  message m;
  m.from = "someone";
  m.to = address::room(std::move(room));
  m.content = std::move(content);
  m.deadline = deadline;
  return m;
}

// A queue over its own params; tests adjust params_ before pushing.
class AttentionQueue : public ::testing::Test {
protected:
  // Pushes to the room dialogue `room` with a large capacity; the push must succeed.
  void push_room(const std::string& room, timestamp now, timestamp deadline = 0,
                 std::string content = "hi") {
    auto ok = q_.push(dialogue_key::room(room), room_msg(room, std::move(content), deadline), now,
                      1000);
    ASSERT_TRUE(ok) << ok.error().message;
  }

  // Pops everything pending at `now`, returning the served dialogues in order.
  std::vector<std::string> drain(timestamp now) {
    std::vector<std::string> out;
    while (auto b = q_.pop(now))
      out.push_back(to_string(b->key));
    return out;
  }

  attention_params params_;
  attention_queue q_{&params_};
};

using strings = std::vector<std::string>;

// Verifies strict priority serves dialogues by descending importance, regardless of push order.
TEST_F(AttentionQueue, StrictPriorityServesHighestImportanceFirst) {
  q_.set_importance(dialogue_key::room("low"), 1);
  q_.set_importance(dialogue_key::room("high"), 5);
  q_.set_importance(dialogue_key::room("mid"), 3);
  push_room("low", t0);
  push_room("high", t0);
  push_room("mid", t0);
  EXPECT_EQ(q_.active_dialogues(), 3u);
  EXPECT_EQ(drain(t0), (strings{"room:high", "room:mid", "room:low"}));
  EXPECT_TRUE(q_.empty());
  EXPECT_EQ(q_.active_dialogues(), 0u);
}

// Verifies the relationship with the sender raises a direct dialogue's priority.
TEST_F(AttentionQueue, StrictPriorityWeighsRelationship) {
  q_.set_relationship("friend", 2);
  q_.set_relationship("acquaintance", 0.5);
  EXPECT_EQ(q_.relationship("friend"), 2);
  EXPECT_EQ(q_.relationship("stranger"), 0);
  for (auto peer : {"stranger", "acquaintance", "friend"})
    ASSERT_TRUE(q_.push(dialogue_key::direct(peer), direct_from(peer), t0, 10));
  EXPECT_EQ(drain(t0), (strings{"direct:friend", "direct:acquaintance", "direct:stranger"}));
}

// Verifies importance_weight and relationship_weight decide between importance and relationship.
TEST_F(AttentionQueue, WeightsTradeImportanceAgainstRelationship) {
  // room:work has importance 3 (sender relationship 0);
  // direct:bob has importance 1 and relationship 4.5.
  // Score = w_i * importance + w_r * relationship:
  //   w_i = 1: work 3, bob 1 + 4.5 = 5.5 -> bob first.
  //   w_i = 3: work 9, bob 3 + 4.5 = 7.5 -> work first.
  for (double w_i : {1.0, 3.0}) {
    attention_params params;
    params.importance_weight = w_i;
    attention_queue q{&params};
    q.set_importance(dialogue_key::room("work"), 3);
    q.set_relationship("bob", 4.5);
    ASSERT_TRUE(q.push(dialogue_key::room("work"), room_msg("work"), t0, 10));
    ASSERT_TRUE(q.push(dialogue_key::direct("bob"), direct_from("bob"), t0, 10));
    auto first = q.pop(t0);
    ASSERT_TRUE(first);
    EXPECT_EQ(to_string(first->key), w_i == 1.0 ? "direct:bob" : "room:work") << "w_i " << w_i;
  }
}

// Verifies dialogues of equal score are served in the order their input arrived.
TEST_F(AttentionQueue, TiesAreServedInArrivalOrder) {
  for (auto r : {"c", "a", "d", "b"})
    push_room(r, t0);
  EXPECT_EQ(drain(t0), (strings{"room:c", "room:a", "room:d", "room:b"}));

  // Equal scores reached by different routes (importance 2 vs importance 1 + relationship 1)
  // also tie, and the earlier arrival wins either way round.
  for (bool direct_first : {true, false}) {
    attention_queue q{&params_};
    q.set_importance(dialogue_key::room("imp"), 2);
    q.set_relationship("pal", 1);
    auto push_direct = [&] {
      ASSERT_TRUE(q.push(dialogue_key::direct("pal"), direct_from("pal"), t0, 10));
    };
    auto push_room_imp = [&] {
      ASSERT_TRUE(q.push(dialogue_key::room("imp"), room_msg("imp"), t0, 10));
    };
    if (direct_first) {
      push_direct();
      push_room_imp();
    } else {
      push_room_imp();
      push_direct();
    }
    auto first = q.pop(t0);
    ASSERT_TRUE(first);
    EXPECT_EQ(to_string(first->key), direct_first ? "direct:pal" : "room:imp");
  }
}

// Verifies an importance change applies from the next push, not to input already pending.
TEST_F(AttentionQueue, ImportanceChangeAppliesFromNextPush) {
  q_.set_importance(dialogue_key::room("a"), 1);
  q_.set_importance(dialogue_key::room("b"), 2);
  push_room("a", t0);
  push_room("b", t0);
  q_.set_importance(dialogue_key::room("a"), 10);
  EXPECT_EQ(drain(t0), (strings{"room:b", "room:a"}));
  push_room("b", t0);
  push_room("a", t0);
  EXPECT_EQ(drain(t0), (strings{"room:a", "room:b"}));
}

// Verifies low importance overtakes newer high importance once (w_high - w_low) / aging s older.
TEST_F(AttentionQueue, AgingLetsOldLowImportanceInputOvertakeNewHighImportance) {
  params_.aging_per_second = 2.0;
  const double w_low = 1, w_high = 5;
  // score = weight + aging * seconds waited, so the head start that makes them equal is:
  const auto crossover_ms =
    static_cast<int64_t>((w_high - w_low) / params_.aging_per_second * 1000);
  ASSERT_EQ(crossover_ms, 2000);
  for (int64_t head_start : {crossover_ms - 1, crossover_ms + 1}) {
    attention_queue q{&params_};
    q.set_importance(dialogue_key::room("low"), w_low);
    q.set_importance(dialogue_key::room("high"), w_high);
    ASSERT_TRUE(q.push(dialogue_key::room("low"), room_msg("low"), t0, 10));
    ASSERT_TRUE(q.push(dialogue_key::room("high"), room_msg("high"), t0 + head_start, 10));
    // The pop time must not matter: both age at the same rate.
    for (timestamp now : {t0 + head_start, t0 + head_start + 60'000}) {
      attention_queue copy = q;
      auto first = copy.pop(now);
      ASSERT_TRUE(first);
      EXPECT_EQ(to_string(first->key), head_start < crossover_ms ? "room:high" : "room:low")
        << "head start " << head_start << " ms, popped at +" << (now - t0) << " ms";
    }
  }
}

// Verifies a steady stream of high-importance input cannot starve a low-importance dialogue.
TEST_F(AttentionQueue, AgingPreventsStarvationUnderSteadyHighPriorityInput) {
  params_.aging_per_second = 1.0;
  const double w_low = 1, w_high = 10;
  const int64_t step_ms = 70;
  const int n_high = 4;
  // Every high dialogue is re-fed each step and served about every n_high steps, so it never
  // waits more than (n_high + 1) steps; the low one wins once its wait exceeds that by
  // (w_high - w_low) / aging seconds.
  const auto crossover_ms =
    static_cast<int64_t>((w_high - w_low) / params_.aging_per_second * 1000);
  const int64_t bound_ms = crossover_ms + (n_high + 1) * step_ms;

  q_.set_importance(dialogue_key::room("low"), w_low);
  for (int j = 0; j < n_high; ++j)
    q_.set_importance(dialogue_key::room("high" + std::to_string(j)), w_high);
  push_room("low", t0);

  std::optional<int64_t> served_after;
  int high_served = 0;
  for (int k = 1; k <= 1000 && !served_after; ++k) {
    const timestamp now = t0 + k * step_ms;
    for (int j = 0; j < n_high; ++j)
      push_room("high" + std::to_string(j), now);
    auto b = q_.pop(now);
    ASSERT_TRUE(b);
    if (b->key == dialogue_key::room("low"))
      served_after = now - t0;
    else
      ++high_served;
  }
  ASSERT_TRUE(served_after) << "low-importance dialogue starved";
  // Not before it could have won: any earlier win would mean importance is ignored.
  EXPECT_GE(*served_after, crossover_ms);
  EXPECT_LE(*served_after, bound_ms);
  EXPECT_GT(high_served, 100);
}

// Verifies a high dialogue re-fed every step loses to the old low one right at the crossover.
TEST_F(AttentionQueue, AgingCrossoverWithOneFreshHighDialogue) {
  params_.aging_per_second = 1.0;
  const int64_t step_ms = 70;
  q_.set_importance(dialogue_key::room("low"), 1);
  q_.set_importance(dialogue_key::room("high"), 10);
  push_room("low", t0);
  // The high dialogue is pushed right before each pop, so it has waited 0 s: the low one wins
  // at the first pop after it has waited 9 s, i.e. at step ceil(9000 / 70) = 129 (9030 ms).
  int low_step = -1;
  for (int k = 1; k <= 200; ++k) {
    push_room("high", t0 + k * step_ms);
    auto b = q_.pop(t0 + k * step_ms);
    ASSERT_TRUE(b);
    if (b->key == dialogue_key::room("low")) {
      low_step = k;
      break;
    }
  }
  EXPECT_EQ(low_step, (9000 + step_ms - 1) / step_ms);
}

// Verifies deadlines inside urgent_window_ms go first, earliest first; ones outside do not.
TEST_F(AttentionQueue, UrgentDeadlinesGoFirstEarliestFirst) {
  ASSERT_EQ(params_.urgent_window_ms, 5000);
  q_.set_importance(dialogue_key::room("boss"), 10);
  q_.set_importance(dialogue_key::room("side"), 2);
  push_room("in3000", t0, t0 + 3000);
  push_room("boss", t0);
  push_room("out6000", t0, t0 + 6000);
  push_room("in1000", t0, t0 + 1000);
  push_room("side", t0);
  push_room("at5000", t0, t0 + 5000); // exactly at the window edge: urgent
  push_room("overdue", t0, t0 - 10);  // already past: most urgent
  EXPECT_EQ(drain(t0), (strings{"room:overdue", "room:in1000", "room:in3000", "room:at5000",
                                "room:boss", "room:side", "room:out6000"}));
}

// Verifies a deadline becomes urgent as time moves into the window.
TEST_F(AttentionQueue, DeadlineBecomesUrgentWhenTimeEntersWindow) {
  q_.set_importance(dialogue_key::room("boss"), 10);
  push_room("boss", t0);
  push_room("due", t0, t0 + 6000);
  attention_queue before = q_;
  auto b = before.pop(t0 + 999); // 5001 ms left: outside
  ASSERT_TRUE(b);
  EXPECT_EQ(to_string(b->key), "room:boss");
  auto a = q_.pop(t0 + 1000); // 5000 ms left: inside
  ASSERT_TRUE(a);
  EXPECT_EQ(to_string(a->key), "room:due");
}

// Verifies a deadline on later input makes a pending dialogue urgent; a later one is ignored.
TEST_F(AttentionQueue, LaterInputCanMakePendingDialogueUrgent) {
  q_.set_importance(dialogue_key::room("boss"), 10);
  push_room("boss", t0);
  push_room("slow", t0, 0, "first");
  push_room("other", t0, t0 + 2000);
  push_room("slow", t0, t0 + 1000, "second");
  push_room("slow", t0, t0 + 4000, "third"); // later deadline does not replace the earlier one
  auto b = q_.pop(t0);
  ASSERT_TRUE(b);
  EXPECT_EQ(to_string(b->key), "room:slow");
  ASSERT_EQ(b->inputs.size(), 3u);
  EXPECT_EQ(b->inputs[0].content, "first");
  EXPECT_EQ(drain(t0), (strings{"room:other", "room:boss"}));
}

// Verifies a pending dialogue's deadline moves up when later input brings an earlier one.
TEST_F(AttentionQueue, EarlierDeadlineOnLaterInputMovesDialogueUp) {
  push_room("slow", t0, t0 + 4000);
  push_room("other", t0, t0 + 2000);
  push_room("slow", t0, t0 + 1000);
  EXPECT_EQ(drain(t0), (strings{"room:slow", "room:other"}));
}

// Verifies a served deadline does not linger: the dialogue's next input without one is not urgent.
TEST_F(AttentionQueue, ServedDeadlineDoesNotStayUrgent) {
  q_.set_importance(dialogue_key::room("boss"), 10);
  push_room("due", t0, t0 + 100);
  EXPECT_EQ(drain(t0), (strings{"room:due"}));
  push_room("due", t0 + 1);
  push_room("boss", t0 + 1);
  EXPECT_EQ(drain(t0 + 2), (strings{"room:boss", "room:due"}));
}

// Runs `rounds` pops under weighted round robin, re-feeding each served dialogue so that all
// stay pending; returns how often each was served.
std::map<std::string, int> run_wrr(attention_queue& q, const std::vector<std::string>& rooms,
                                   int rounds, std::vector<std::string>* order = nullptr) {
  for (auto& r : rooms)
    EXPECT_TRUE(q.push(dialogue_key::room(r), room_msg(r), t0, 100));
  std::map<std::string, int> counts;
  for (int i = 0; i < rounds; ++i) {
    const timestamp now = t0 + i;
    auto b = q.pop(now);
    if (!b) {
      ADD_FAILURE() << "queue ran dry";
      break;
    }
    EXPECT_EQ(q.active_dialogues(), rooms.size() - 1);
    ++counts[b->key.id];
    if (order)
      order->push_back(b->key.id);
    EXPECT_TRUE(q.push(b->key, room_msg(b->key.id), now, 100));
  }
  return counts;
}

// Verifies weighted round robin serves continuously pending dialogues in proportion to weight.
TEST_F(AttentionQueue, WeightedRoundRobinServesInProportionToWeight) {
  params_.policy = attention_policy::weighted_round_robin;
  q_.set_importance(dialogue_key::room("heavy"), 3);
  q_.set_importance(dialogue_key::room("light"), 1);
  std::vector<std::string> order;
  auto counts = run_wrr(q_, {"heavy", "light"}, 400, &order);
  // Smooth WRR repeats a fixed pattern every (3 + 1) picks, so 400 picks give 300:100; allow a
  // pick of slack either way so the test does not depend on where the pattern starts.
  EXPECT_NEAR(counts["heavy"], 300, 1);
  EXPECT_NEAR(counts["light"], 100, 1);
  // Smoothness: the light dialogue never waits more than one full cycle.
  int since_light = 0, worst = 0;
  for (auto& id : order) {
    since_light = id == "light" ? 0 : since_light + 1;
    worst = std::max(worst, since_light);
  }
  EXPECT_LE(worst, 3);
}

// Verifies the proportions for three dialogues, weights from importance and relationship.
TEST_F(AttentionQueue, WeightedRoundRobinWithThreeWeights) {
  params_.policy = attention_policy::weighted_round_robin;
  q_.set_importance(dialogue_key::room("a"), 1);
  q_.set_importance(dialogue_key::room("b"), 2);
  q_.set_importance(dialogue_key::room("c"), 4);
  q_.set_relationship("someone", 1); // every room_msg is from "someone": weights 2, 3, 5
  auto counts = run_wrr(q_, {"a", "b", "c"}, 1000);
  // One cycle is 10 picks; 1000 picks = 100 cycles.
  EXPECT_NEAR(counts["a"], 200, 2);
  EXPECT_NEAR(counts["b"], 300, 2);
  EXPECT_NEAR(counts["c"], 500, 2);
}

// Verifies a weight-0 dialogue is still served under weighted round robin (it is not starved).
TEST_F(AttentionQueue, WeightedRoundRobinServesWeightZeroDialogue) {
  params_.policy = attention_policy::weighted_round_robin;
  q_.set_importance(dialogue_key::room("busy"), 1);
  q_.set_importance(dialogue_key::room("zero"), 0);
  std::vector<std::string> order;
  auto counts = run_wrr(q_, {"busy", "zero"}, 1010, &order);
  // The queue gives weight 0 a small floor weight (0.01 against 1 here), so it is served about
  // once per 101 picks: about 10 times in 1010 picks, the first time within ~101 picks.
  EXPECT_GE(counts["zero"], 5);
  EXPECT_LE(counts["zero"], 20);
  auto first = std::find(order.begin(), order.end(), "zero");
  ASSERT_NE(first, order.end());
  EXPECT_LE(first - order.begin(), 150);
  EXPECT_GT(first - order.begin(), 0) << "weight 0 must not be served first";
}

// Verifies deadlines take precedence under weighted round robin too.
TEST_F(AttentionQueue, WeightedRoundRobinStillServesUrgentFirst) {
  params_.policy = attention_policy::weighted_round_robin;
  q_.set_importance(dialogue_key::room("heavy"), 100);
  push_room("heavy", t0);
  push_room("due", t0, t0 + 10);
  EXPECT_EQ(drain(t0), (strings{"room:due", "room:heavy"}));
}

// Verifies a popped batch carries all pending input of its dialogue, in arrival order.
TEST_F(AttentionQueue, BatchHoldsAllPendingInputsInOrder) {
  q_.set_importance(dialogue_key::room("a"), 2);
  push_room("a", t0, 0, "one");
  push_room("b", t0, 0, "other");
  push_room("a", t0 + 1, 0, "two");
  push_room("a", t0 + 2, 0, "three");
  EXPECT_EQ(q_.pending(), 4u);
  EXPECT_EQ(q_.active_dialogues(), 2u);
  auto b = q_.pop(t0 + 3);
  ASSERT_TRUE(b);
  EXPECT_EQ(b->key, dialogue_key::room("a"));
  ASSERT_EQ(b->inputs.size(), 3u);
  EXPECT_EQ(b->inputs[0].content, "one");
  EXPECT_EQ(b->inputs[1].content, "two");
  EXPECT_EQ(b->inputs[2].content, "three");
  EXPECT_EQ(b->context, &q_.context(dialogue_key::room("a")));
  EXPECT_EQ(q_.pending(), 1u);
  EXPECT_EQ(q_.active_dialogues(), 1u);
  auto rest = q_.pop(t0 + 3);
  ASSERT_TRUE(rest);
  ASSERT_EQ(rest->inputs.size(), 1u);
  EXPECT_EQ(rest->inputs[0].content, "other");
  EXPECT_FALSE(q_.pop(t0 + 3));
}

// Verifies a full inbox refuses input with overloaded and leaves the queue as it was.
TEST_F(AttentionQueue, FullInboxRefusesInputWithoutChange) {
  params_.inbox_limit = 3;
  push_room("a", t0, 0, "1");
  push_room("a", t0, 0, "2");
  push_room("b", t0, 0, "3");
  for (auto key : {dialogue_key::room("a"), dialogue_key::room("c")}) {
    auto r = q_.push(key, room_msg(key.id, "extra", t0 + 1), t0, 1000);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, errc::overloaded);
    EXPECT_NE(r.error().message.find("3"), std::string::npos) << r.error().message;
  }
  EXPECT_EQ(q_.pending(), 3u);
  EXPECT_EQ(q_.active_dialogues(), 2u);
  // The refused input (with a deadline) must not have been queued nor made anything urgent.
  auto first = q_.pop(t0);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->key, dialogue_key::room("a"));
  EXPECT_EQ(first->inputs.size(), 2u);
  auto second = q_.pop(t0);
  ASSERT_TRUE(second);
  EXPECT_EQ(second->inputs.size(), 1u);
  EXPECT_FALSE(q_.pop(t0));
  // Room again after popping.
  EXPECT_TRUE(q_.push(dialogue_key::room("c"), room_msg("c"), t0, 1000));
}

// Verifies capacity refuses a new dialogue but accepts more input to a pending one.
TEST_F(AttentionQueue, CapacityRefusesNewDialogueButNotMoreInput) {
  const uint32_t capacity = 2;
  ASSERT_TRUE(q_.push(dialogue_key::direct("a"), direct_from("a"), t0, capacity));
  ASSERT_TRUE(q_.push(dialogue_key::direct("b"), direct_from("b"), t0, capacity));
  auto refused = q_.push(dialogue_key::direct("c"), direct_from("c"), t0, capacity);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, errc::overloaded);
  EXPECT_NE(refused.error().message.find("capacity"), std::string::npos) << refused.error().message;
  EXPECT_EQ(q_.pending(), 2u);
  EXPECT_EQ(q_.active_dialogues(), 2u);

  EXPECT_TRUE(q_.push(dialogue_key::direct("a"), direct_from("a", "more"), t0, capacity));
  EXPECT_EQ(q_.pending(), 3u);
  EXPECT_EQ(q_.active_dialogues(), 2u);

  auto served = q_.pop(t0);
  ASSERT_TRUE(served);
  EXPECT_EQ(served->key, dialogue_key::direct("a"));
  EXPECT_EQ(served->inputs.size(), 2u);
  EXPECT_TRUE(q_.push(dialogue_key::direct("c"), direct_from("c"), t0, capacity));
  EXPECT_EQ(drain(t0), (strings{"direct:b", "direct:c"}));
}

// Verifies a refused push leaves the message with the caller (the agent
// then keeps it in its backlog instead of losing it).
TEST_F(AttentionQueue, ARefusedPushLeavesTheMessageWithTheCaller) {
  ASSERT_TRUE(q_.push(dialogue_key::direct("a"), direct_from("a"), t0, 1));
  auto m = direct_from("b", "keep me");
  auto refused = q_.push(dialogue_key::direct("b"), std::move(m), t0, 1);
  ASSERT_FALSE(refused);
  EXPECT_EQ(m.content, "keep me");
  EXPECT_EQ(m.from, "b");
  ASSERT_TRUE(q_.push(dialogue_key::direct("a"), std::move(m), t0, 1));
  auto served = q_.pop(t0);
  ASSERT_TRUE(served);
  ASSERT_EQ(served->inputs.size(), 2u);
  EXPECT_EQ(served->inputs[1].content, "keep me");
}

// Verifies focus() is null before any pop and then names the last served dialogue.
TEST_F(AttentionQueue, FocusIsLastServedDialogue) {
  EXPECT_EQ(q_.focus(), nullptr);
  q_.set_importance(dialogue_key::room("first"), 2);
  push_room("first", t0);
  push_room("second", t0);
  ASSERT_TRUE(q_.pop(t0));
  ASSERT_NE(q_.focus(), nullptr);
  EXPECT_EQ(*q_.focus(), dialogue_key::room("first"));
  ASSERT_TRUE(q_.pop(t0));
  EXPECT_EQ(*q_.focus(), dialogue_key::room("second"));
  EXPECT_FALSE(q_.pop(t0)); // an empty pop leaves the focus alone
  EXPECT_EQ(*q_.focus(), dialogue_key::room("second"));
}

// Verifies dialogue_of files direct messages under the other party and room messages by room.
TEST(DialogueKey, DialogueOfNamesTheOtherPartyOrTheRoom) {
  message in = direct_from("bob");
  EXPECT_EQ(dialogue_of(in, "me"), dialogue_key::direct("bob"));
  message out;
  out.from = "me";
  out.to = address::agent("bob");
  EXPECT_EQ(dialogue_of(out, "me"), dialogue_key::direct("bob"));
  EXPECT_EQ(dialogue_of(room_msg("lobby"), "me"), dialogue_key::room("lobby"));
  EXPECT_EQ(to_string(dialogue_key::direct("bob")), "direct:bob");
  EXPECT_EQ(to_string(dialogue_key::room("lobby")), "room:lobby");
}

// Verifies attention policy names round-trip and unknown names are refused.
TEST(AttentionPolicy, RoundTripsAndRejectsUnknown) {
  for (auto p : {attention_policy::strict_priority, attention_policy::weighted_round_robin}) {
    auto parsed = parse_attention_policy(to_string(p));
    ASSERT_TRUE(parsed);
    EXPECT_EQ(*parsed, p);
  }
  auto bad = parse_attention_policy("lottery");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, errc::invalid_argument);
  EXPECT_NE(bad.error().message.find("strict_priority weighted_round_robin"), std::string::npos);
}

// Verifies dialogues without pending input are forgotten beyond
// max_idle_dialogues (least recently active first), so a stream of new
// peers cannot grow an agent without bound; dialogues with pending input
// are all served exactly once although eviction renumbers the table, and a
// dialogue with a knob set is kept.
TEST_F(AttentionQueue, ForgetsIdleDialoguesBeyondTheLimit) {
  params_.max_idle_dialogues = 4;
  q_.set_importance(dialogue_key::room("important"), 0.5);
  for (int i = 0; i < 40; ++i) {
    auto peer = "peer" + std::to_string(i);
    ASSERT_TRUE(q_.push(dialogue_key::direct(peer), direct_from(peer), t0 + i, 1000));
  }
  std::set<std::string> served;
  while (auto b = q_.pop(t0 + 100)) {
    EXPECT_TRUE(served.insert(to_string(b->key)).second) << to_string(b->key) << " served twice";
    // Idle ones beyond the limit go as the others are served.
    EXPECT_LE(q_.dialogues() - q_.active_dialogues(), 4u + 1 /* the knob */ + 1 /* focus */);
  }
  EXPECT_EQ(served.size(), 40u);
  EXPECT_LE(q_.dialogues(), 6u);
  // The knob survived: with weight 0.5 its dialogue ranks below a plain
  // one pushed at the same time (a forgotten knob would tie at 1.0).
  push_room("important", t0 + 200);
  push_room("plain", t0 + 200);
  EXPECT_EQ(drain(t0 + 200), (strings{"room:plain", "room:important"}));
}

} // namespace
} // namespace parley
