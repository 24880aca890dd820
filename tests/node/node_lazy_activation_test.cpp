// Lazy activation (src/node/activation.cpp): a node that starts on a store
// publishes its agents dormant and wakes each on first use. What a dormant
// agent had (manifest, rooms, attention knobs, inbox) must be there when it
// wakes, and reading its page must not wake it.

#include <atomic>
#include <thread>

#include "parley/storage/records.hpp"
#include "support/node_fixture.hpp"
#include "support/temp_dir.hpp"

namespace parley {
namespace {

using test_support::as_admin;
using test_support::direct_message;
using test_support::durable_config;
using test_support::eventually;
using test_support::make_spec;
using test_support::open_stopped;
using test_support::room_message;
using test_support::start_ok;
using test_support::succeeded;

bool lists(const std::vector<room_id>& rooms, const room_id& r) {
  return std::find(rooms.begin(), rooms.end(), r) != rooms.end();
}

// 30 echo agents, of which "ann" and "bob" are in room "hall", "ext" is an
// external agent (with no link open, its messages wait in its inbox) and
// "ann" has an updated manifest.
struct population {
  manifest ann;
  void make(const std::string& dir) {
    auto n = start_ok(durable_config(dir));
    ASSERT_TRUE(n);
    std::vector<agent_spec> specs;
    for (int i = 0; i < 27; ++i)
      specs.push_back(make_spec("crowd-" + std::to_string(i), behavior_spec::kind::echo));
    specs.push_back(make_spec("ann", behavior_spec::kind::silent));
    specs.push_back(make_spec("bob", behavior_spec::kind::silent));
    specs.push_back(make_spec("ext", behavior_spec::kind::external));
    ASSERT_EQ(n->introduce_many(as_admin, std::move(specs)).value(), 30u);
    ASSERT_TRUE(succeeded(n->create_group(as_admin, "ann", {"hall", "", test_support::unmoderated(), room_access::open})));
    ASSERT_TRUE(succeeded(n->join(as_admin, "hall", "bob")));
    auto m = n->get_manifest(as_admin, "ann").value();
    m.bio = "Woken only when needed.";
    m.skills = {{"plan", "Plan", {"reasoning"}, "Breaks goals down."}};
    ann = n->update_manifest(principal::agent("ann"), m).value();
    ASSERT_TRUE(lists(ann.rooms, "hall"));
    for (int i = 0; i < 3; ++i)
      ASSERT_TRUE(succeeded(n->send(as_admin, direct_message("crowd-0", "ext", "wait " + std::to_string(i)))));
  }
};

// Each test but the last: the population made, then a node restarted on it.
class NodeLazyActivation : public ::testing::Test {
protected:
  std::unique_ptr<node> restarted() {
    pop.make(dir.str());
    return start_ok(durable_config(dir.str()));
  }
  test::temp_dir dir;
  population pop;
};

// Verifies a restart starts only the agents with undelivered messages; the
// others are listed, counted and readable without being woken.
TEST_F(NodeLazyActivation, RestartWakesOnlyAgentsWithPendingMessages) {
  auto n = restarted();
  ASSERT_TRUE(n);
  auto s = n->stats();
  EXPECT_EQ(s.agents, 30u);
  EXPECT_EQ(s.agents_active, 1u); // ext, whose inbox holds three messages
  EXPECT_EQ(n->list_agents(as_admin).value().size(), 30u);
  // A dormant agent's page answers from the store, rooms included.
  EXPECT_EQ(n->get_manifest(as_admin, "ann").value(), pop.ann);
  EXPECT_TRUE(lists(n->get_manifest(as_admin, "bob").value().rooms, "hall"));
  agent_filter f;
  f.skill = "plan";
  auto found = n->find_agents(as_admin, f, 10, "");
  ASSERT_TRUE(succeeded(found));
  ASSERT_EQ(found->agents.size(), 1u);
  EXPECT_EQ(found->agents[0], pop.ann);
  agent_filter in_hall;
  in_hall.room = "hall";
  EXPECT_EQ(n->find_agents(as_admin, in_hall, 10, "").value().agents.size(), 2u);
  // So do reads of what the store holds: history and inboxes.
  EXPECT_EQ(n->direct_history(as_admin, "crowd-0", "ext", {}).value().messages.size(), 3u);
  EXPECT_TRUE(n->inbox(as_admin, "ann", 10).value().empty());
  EXPECT_EQ(n->stats().agents_active, 1u);
  EXPECT_EQ(n->inbox(as_admin, "ext", 10).value().size(), 3u);
}

// Verifies a dormant agent wakes on its first message with its manifest and
// rooms, serves what it is sent, and room posts reach dormant members.
TEST_F(NodeLazyActivation, AgentsWakeOnFirstUseWithWhatTheyHad) {
  auto n = restarted();
  ASSERT_TRUE(n);
  const auto active = n->stats().agents_active;
  // An echo agent answers: crowd-1 wakes, and so does crowd-2 (the answer).
  ASSERT_TRUE(succeeded(n->send(as_admin, direct_message("crowd-2", "crowd-1", "hello"))));
  EXPECT_TRUE(eventually([&] { return n->stats().served >= 2; }));
  EXPECT_EQ(n->stats().agents_active, active + 2);
  // A post in the hall wakes its members through the moderator; ann, woken,
  // still lists the hall and her manifest is as she left it.
  ASSERT_TRUE(succeeded(n->send(as_admin, room_message("bob", "hall", "anyone?"))));
  EXPECT_TRUE(eventually([&] { return n->stats().agents_active == active + 4; }));
  auto ann = n->get_manifest(as_admin, "ann").value();
  EXPECT_EQ(ann.bio, pop.ann.bio);
  EXPECT_EQ(ann.skills, pop.ann.skills);
  EXPECT_EQ(ann.rooms, pop.ann.rooms);
  EXPECT_EQ(ann.last_updated, pop.ann.last_updated);
  auto hist = n->room_history(as_admin, "hall", {});
  ASSERT_TRUE(succeeded(hist));
  EXPECT_EQ(hist->messages.size(), 1u);
  // Leaving works on a woken agent: the room was given back to it.
  ASSERT_TRUE(succeeded(n->leave(as_admin, "hall", "bob")));
  EXPECT_FALSE(lists(n->get_manifest(as_admin, "bob").value().rooms, "hall"));
}

// Verifies many first uses of one dormant agent at once make one actor, and
// every message reaches it once.
TEST_F(NodeLazyActivation, RacingFirstUsesMakeOneActor) {
  auto n = restarted();
  ASSERT_TRUE(n);
  const auto active = n->stats().agents_active;
  constexpr int threads = 8, per_thread = 20;
  std::atomic<int> failed{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; ++t)
    ts.emplace_back([&, t] {
      for (int i = 0; i < per_thread; ++i) {
        auto m = direct_message("crowd-" + std::to_string(3 + t), "ann", "hi " + std::to_string(i));
        if (!n->send(as_admin, m))
          ++failed;
      }
    });
  for (auto& t : ts)
    t.join();
  EXPECT_EQ(failed.load(), 0);
  // ann and the eight senders (whom the sends woke).
  EXPECT_EQ(n->stats().agents_active, active + 1 + threads);
  EXPECT_TRUE(eventually([&] { return n->stats().served >= threads * per_thread; }));
  EXPECT_EQ(n->stats().served, uint64_t{threads * per_thread});
}

// Verifies an agent whose record cannot be decoded does not keep the node
// from starting: that agent answers storage_failure, the others work.
TEST_F(NodeLazyActivation, AnUnreadableRecordMakesOnlyItsAgentUnavailable) {
  pop.make(dir.str());
  {
    auto s = open_stopped(dir.str());
    ASSERT_TRUE(s);
    storage::write_batch b;
    b.put(storage::column::agents, storage::agent_key("bob"), std::string("\xff\xff not a record", 15));
    ASSERT_TRUE(succeeded(s->write(b)));
  }
  auto n = start_ok(durable_config(dir.str()));
  ASSERT_TRUE(n);
  EXPECT_EQ(n->stats().agents, 30u);
  EXPECT_TRUE(test_support::fails_with(n->send(as_admin, direct_message("ann", "bob", "there?")),
                                       errc::storage_failure, {"bob", "woken"}));
  EXPECT_TRUE(test_support::fails_with(n->get_manifest(as_admin, "bob"), errc::storage_failure, {"bob"}));
  // A send from bob needs bob's actor too.
  EXPECT_TRUE(test_support::fails_with(n->send(as_admin, direct_message("bob", "ann", "from bob")),
                                       errc::storage_failure, {"bob"}));
  ASSERT_TRUE(succeeded(n->send(as_admin, direct_message("crowd-1", "ann", "hello ann"))));
  EXPECT_EQ(n->get_manifest(as_admin, "ann").value().id, "ann");
}

// Verifies a node stops while its actors are waking agents: a post to a
// room of dormant members wakes them from the moderator, and stop() comes
// at once. (An agent woken after stop() collected the running ones would
// never be asked to quit, and the node would never stop.)
TEST_F(NodeLazyActivation, StopWhileAgentsWake) {
  // One room of dormant members per round: a round's cut-off fan-out
  // leaves inbox entries, whose agents then wake at the next start.
  constexpr int rounds = 6, members = 1500;
  auto room_of = [](int r) { return "crowd-" + std::to_string(r); };
  {
    auto cfg = durable_config(dir.str());
    cfg.durability = durability::async; // 9000 joins: no fsync each
    auto n = start_ok(cfg);
    ASSERT_TRUE(n);
    std::vector<agent_spec> specs;
    for (int i = 0; i < rounds * members; ++i)
      specs.push_back(make_spec("m-" + std::to_string(i), behavior_spec::kind::silent));
    ASSERT_EQ(n->introduce_many(as_admin, std::move(specs)).value(), size_t{rounds * members});
    for (int r = 0; r < rounds; ++r) {
      std::vector<agent_id> ids;
      for (int i = 1; i < members; ++i)
        ids.push_back("m-" + std::to_string(r * members + i));
      const auto owner = "m-" + std::to_string(r * members);
      ASSERT_TRUE(succeeded(n->create_group(as_admin, owner, {room_of(r), "", test_support::unmoderated(),
                                                             room_access::open})));
      ASSERT_TRUE(succeeded(n->join_many(as_admin, room_of(r), ids)));
    }
  }
  for (int r = 0; r < rounds; ++r) {
    auto n = start_ok(durable_config(dir.str()));
    ASSERT_TRUE(n);
    const auto author = "m-" + std::to_string(r * members + 1);
    ASSERT_TRUE(succeeded(n->post(as_admin, room_message(author, room_of(r), "wake up"))));
    // Let the fan-out begin, so that stop() meets it in any of its phases.
    std::this_thread::sleep_for(std::chrono::microseconds(300 * r));
    n->stop();
  }
}

} // namespace
} // namespace parley
