// Bounded inboxes through the node facade: overflow and capacity refusals
// are reported, never silent.
//
// A busy receiver is built deterministically: a custom behaviour blocks in
// react() on its first message until the test opens a gate, so everything
// sent meanwhile waits in its mailbox and is accepted (or refused) in order
// once the gate opens.

#include <future>
#include <set>
#include <thread>

#include "support/node_fixture.hpp"

namespace parley {
namespace {

using namespace test_support;

constexpr uint32_t inbox_limit = 4;

class NodeInbox : public NodeFixture {
protected:
  void configure(node_config& cfg) override { cfg.attention.inbox_limit = inbox_limit; }

  void SetUp() override {
    NodeFixture::SetUp();
    ASSERT_TRUE(node_);
    ASSERT_TRUE(succeeded(rec_.attach(n(), all_topics)));
  }

  /// Introduces `id` with a behaviour that blocks at gate_ on its first
  /// message.
  ::testing::AssertionResult add_blocking_agent(agent_id id, uint32_t capacity = 8) {
    agent_spec s = make_spec(std::move(id));
    s.man.capacity = capacity;
    s.custom = std::make_shared<blocking_behavior>(gate_);
    return succeeded(n().introduce(as_admin, std::move(s)));
  }

  /// Posts `from` -> `to` and waits until `to` blocks serving it.
  ::testing::AssertionResult block(const agent_id& from, const agent_id& to) {
    auto m = direct_message(from, to, "first");
    m.id = "blocker";
    if (auto r = succeeded(n().post(as_admin, m)); !r)
      return r;
    if (!gate_->wait_arrivals(1))
      return ::testing::AssertionFailure() << "'" << to << "' never started serving";
    return ::testing::AssertionSuccess();
  }

  /// Sends from a thread of its own; the result arrives once the receiver
  /// handles the delivery.
  std::future<expected<message>> send_async(message m) {
    return std::async(std::launch::async, [this, m = std::move(m)] { return n().send(as_admin, m); });
  }

  /// Returns once `sender` has handed every message it has published
  /// message_sent for to the receiver: an agent answers get_manifest only
  /// after finishing the handler that published the event.
  ::testing::AssertionResult flushed(const agent_id& sender, const std::vector<message_id>& ids) {
    for (auto& id : ids)
      if (!rec_.wait_for(is_event(event_kind::message_sent, sender, {}, id)))
        return ::testing::AssertionFailure() << "no message_sent for " << id;
    return succeeded(n().get_manifest(as_admin, sender));
  }

  event_recorder rec_;
  std::shared_ptr<gate> gate_ = std::make_shared<gate>();
};

// Verifies that sends into a full inbox fail with overloaded naming the
// receiver, that the accepted ones are all read afterwards, and that every
// send has exactly one of the two outcomes.
TEST_F(NodeInbox, OverflowRefusesWithOverloadedAndDropsNothing) {
  ASSERT_TRUE(add_agent("tx"));
  ASSERT_TRUE(add_blocking_agent("rx"));
  gate_opener opener{gate_};
  ASSERT_TRUE(block("tx", "rx"));

  constexpr int burst = 2 * inbox_limit;
  std::vector<std::future<expected<message>>> results;
  std::vector<message_id> ids;
  for (int i = 0; i < burst; ++i) {
    auto m = direct_message("tx", "rx", "burst " + std::to_string(i));
    m.id = "burst-" + std::to_string(i);
    ids.push_back(m.id);
    results.push_back(send_async(std::move(m)));
  }
  ASSERT_TRUE(flushed("tx", ids));
  // Nothing is answered while the receiver is busy.
  EXPECT_EQ(n().stats().deliveries, 1u);
  gate_->open();

  std::set<message_id> delivered;
  int overloaded = 0;
  for (int i = 0; i < burst; ++i) {
    auto r = results[static_cast<size_t>(i)].get();
    if (r) {
      EXPECT_EQ(r->status, message_status::delivered);
      delivered.insert(r->id);
      continue;
    }
    EXPECT_TRUE(fails_with(r, errc::overloaded, {"'rx'", "inbox is full"})) << ids[static_cast<size_t>(i)];
    ++overloaded;
  }
  EXPECT_EQ(delivered.size(), inbox_limit);
  EXPECT_EQ(overloaded, burst - static_cast<int>(inbox_limit));

  // Every accepted message is served: the blocker and the inbox's worth.
  auto read_by_rx = is_event(event_kind::message_read, "rx");
  ASSERT_TRUE(rec_.wait_count(read_by_rx, 1 + inbox_limit));
  std::set<message_id> read;
  for (auto& e : rec_.matching(read_by_rx))
    read.insert(e.detail.substr(std::string{"tx/"}.size()));
  auto expected_read = delivered;
  expected_read.insert("blocker");
  EXPECT_EQ(read, expected_read);
  EXPECT_EQ(n().stats().deliveries, 1 + inbox_limit);

  // Drained: the receiver takes input again.
  auto after = n().send(as_admin, direct_message("tx", "rx", "after the storm"));
  ASSERT_TRUE(succeeded(after));
  EXPECT_EQ(after->status, message_status::delivered);
}

// Verifies that with capacity 1 input from a second dialogue is refused as
// overloaded while the first dialogue has pending input, and accepted once
// it has been served.
TEST_F(NodeInbox, CapacityRefusesSecondDialogue) {
  ASSERT_TRUE(add_agents({"a", "b"}));
  ASSERT_TRUE(add_blocking_agent("rx", 1));
  gate_opener opener{gate_};
  ASSERT_TRUE(block("a", "rx"));

  auto pending = direct_message("a", "rx", "second from a");
  pending.id = "a-2";
  ASSERT_TRUE(succeeded(n().post(as_admin, pending)));
  // a's message must reach rx's mailbox before b's.
  ASSERT_TRUE(flushed("a", {"a-2"}));
  auto other = direct_message("b", "rx", "hello from b");
  other.id = "b-1";
  auto refused = send_async(other);
  ASSERT_TRUE(flushed("b", {"b-1"}));
  gate_->open();

  auto r = refused.get();
  EXPECT_TRUE(fails_with(r, errc::overloaded, {"'rx'", "'b'", "capacity"}));
  ASSERT_TRUE(rec_.wait_for(is_event(event_kind::message_read, "rx", {}, "a/a-2")));
  auto again = n().send(as_admin, direct_message("b", "rx", "retry from b"));
  ASSERT_TRUE(succeeded(again));
  ASSERT_TRUE(rec_.wait_for(is_event(event_kind::message_read, "rx", {}, "b/" + again->id)));
}

// Verifies that room posts a member's full inbox cannot take are not
// dropped after the sender was told "delivered": they wait behind the inbox
// (the backlog) and are all served, in order, once there is room.
TEST_F(NodeInbox, RoomPostsBeyondAFullInboxWaitAndAreAllServed) {
  ASSERT_TRUE(add_agent("tx"));
  ASSERT_TRUE(add_blocking_agent("rx"));
  ASSERT_TRUE(add_group("hall", "tx", unmoderated(), {"rx"}));
  gate_opener opener{gate_};
  ASSERT_TRUE(block("tx", "rx"));

  constexpr int burst = inbox_limit + 3;
  for (int i = 0; i < burst; ++i) {
    auto m = room_message("tx", "hall", "post " + std::to_string(i));
    m.id = "post-" + std::to_string(i);
    auto sent = n().send(as_admin, m);
    ASSERT_TRUE(succeeded(sent)) << i;
  }
  const auto refused_before = n().stats().refused;
  gate_->open();

  auto read_in_room = is_event(event_kind::message_read, "rx", "hall");
  ASSERT_TRUE(rec_.wait_count(read_in_room, burst));
  std::vector<std::string> order;
  for (auto& e : rec_.matching(read_in_room))
    order.push_back(e.detail);
  std::vector<std::string> want;
  for (int i = 0; i < burst; ++i)
    want.push_back("tx/post-" + std::to_string(i));
  EXPECT_EQ(order, want);
  EXPECT_EQ(rec_.count(is_event(event_kind::message_refused, "tx")), 0u);
  EXPECT_EQ(n().stats().refused, refused_before);
}

/// Forwards every message it serves to a new agent, so serving one batch
/// opens new dialogues.
class forwarding_behavior final : public agent_behavior {
public:
  explicit forwarding_behavior(std::shared_ptr<gate> g) : g_(std::move(g)) {}

  void react(const behavior_view& view, const behavior_input& in,
             std::vector<behavior_action>& out) override {
    if (in.k != behavior_input::kind::message)
      return;
    if (!blocked_once_) {
      blocked_once_ = true;
      g_->arrive_and_wait();
    }
    // The context the agent hands in must be the live one of this dialogue.
    if (view.context)
      last_context_size_ = view.context->entries().size();
    out.push_back(behavior_action::send(address::agent("sink-" + std::to_string(next_++)),
                                        in.msg->content));
  }
  std::string_view name() const noexcept override { return "forwarding"; }

private:
  std::shared_ptr<gate> g_;
  bool blocked_once_ = false;
  int next_ = 0;
  size_t last_context_size_ = 0;
};

// Verifies that a behaviour opening new dialogues while a batch of one
// dialogue is served leaves every message served and forwarded (the batch's
// context must survive the agent's dialogue table growing).
TEST_F(NodeInbox, ForwardingWhileServingABatchKeepsServing) {
  ASSERT_TRUE(add_agent("tx"));
  constexpr int forwarded = 3;
  for (int i = 0; i <= forwarded; ++i)
    ASSERT_TRUE(add_agent("sink-" + std::to_string(i)));
  agent_spec fwd = make_spec("fwd");
  fwd.custom = std::make_shared<forwarding_behavior>(gate_);
  ASSERT_TRUE(succeeded(n().introduce(as_admin, std::move(fwd))));
  gate_opener opener{gate_};
  ASSERT_TRUE(block("tx", "fwd"));
  // These queue up as one batch of the dialogue with tx.
  for (int i = 1; i <= forwarded; ++i) {
    auto m = direct_message("tx", "fwd", "batch " + std::to_string(i));
    m.id = "batch-" + std::to_string(i);
    ASSERT_TRUE(succeeded(n().post(as_admin, m)));
  }
  ASSERT_TRUE(succeeded(n().get_manifest(as_admin, "tx")));
  gate_->open();

  auto read_by_fwd = is_event(event_kind::message_read, "fwd");
  ASSERT_TRUE(rec_.wait_count(read_by_fwd, 1 + forwarded));
  auto to_sink = [](const event& e) {
    return e.kind == event_kind::message_delivered && e.agent.starts_with("sink-")
           && e.detail.starts_with("fwd/");
  };
  ASSERT_TRUE(rec_.wait_count(to_sink, 1 + forwarded));
  auto m = n().get_manifest(as_admin, "fwd");
  ASSERT_TRUE(succeeded(m));
  EXPECT_EQ(m->focus, "direct:tx");
}

} // namespace
} // namespace parley
