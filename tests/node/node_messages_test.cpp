// Messages through the node facade: direct and room delivery, replies,
// ordering, read receipts, refusals, and the attention focus they leave.

#include <set>

#include "support/node_fixture.hpp"

namespace parley {
namespace {

using namespace test_support;

constexpr auto echo = behavior_spec::kind::echo;
constexpr auto silent = behavior_spec::kind::silent;

class NodeMessages : public NodeFixture {
protected:
  void SetUp() override {
    NodeFixture::SetUp();
    ASSERT_TRUE(node_);
    // Message events are published only while someone subscribes.
    ASSERT_TRUE(succeeded(rec_.attach(n(), all_topics)));
  }

  event_recorder rec_;
};

// Verifies that a direct send returns delivered with the id and sent_at
// filled in, keeping a caller-chosen id.
TEST_F(NodeMessages, DirectSendReturnsDelivered) {
  ASSERT_TRUE(add_agents({"alice", "bob"}, silent));
  clock_->advance(42);
  auto sent = n().send(as_admin, direct_message("alice", "bob", "hello"));
  ASSERT_TRUE(succeeded(sent));
  EXPECT_FALSE(sent->id.empty());
  EXPECT_EQ(sent->sent_at, clock_->now());
  EXPECT_EQ(sent->status, message_status::delivered);
  EXPECT_EQ(sent->from, "alice");
  EXPECT_EQ(sent->content, "hello");
  ASSERT_TRUE(rec_.wait_for(delivered_to("bob", "alice", sent->id)));
  ASSERT_TRUE(rec_.wait_for(is_event(event_kind::message_sent, "alice", {}, sent->id)));

  auto named = direct_message("alice", "bob", "again");
  named.id = "my-id-1";
  auto second = n().send(as_admin, named);
  ASSERT_TRUE(succeeded(second));
  EXPECT_EQ(second->id, "my-id-1");
  EXPECT_NE(second->id, sent->id);
  ASSERT_TRUE(rec_.wait_for(delivered_to("bob", "alice", "my-id-1")));
}

// Verifies that invalid messages are refused before anything is sent.
TEST_F(NodeMessages, InvalidMessagesAreRejected) {
  ASSERT_TRUE(add_agents({"alice", "bob"}, silent));
  auto before = n().stats();
  auto bad_json = direct_message("alice", "bob", "{not json");
  bad_json.type = content_type::json;
  EXPECT_TRUE(fails_with(n().send(as_admin, bad_json), errc::invalid_argument, {"json"}));
  auto huge = direct_message("alice", "bob", std::string(70 * 1024, 'x'));
  EXPECT_TRUE(fails_with(n().send(as_admin, huge), errc::invalid_argument, {"content"}));
  EXPECT_TRUE(fails_with(n().send(as_admin, direct_message("alice", "bad id", "x")), errc::invalid_argument));
  EXPECT_TRUE(fails_with(n().post(as_admin, direct_message("alice", "bad id", "x")), errc::invalid_argument));
  EXPECT_TRUE(fails_with(n().post(as_admin, direct_message("nobody", "bob", "x")), errc::not_found));
  EXPECT_EQ(n().stats().messages_sent, before.messages_sent);
}

// Verifies that an echo agent answers a direct message to its sender.
TEST_F(NodeMessages, EchoAgentAnswersSender) {
  ASSERT_TRUE(add_agent("alice", silent));
  ASSERT_TRUE(add_agent("echo", echo));
  auto sent = n().send(as_admin, direct_message("alice", "echo", "ping"));
  ASSERT_TRUE(succeeded(sent));
  auto answer = rec_.wait_for([](const event& e) {
    return e.kind == event_kind::message_delivered && e.agent == "alice"
           && e.detail.starts_with("echo/");
  });
  ASSERT_TRUE(answer) << "no answer from echo";
  EXPECT_EQ(rec_.count(is_event(event_kind::message_sent, "echo")), 1u);
}

// Verifies that a scripted agent answers matching content into the room it
// came from and ignores other content.
TEST_F(NodeMessages, ScriptedAgentAnswersIntoRoom) {
  ASSERT_TRUE(add_agents({"alice", "bob"}, silent));
  agent_spec bot = make_spec("bot", behavior_spec::kind::scripted);
  bot.behavior.script = {{"hello", "hi there"}};
  ASSERT_TRUE(succeeded(n().introduce(as_admin, bot)));
  ASSERT_TRUE(add_group("lobby", "alice", unmoderated(), {"bob", "bot"}));

  auto ignored = n().send(as_admin, room_message("alice", "lobby", "weather?"));
  ASSERT_TRUE(succeeded(ignored));
  ASSERT_TRUE(rec_.wait_for(is_event(event_kind::message_read, "bot", "lobby",
                                     "alice/" + ignored->id)));
  EXPECT_EQ(rec_.count(is_event(event_kind::message_sent, "bot")), 0u);

  auto hello = n().send(as_admin, room_message("alice", "lobby", "hello"));
  ASSERT_TRUE(succeeded(hello));
  auto from_bot = [](std::string to) {
    return [to](const event& e) {
      return e.kind == event_kind::message_delivered && e.agent == to
             && e.detail.starts_with("bot/");
    };
  };
  ASSERT_TRUE(rec_.wait_for(from_bot("alice")));
  ASSERT_TRUE(rec_.wait_for(from_bot("bob")));
  EXPECT_EQ(rec_.count(is_event(event_kind::message_sent, "bot", "lobby")), 1u);
}

// Verifies that a room post reaches every member except its sender, once.
TEST_F(NodeMessages, RoomSendFansOutToAllButSender) {
  const std::vector<agent_id> members{"m1", "m2", "m3", "m4"};
  ASSERT_TRUE(add_agent("host", silent));
  ASSERT_TRUE(add_agents(members, silent));
  ASSERT_TRUE(add_group("hall", "host", unmoderated(), members));
  auto before = n().stats();

  auto sent = n().send(as_admin, room_message("m2", "hall", "hello all"));
  ASSERT_TRUE(succeeded(sent));
  EXPECT_EQ(sent->status, message_status::delivered);
  auto of_post = [&](const event& e) {
    return e.kind == event_kind::message_delivered && e.detail == "m2/" + sent->id;
  };
  ASSERT_TRUE(rec_.wait_count(of_post, 4));
  std::multiset<agent_id> got;
  for (auto& e : rec_.matching(of_post))
    got.insert(e.agent);
  EXPECT_EQ(got, (std::multiset<agent_id>{"host", "m1", "m3", "m4"}));
  EXPECT_EQ(n().stats().deliveries - before.deliveries, 4u);
  EXPECT_EQ(n().stats().messages_sent - before.messages_sent, 1u);

  // Non-members may not post.
  ASSERT_TRUE(add_agent("outsider", silent));
  EXPECT_TRUE(fails_with(n().send(as_admin, room_message("outsider", "hall", "hi")), errc::permission_denied,
                         {"'outsider'"}));
  EXPECT_TRUE(fails_with(n().send(as_admin, room_message("m1", "nowhere", "hi")), errc::not_found,
                         {"'nowhere'"}));
}

// Verifies that messages from one sender to one receiver arrive in the
// order they were posted.
TEST_F(NodeMessages, PerSenderOrderIsKept) {
  ASSERT_TRUE(add_agents({"tx", "rx"}, silent));
  constexpr int count = 200;
  std::vector<std::string> ids;
  for (int i = 0; i < count; ++i) {
    auto m = direct_message("tx", "rx", "n" + std::to_string(i));
    m.id = "seq-" + std::to_string(i);
    ids.push_back("tx/" + m.id);
    ASSERT_TRUE(succeeded(n().post(as_admin, m))) << i;
  }
  auto to_rx = [](event_kind k) {
    return [k](const event& e) {
      return e.kind == k && e.agent == "rx" && e.detail.starts_with("tx/");
    };
  };
  ASSERT_TRUE(rec_.wait_count(to_rx(event_kind::message_delivered), count));
  ASSERT_TRUE(rec_.wait_count(to_rx(event_kind::message_read), count));
  std::vector<std::string> delivered, read;
  for (auto& e : rec_.matching(to_rx(event_kind::message_delivered)))
    delivered.push_back(e.detail);
  for (auto& e : rec_.matching(to_rx(event_kind::message_read)))
    read.push_back(e.detail);
  EXPECT_EQ(delivered, ids);
  EXPECT_EQ(read, ids);
  EXPECT_EQ(rec_.count(is_event(event_kind::message_refused)), 0u);
}

// Verifies that a message sent with a receipt request becomes read once the
// recipient has served it.
TEST_F(NodeMessages, ReadReceiptMovesStatusToRead) {
  ASSERT_TRUE(add_agent("alice", silent));
  ASSERT_TRUE(add_agent("echo", echo));
  auto m = direct_message("alice", "echo", "please confirm");
  m.receipt = true;
  auto sent = n().send(as_admin, m);
  ASSERT_TRUE(succeeded(sent));
  auto st = n().status(as_admin, "alice", sent->id);
  ASSERT_TRUE(succeeded(st));
  EXPECT_GE(*st, message_status::delivered);
  EXPECT_TRUE(eventually([&] {
    auto s = n().status(as_admin, "alice", sent->id);
    return s && *s == message_status::read;
  }));
  ASSERT_TRUE(rec_.wait_for(is_event(event_kind::message_read, "echo", {}, "alice/" + sent->id)));
}

// Verifies that status of an unknown or untracked message is not_found.
TEST_F(NodeMessages, StatusOfUnknownMessageIsNotFound) {
  ASSERT_TRUE(add_agents({"alice", "bob"}, silent));
  EXPECT_TRUE(fails_with(n().status(as_admin, "alice", "no-such-id"), errc::not_found, {"'no-such-id'"}));
  auto untracked = n().send(as_admin, direct_message("alice", "bob", "no receipt"));
  ASSERT_TRUE(succeeded(untracked));
  EXPECT_TRUE(fails_with(n().status(as_admin, "alice", untracked->id), errc::not_found));
  EXPECT_TRUE(fails_with(n().status(as_admin, "nobody", "x"), errc::not_found, {"'nobody'"}));
}

// Verifies that a post that cannot be delivered is counted and published as
// message_refused, as node::post documents.
TEST_F(NodeMessages, RefusedPostIsCountedAndPublished) {
  ASSERT_TRUE(add_agents({"alice", "bob"}, silent));
  ASSERT_TRUE(succeeded(n().retire(as_admin, "bob")));
  auto before = n().stats();
  auto m = direct_message("alice", "bob", "are you there?");
  m.id = "post-1";
  ASSERT_TRUE(succeeded(n().post(as_admin, m)));
  auto refused = rec_.wait_for(is_event(event_kind::message_refused, "alice"));
  ASSERT_TRUE(refused);
  EXPECT_NE(refused->detail.find("post-1"), std::string::npos) << refused->detail;
  EXPECT_NE(refused->detail.find("'bob'"), std::string::npos) << refused->detail;
  EXPECT_EQ(n().stats().refused - before.refused, 1u);

  auto lost = direct_message("alice", "ghost", "hello?");
  lost.id = "post-2";
  ASSERT_TRUE(succeeded(n().post(as_admin, lost)));
  auto unknown = rec_.wait_for([](const event& e) {
    return e.kind == event_kind::message_refused && e.detail.find("post-2") != std::string::npos;
  });
  ASSERT_TRUE(unknown);
  EXPECT_NE(unknown->detail.find("ghost"), std::string::npos) << unknown->detail;
}

// Forwards every message it is given to one agent.
class forwarder final : public agent_behavior {
public:
  explicit forwarder(agent_id to) : to_(std::move(to)) {}
  void react(const behavior_view&, const behavior_input& in, std::vector<behavior_action>& out) override {
    if (in.k == behavior_input::kind::message)
      out.push_back(behavior_action::send(address::agent(to_), "fwd: " + in.msg->content));
  }
  std::string_view name() const noexcept override { return "forwarder"; }

private:
  agent_id to_;
};

// Verifies a message a behaviour writes that its recipient refuses (here:
// retired) is counted and published as message_refused by its author,
// naming the recipient.
TEST_F(NodeMessages, ABehavioursMessageItsRecipientRefusesIsPublished) {
  ASSERT_TRUE(add_agents({"carol", "bob"}, silent));
  agent_spec fwd = make_spec("alice");
  fwd.custom = std::make_shared<forwarder>("bob");
  ASSERT_TRUE(succeeded(n().introduce(as_admin, std::move(fwd))));
  ASSERT_TRUE(succeeded(n().retire(as_admin, "bob")));
  auto before = n().stats();
  ASSERT_TRUE(succeeded(n().send(as_admin, direct_message("carol", "alice", "pass it on"))));
  auto refused = rec_.wait_for(is_event(event_kind::message_refused, "alice"));
  ASSERT_TRUE(refused);
  EXPECT_NE(refused->detail.find("bob"), std::string::npos) << refused->detail;
  EXPECT_EQ(n().stats().refused - before.refused, 1u);
}

// Verifies that after serving a dialogue the manifest's focus names it:
// "direct:<peer>" for a direct message, "room:<id>" for a room post.
TEST_F(NodeMessages, FocusNamesTheServedDialogue) {
  ASSERT_TRUE(add_agents({"alice", "bob"}, silent));
  ASSERT_TRUE(add_group("lobby", "alice", unmoderated(), {"bob"}));
  auto idle = n().get_manifest(as_admin, "bob");
  ASSERT_TRUE(succeeded(idle));
  EXPECT_EQ(idle->focus, "");

  auto dm = n().send(as_admin, direct_message("alice", "bob", "psst"));
  ASSERT_TRUE(succeeded(dm));
  ASSERT_TRUE(rec_.wait_for(is_event(event_kind::message_read, "bob", {}, "alice/" + dm->id)));
  auto m = n().get_manifest(as_admin, "bob");
  ASSERT_TRUE(succeeded(m));
  EXPECT_EQ(m->focus, "direct:alice");

  auto post = n().send(as_admin, room_message("alice", "lobby", "all hands"));
  ASSERT_TRUE(succeeded(post));
  ASSERT_TRUE(rec_.wait_for(is_event(event_kind::message_read, "bob", "lobby", "alice/" + post->id)));
  m = n().get_manifest(as_admin, "bob");
  ASSERT_TRUE(succeeded(m));
  EXPECT_EQ(m->focus, "room:lobby");
  // The sender served nothing: its focus stays empty.
  auto sender = n().get_manifest(as_admin, "alice");
  ASSERT_TRUE(succeeded(sender));
  EXPECT_EQ(sender->focus, "");
}

// Verifies that the attention knobs are set through the node, with ids
// checked.
TEST_F(NodeMessages, AttentionKnobsValidateIds) {
  ASSERT_TRUE(add_agents({"alice", "bob"}, silent));
  EXPECT_TRUE(succeeded(n().set_importance(as_admin, "alice", dialogue_key::direct("bob"), 3.0)));
  EXPECT_TRUE(succeeded(n().set_relationship(as_admin, "alice", "bob", 0.5)));
  EXPECT_TRUE(fails_with(n().set_relationship(as_admin, "alice", "bad id", 1.0), errc::invalid_argument));
  EXPECT_TRUE(fails_with(n().set_importance(as_admin, "nobody", dialogue_key::room("r"), 1.0),
                         errc::not_found));
  EXPECT_TRUE(fails_with(n().set_relationship(as_admin, "nobody", "bob", 1.0), errc::not_found));
}

} // namespace
} // namespace parley
