#include "parley/behavior/behavior.hpp"

#include <memory>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace parley {
namespace {

constexpr timestamp t0 = 1'700'000'000'000;
using action_kind = behavior_action::kind;

message direct(std::string from, std::string content, std::string id = "m-1") {
  message m;
  m.id = std::move(id);
  m.from = std::move(from);
  m.to = address::agent("me");
  m.content = std::move(content);
  return m;
}

message in_room(std::string room, std::string from, std::string content, std::string id = "m-2") {
  message m;
  m.id = std::move(id);
  m.from = std::move(from);
  m.to = address::room(std::move(room));
  m.content = std::move(content);
  return m;
}

// Holds what a behaviour sees and runs it.
class Harness {
public:
  Harness() { self_.id = "me"; }

  manifest& self() { return self_; }

  std::vector<behavior_action> on_message(agent_behavior& b, const message& m) {
    behavior_input in;
    in.k = behavior_input::kind::message;
    in.msg = &m;
    return run(b, in);
  }
  std::vector<behavior_action> on_turn(agent_behavior& b, std::string room) {
    behavior_input in;
    in.k = behavior_input::kind::turn_granted;
    in.room = std::move(room);
    return run(b, in);
  }
  std::vector<behavior_action> on_nudge(agent_behavior& b) {
    behavior_input in;
    in.k = behavior_input::kind::nudge;
    return run(b, in);
  }

private:
  std::vector<behavior_action> run(agent_behavior& b, const behavior_input& in) {
    behavior_view view{self_, skills_, &context_, t0};
    std::vector<behavior_action> out;
    b.react(view, in, out);
    return out;
  }

  manifest self_;
  std::vector<std::shared_ptr<const skill>> skills_;
  dialogue_context context_;
};

behavior_spec spec_of(behavior_spec::kind k) {
  behavior_spec s;
  s.k = k;
  return s;
}

// A comparable rendering of an action.
std::string show(const behavior_action& a) {
  switch (a.k) {
    case action_kind::send:
      return std::string{"send to "} + (a.msg.to.is_room() ? "room:" : "agent:") + a.msg.to.id
             + " [" + a.msg.content + "] re " + a.msg.reply_to;
    case action_kind::request_turn: return "request " + a.room;
    case action_kind::yield_turn: return "yield " + a.room;
  }
  return "?";
}

std::vector<std::string> show(const std::vector<behavior_action>& as) {
  std::vector<std::string> out;
  for (auto& a : as)
    out.push_back(show(a));
  return out;
}

// Verifies echo answers a direct message with the same content, to the sender, as a reply.
TEST(EchoBehavior, AnswersDirectMessageWithSameContent) {
  auto b = make_behavior(spec_of(behavior_spec::kind::echo), "me");
  ASSERT_EQ(b->name(), "echo");
  Harness h;
  auto out = h.on_message(*b, direct("bob", "ping 123", "m-7"));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].k, action_kind::send);
  EXPECT_EQ(out[0].msg.to, address::agent("bob"));
  EXPECT_EQ(out[0].msg.content, "ping 123");
  EXPECT_EQ(out[0].msg.reply_to, "m-7");
}

// Verifies echo keeps the content type, so a json message comes back as json.
TEST(EchoBehavior, KeepsTheContentType) {
  auto b = make_behavior(spec_of(behavior_spec::kind::echo), "me");
  Harness h;
  auto m = direct("bob", R"({"n": 1})");
  m.type = content_type::json;
  auto out = h.on_message(*b, m);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].msg.content, m.content);
  EXPECT_EQ(out[0].msg.type, content_type::json);
}

// Verifies echo ignores room messages, turn grants and nudges.
TEST(EchoBehavior, IgnoresRoomMessagesAndOtherInputs) {
  auto b = make_behavior(spec_of(behavior_spec::kind::echo), "me");
  Harness h;
  EXPECT_TRUE(h.on_message(*b, in_room("lobby", "bob", "ping")).empty());
  EXPECT_TRUE(h.on_nudge(*b).empty());
  for (auto& a : h.on_turn(*b, "lobby"))
    EXPECT_NE(a.k, action_kind::send) << show(a);
}

// Verifies silent gives back a granted turn and otherwise does nothing.
TEST(SilentBehavior, YieldsGrantedTurnAndStaysQuiet) {
  auto b = make_behavior(spec_of(behavior_spec::kind::silent), "me");
  ASSERT_EQ(b->name(), "silent");
  Harness h;
  auto out = h.on_turn(*b, "lobby");
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].k, action_kind::yield_turn);
  EXPECT_EQ(out[0].room, "lobby");
  EXPECT_TRUE(h.on_message(*b, direct("bob", "hello")).empty());
  EXPECT_TRUE(h.on_message(*b, in_room("lobby", "bob", "hello")).empty());
  h.self().rooms = {"lobby"};
  EXPECT_TRUE(h.on_nudge(*b).empty());
}

// Verifies scripted answers a matching direct message to the sender with the scripted value.
TEST(ScriptedBehavior, AnswersMatchingDirectMessage) {
  auto spec = spec_of(behavior_spec::kind::scripted);
  spec.script = {{"hello", "hi there"}, {"bye", "see you"}};
  auto b = make_behavior(spec, "me");
  ASSERT_EQ(b->name(), "scripted");
  Harness h;
  auto out = h.on_message(*b, direct("bob", "bye", "m-9"));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].k, action_kind::send);
  EXPECT_EQ(out[0].msg.to, address::agent("bob"));
  EXPECT_EQ(out[0].msg.content, "see you");
  EXPECT_EQ(out[0].msg.reply_to, "m-9");
}

// Verifies scripted answers a matching room message into the room, not to the sender.
TEST(ScriptedBehavior, AnswersRoomMessageIntoTheRoom) {
  auto spec = spec_of(behavior_spec::kind::scripted);
  spec.script = {{"hello", "hi there"}};
  auto b = make_behavior(spec, "me");
  Harness h;
  auto out = h.on_message(*b, in_room("lobby", "bob", "hello"));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].msg.to, address::room("lobby"));
  EXPECT_EQ(out[0].msg.content, "hi there");
}

// Verifies scripted stays quiet for content that is not exactly a key of the script.
TEST(ScriptedBehavior, IgnoresNonMatchingContent) {
  auto spec = spec_of(behavior_spec::kind::scripted);
  spec.script = {{"hello", "hi there"}};
  auto b = make_behavior(spec, "me");
  Harness h;
  for (auto content : {"Hello", "hello!", " hello", "", "hi there"})
    EXPECT_TRUE(h.on_message(*b, direct("bob", content)).empty()) << content;
  EXPECT_TRUE(h.on_nudge(*b).empty());
  for (auto& a : h.on_turn(*b, "lobby"))
    EXPECT_NE(a.k, action_kind::send) << show(a);
}

// Verifies each scripted agent gets its own script.
TEST(ScriptedBehavior, InstancesKeepTheirOwnScripts) {
  auto one = spec_of(behavior_spec::kind::scripted);
  one.script = {{"q", "one"}};
  auto two = one;
  two.script = {{"q", "two"}};
  auto a = make_behavior(one, "a");
  auto b = make_behavior(two, "b");
  EXPECT_NE(a, b);
  Harness h;
  using strings = std::vector<std::string>;
  EXPECT_EQ(show(h.on_message(*a, direct("x", "q"))), (strings{"send to agent:x [one] re m-1"}));
  EXPECT_EQ(show(h.on_message(*b, direct("x", "q"))), (strings{"send to agent:x [two] re m-1"}));
}

// Feeds a fixed mix of inputs to `b` and renders every action.
std::vector<std::string> chatty_script(agent_behavior& b) {
  Harness h;
  h.self().rooms = {"r1", "r2", "r3"};
  std::vector<std::string> out;
  auto add = [&](const std::vector<behavior_action>& as) {
    for (auto& a : as)
      out.push_back(show(a));
  };
  for (int i = 0; i < 30; ++i) {
    add(h.on_message(b, direct("peer" + std::to_string(i % 3), "hi", "m" + std::to_string(i))));
    add(h.on_turn(b, "r" + std::to_string(1 + i % 3)));
    add(h.on_nudge(b));
    add(h.on_message(b, in_room("r1", "peer", "hey")));
  }
  return out;
}

// Verifies chatty with the same seed and agent id acts identically on the same inputs.
TEST(ChattyBehavior, SameSeedAndIdReplaysExactly) {
  auto spec = spec_of(behavior_spec::kind::chatty);
  spec.seed = 7;
  auto a = make_behavior(spec, "alice");
  auto b = make_behavior(spec, "alice");
  ASSERT_NE(a, b); // stateful: one instance per agent
  EXPECT_EQ(a->name(), "chatty");
  auto first = chatty_script(*a);
  EXPECT_EQ(chatty_script(*b), first);
  EXPECT_FALSE(first.empty());
  // The generator mixes in the agent id and the seed: changing either changes the talk
  // (30 turns of 8 phrases each: a coincidence has probability 8^-30).
  EXPECT_NE(chatty_script(*make_behavior(spec, "bob")), first);
  spec.seed = 8;
  EXPECT_NE(chatty_script(*make_behavior(spec, "alice")), first);
}

// Verifies a granted turn yields messages_per_turn room messages, then a yield.
TEST(ChattyBehavior, TurnGrantPostsThenYields) {
  auto spec = spec_of(behavior_spec::kind::chatty);
  spec.messages_per_turn = 3;
  auto b = make_behavior(spec, "me");
  Harness h;
  auto out = h.on_turn(*b, "lobby");
  ASSERT_EQ(out.size(), 4u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(out[i].k, action_kind::send);
    EXPECT_EQ(out[i].msg.to, address::room("lobby"));
    EXPECT_FALSE(out[i].msg.content.empty());
  }
  EXPECT_EQ(out[3].k, action_kind::yield_turn);
  EXPECT_EQ(out[3].room, "lobby");
}

// Verifies rerequest_after_yield asks for the turn again right after the yield.
TEST(ChattyBehavior, RerequestsAfterYieldWhenAsked) {
  auto spec = spec_of(behavior_spec::kind::chatty);
  spec.messages_per_turn = 2;
  spec.rerequest_after_yield = true;
  auto b = make_behavior(spec, "me");
  Harness h;
  auto out = h.on_turn(*b, "lobby");
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(out[0].k, action_kind::send);
  EXPECT_EQ(out[1].k, action_kind::send);
  EXPECT_EQ(out[2].k, action_kind::yield_turn);
  EXPECT_EQ(out[3].k, action_kind::request_turn);
  EXPECT_EQ(out[3].room, "lobby");
}

// Verifies a nudge requests the turn in one of the manifest's rooms (none without rooms).
TEST(ChattyBehavior, NudgeRequestsTurnInOwnRoom) {
  auto b = make_behavior(spec_of(behavior_spec::kind::chatty), "me");
  Harness h;
  EXPECT_TRUE(h.on_nudge(*b).empty());
  h.self().rooms = {"r1", "r2", "r3"};
  std::set<std::string> picked;
  for (int i = 0; i < 60; ++i) {
    auto out = h.on_nudge(*b);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].k, action_kind::request_turn);
    EXPECT_TRUE(out[0].room == "r1" || out[0].room == "r2" || out[0].room == "r3") << out[0].room;
    picked.insert(out[0].room);
  }
  // Uniform over 3 rooms: all 60 nudges picking fewer than 3 rooms has probability < 1e-10.
  EXPECT_EQ(picked.size(), 3u);
}

// Verifies reply_probability: 1 always answers a direct message, 0 never, rooms never.
TEST(ChattyBehavior, ReplyProbabilityGovernsDirectAnswers) {
  auto always = spec_of(behavior_spec::kind::chatty);
  always.reply_probability = 1.0;
  auto never = always;
  never.reply_probability = 0.0;
  auto yes = make_behavior(always, "me");
  auto no = make_behavior(never, "me");
  Harness h;
  for (int i = 0; i < 50; ++i) {
    auto m = direct("bob", "hi", "m" + std::to_string(i));
    auto out = h.on_message(*yes, m);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].msg.to, address::agent("bob"));
    EXPECT_EQ(out[0].msg.reply_to, m.id);
    EXPECT_TRUE(h.on_message(*no, m).empty());
    EXPECT_TRUE(h.on_message(*yes, in_room("lobby", "bob", "hi")).empty());
  }
}

// Verifies the default reply probability (0.5) answers about half of many direct messages.
TEST(ChattyBehavior, HalfProbabilityAnswersAboutHalf) {
  auto b = make_behavior(spec_of(behavior_spec::kind::chatty), "me");
  Harness h;
  int replies = 0;
  const int n = 2000;
  for (int i = 0; i < n; ++i)
    replies += static_cast<int>(h.on_message(*b, direct("bob", "hi")).size());
  // Binomial(2000, 0.5): sd ~ 22; +-150 is about 7 sd.
  EXPECT_NEAR(replies, n / 2, 150);
}

// Verifies stateless kinds share one instance across agents, stateful kinds do not.
TEST(MakeBehavior, StatelessKindsShareOneInstance) {
  auto e1 = make_behavior(spec_of(behavior_spec::kind::echo), "a");
  auto e2 = make_behavior(spec_of(behavior_spec::kind::echo), "b");
  auto s1 = make_behavior(spec_of(behavior_spec::kind::silent), "a");
  auto s2 = make_behavior(spec_of(behavior_spec::kind::silent), "b");
  EXPECT_EQ(e1, e2);
  EXPECT_EQ(s1, s2);
  EXPECT_NE(e1, s1);
  auto c1 = make_behavior(spec_of(behavior_spec::kind::chatty), "a");
  auto c2 = make_behavior(spec_of(behavior_spec::kind::chatty), "a");
  EXPECT_NE(c1, c2);
}

// Verifies behaviour kind names round-trip and unknown names are refused.
TEST(MakeBehavior, KindNamesRoundTrip) {
  for (auto k : {behavior_spec::kind::echo, behavior_spec::kind::silent,
                 behavior_spec::kind::scripted, behavior_spec::kind::chatty}) {
    auto p = parse_behavior_kind(to_string(k));
    ASSERT_TRUE(p) << to_string(k);
    EXPECT_EQ(*p, k);
    EXPECT_EQ(make_behavior(spec_of(k), "me")->name(), to_string(k));
  }
  auto bad = parse_behavior_kind("grumpy");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, errc::invalid_argument);
  EXPECT_NE(bad.error().message.find("echo silent scripted chatty"), std::string::npos);
}

} // namespace
} // namespace parley
