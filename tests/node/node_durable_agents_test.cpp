// Agents of a node with a store: what was acknowledged survives a restart,
// and a failed write changes nothing, in memory or on disk.

#include <future>

#include "support/node_fixture.hpp"
#include "support/temp_dir.hpp"

namespace parley {
namespace {

using test_support::as_admin;

using test_support::durable_config;
using test_support::start_ok;

agent_spec rich_spec(std::string id) {
  agent_spec s;
  s.man.id = std::move(id);
  s.man.display_name = "Agent " + s.man.id;
  s.man.bio = "Remembers everything.";
  s.man.skills = {{"plan", "Plan", {"reasoning"}, "Breaks goals down."},
                  {"search", "Search", {"retrieval"}, "Finds documents."}};
  s.man.capacity = 12;
  s.behavior.k = behavior_spec::kind::echo;
  return s;
}

// Verifies introduced, updated and retired agents come back after a restart as they were acknowledged.
TEST(NodeDurableAgents, AgentsSurviveRestart) {
  test::temp_dir dir;
  manifest alice_before;
  manifest bob_updated;
  {
    auto n = start_ok(durable_config(dir.str()));
    ASSERT_TRUE(n);
    std::vector<agent_spec> many;
    for (int i = 0; i < 25; ++i)
      many.push_back(rich_spec("crowd-" + std::to_string(i)));
    ASSERT_EQ(n->introduce_many(as_admin, std::move(many)).value(), 25u);
    ASSERT_TRUE(n->introduce(as_admin, rich_spec("alice")).has_value());
    ASSERT_TRUE(n->introduce(as_admin, rich_spec("bob")).has_value());
    ASSERT_TRUE(n->introduce(as_admin, rich_spec("carol")).has_value());
    alice_before = n->get_manifest(as_admin, "alice").value();
    auto m = n->get_manifest(as_admin, "bob").value();
    m.bio = "Changed his mind.";
    m.status = agent_status::busy;
    m.skills.pop_back();
    auto updated = n->update_manifest(principal::agent("bob"), m);
    ASSERT_TRUE(updated.has_value()) << to_string(updated.error());
    bob_updated = *updated;
    ASSERT_TRUE(n->retire(as_admin, "carol").has_value());
  }
  auto n = start_ok(durable_config(dir.str()));
  ASSERT_TRUE(n);
  EXPECT_EQ(n->list_agents(as_admin)->size(), 28u);
  EXPECT_EQ(n->get_manifest(as_admin, "alice").value(), alice_before);
  EXPECT_EQ(n->get_manifest(as_admin, "bob").value(), bob_updated);
  EXPECT_EQ(n->get_manifest(as_admin, "carol").value().status, agent_status::retired);
  // A retired agent stays retired: it refuses messages after the restart too.
  message m;
  m.from = "alice";
  m.to = address::agent("carol");
  m.content = "still there?";
  auto sent = n->send(as_admin, m);
  ASSERT_FALSE(sent.has_value());
  EXPECT_EQ(sent.error().code, errc::failed_precondition);
  // The behaviour came back too: bob echoes.
  m.to = address::agent("bob");
  ASSERT_TRUE(n->send(as_admin, m).has_value());
  // Ids stay taken.
  auto dup = n->introduce(as_admin, rich_spec("alice"));
  ASSERT_FALSE(dup.has_value());
  EXPECT_EQ(dup.error().code, errc::already_exists);
}

// Verifies a failed write refuses the introduction and the update, leaving no trace.
TEST(NodeDurableAgents, FailedWritesChangeNothing) {
  test::temp_dir dir;
  auto faults = std::make_shared<storage::disk_faults>();
  {
    auto n = start_ok(durable_config(dir.str(), faults));
    ASSERT_TRUE(n);
    ASSERT_TRUE(n->introduce(as_admin, rich_spec("alice")).has_value());
    const auto before = n->get_manifest(as_admin, "alice").value();

    faults->fail_writes(true);
    auto intro = n->introduce(as_admin, rich_spec("dave"));
    ASSERT_FALSE(intro.has_value());
    EXPECT_EQ(intro.error().code, errc::storage_failure);
    auto gone = n->get_manifest(as_admin, "dave");
    ASSERT_FALSE(gone.has_value());
    EXPECT_EQ(gone.error().code, errc::not_found);

    auto m = before;
    m.bio = "never written";
    auto upd = n->update_manifest(principal::agent("alice"), m);
    ASSERT_FALSE(upd.has_value());
    EXPECT_EQ(upd.error().code, errc::storage_failure);
    EXPECT_EQ(n->get_manifest(as_admin, "alice").value(), before); // reads still served
    auto ret = n->retire(as_admin, "alice");
    ASSERT_FALSE(ret.has_value());
    EXPECT_EQ(n->get_manifest(as_admin, "alice").value().status, agent_status::active);

    faults->fail_writes(false);
    ASSERT_TRUE(n->introduce(as_admin, rich_spec("erin")).has_value());
  }
  auto n = start_ok(durable_config(dir.str()));
  ASSERT_TRUE(n);
  EXPECT_EQ(*n->list_agents(as_admin), (std::vector<agent_id>{"alice", "erin"}));
  EXPECT_EQ(n->get_manifest(as_admin, "alice").value().bio, "Remembers everything.");
}

// Verifies concurrent retires of one agent on a durable node: exactly one wins.
TEST(NodeDurableAgents, ConcurrentRetiresOneWins) {
  test::temp_dir dir;
  auto n = start_ok(durable_config(dir.str()));
  ASSERT_TRUE(n);
  ASSERT_TRUE(n->introduce(as_admin, rich_spec("zed")).has_value());
  std::vector<std::future<expected<void>>> calls;
  for (int i = 0; i < 4; ++i)
    calls.push_back(std::async(std::launch::async, [&] { return n->retire(as_admin, "zed"); }));
  int won = 0;
  for (auto& c : calls) {
    auto r = c.get();
    if (r) {
      ++won;
    } else {
      EXPECT_EQ(r.error().code, errc::failed_precondition) << to_string(r.error());
    }
  }
  EXPECT_EQ(won, 1);
}

// Verifies a backup of a running node restores into a store that starts with the same agents.
TEST(NodeDurableAgents, BackupRestoresIntoAWorkingNode) {
  test::temp_dir dir;
  {
    auto n = start_ok(durable_config(dir.sub("db")));
    ASSERT_TRUE(n);
    ASSERT_TRUE(n->introduce(as_admin, rich_spec("alice")).has_value());
    ASSERT_TRUE(n->introduce(as_admin, rich_spec("bob")).has_value());
    auto b = n->backup(as_admin, dir.sub("backup"));
    ASSERT_TRUE(b.has_value()) << to_string(b.error());
    // Changes after the backup are not in it.
    ASSERT_TRUE(n->introduce(as_admin, rich_spec("late")).has_value());
  }
  ASSERT_TRUE(storage::restore_latest_backup(dir.sub("backup"), dir.sub("restored")).has_value());
  auto n = start_ok(durable_config(dir.sub("restored")));
  ASSERT_TRUE(n);
  EXPECT_EQ(*n->list_agents(as_admin), (std::vector<agent_id>{"alice", "bob"}));
  EXPECT_EQ(n->get_manifest(as_admin, "bob").value().bio, "Remembers everything.");
}

// Verifies a node in memory refuses a backup with a clear error.
TEST(NodeDurableAgents, MemoryNodeHasNothingToBackUp) {
  auto n = start_ok(node_config{});
  ASSERT_TRUE(n);
  auto b = n->backup(as_admin, "/nonexistent");
  ASSERT_FALSE(b.has_value());
  EXPECT_EQ(b.error().code, errc::failed_precondition);
}

} // namespace
} // namespace parley
