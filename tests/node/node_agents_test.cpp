// Agent lifecycle and manifest ownership through the node facade.

#include <algorithm>

#include "support/node_fixture.hpp"

namespace parley {
namespace {

using namespace test_support;

class NodeAgents : public NodeFixture {};

skill make_skill(std::string id, std::string name) {
  skill s;
  s.id = std::move(id);
  s.name = std::move(name);
  s.tags = {"t1", "t2"};
  s.description = "does " + s.name;
  return s;
}

// Verifies that an introduced agent's manifest comes back with its skills and
// with last_updated set from the node's clock.
TEST_F(NodeAgents, IntroduceThenGetManifestRoundTrips) {
  auto spec = make_spec("alice");
  spec.man.bio = "a test agent";
  spec.man.activities = {"testing"};
  spec.man.skills = {make_skill("s1", "summarise"), make_skill("s2", "translate")};
  spec.man.capacity = 3;
  spec.man.rooms = {"ignored"};
  spec.man.focus = "ignored";
  ASSERT_TRUE(succeeded(n().introduce(as_admin, spec)));
  auto m = n().get_manifest(as_admin, "alice");
  ASSERT_TRUE(succeeded(m));
  EXPECT_EQ(m->id, "alice");
  EXPECT_EQ(m->display_name, "Agent alice");
  EXPECT_EQ(m->bio, "a test agent");
  EXPECT_EQ(m->activities, std::vector<std::string>{"testing"});
  EXPECT_EQ(m->skills, spec.man.skills);
  EXPECT_EQ(m->capacity, 3u);
  EXPECT_EQ(m->status, agent_status::active);
  EXPECT_EQ(m->last_updated, clock_->now());
  EXPECT_TRUE(m->rooms.empty());
  EXPECT_TRUE(m->focus.empty());
}

// Verifies that a manifest breaking a limit is refused with invalid_argument
// and no agent appears.
TEST_F(NodeAgents, IntroduceRejectsInvalidManifest) {
  EXPECT_TRUE(fails_with(n().introduce(as_admin, make_spec("bad id")), errc::invalid_argument));
  auto zero = make_spec("zero");
  zero.man.capacity = 0;
  EXPECT_TRUE(fails_with(n().introduce(as_admin, zero), errc::invalid_argument, {"capacity"}));
  auto retired = make_spec("ghost");
  retired.man.status = agent_status::retired;
  EXPECT_TRUE(fails_with(n().introduce(as_admin, retired), errc::invalid_argument, {"ghost"}));
  EXPECT_TRUE(n().list_agents(as_admin)->empty());
}

// Verifies that introducing a taken id fails with already_exists and keeps
// the first agent.
TEST_F(NodeAgents, IntroduceRejectsDuplicateId) {
  ASSERT_TRUE(add_agent("alice"));
  auto again = make_spec("alice");
  again.man.bio = "impostor";
  EXPECT_TRUE(fails_with(n().introduce(as_admin, again), errc::already_exists, {"'alice'"}));
  auto m = n().get_manifest(as_admin, "alice");
  ASSERT_TRUE(succeeded(m));
  EXPECT_TRUE(m->bio.empty());
  EXPECT_EQ(n().list_agents(as_admin)->size(), 1u);
}

// Verifies that operations on an unknown agent fail with not_found naming it.
TEST_F(NodeAgents, UnknownAgentIsNotFound) {
  EXPECT_TRUE(fails_with(n().get_manifest(as_admin, "nobody"), errc::not_found, {"'nobody'"}));
  EXPECT_TRUE(fails_with(n().retire(as_admin, "nobody"), errc::not_found, {"'nobody'"}));
  EXPECT_TRUE(fails_with(n().update_manifest(principal::admin(), make_manifest("nobody")),
                         errc::not_found, {"'nobody'"}));
  ASSERT_TRUE(add_agent("alice"));
  EXPECT_TRUE(
    fails_with(n().send(as_admin, direct_message("alice", "nobody", "hi")), errc::not_found, {"'nobody'"}));
  EXPECT_TRUE(
    fails_with(n().send(as_admin, direct_message("nobody", "alice", "hi")), errc::not_found, {"'nobody'"}));
}

// Verifies that list_agents returns every agent id, sorted.
TEST_F(NodeAgents, ListAgentsIsSorted) {
  ASSERT_TRUE(add_agents({"mallory", "alice", "zed", "bob", "carol"}));
  EXPECT_EQ(*n().list_agents(as_admin),
            (std::vector<agent_id>{"alice", "bob", "carol", "mallory", "zed"}));
}

// Verifies that a retired agent stays queryable with status retired, is
// removed from its rooms, and its manifest lists no rooms.
TEST_F(NodeAgents, RetireMarksRetiredAndLeavesRooms) {
  ASSERT_TRUE(add_agents({"owner", "alice", "bob"}));
  ASSERT_TRUE(add_group("lobby", "owner", unmoderated(), {"alice", "bob"}));
  ASSERT_TRUE(add_group("den", "alice", unmoderated(), {"bob"}));
  auto dm = n().create_direct(as_admin, "alice", "bob");
  ASSERT_TRUE(succeeded(dm));
  auto before = n().get_manifest(as_admin, "alice");
  ASSERT_TRUE(succeeded(before));
  EXPECT_EQ(before->rooms.size(), 3u);

  ASSERT_TRUE(succeeded(n().retire(as_admin, "alice")));

  // The manifest first: retire must have completed when it returns.
  auto m = n().get_manifest(as_admin, "alice");
  ASSERT_TRUE(succeeded(m));
  EXPECT_EQ(m->status, agent_status::retired);
  EXPECT_FALSE(m->online);
  EXPECT_TRUE(m->rooms.empty());
  for (auto r : {std::string{"lobby"}, std::string{"den"}, dm->id}) {
    auto room = n().get_room(as_admin, r);
    ASSERT_TRUE(succeeded(room));
    EXPECT_EQ(room->find("alice"), nullptr) << r;
  }
  // alice owned "den": bob inherits it.
  auto den = n().get_room(as_admin, "den");
  ASSERT_TRUE(succeeded(den));
  ASSERT_NE(den->find("bob"), nullptr);
  EXPECT_EQ(den->find("bob")->role, room_role::owner);
  EXPECT_EQ(*n().list_agents(as_admin), (std::vector<agent_id>{"alice", "bob", "owner"}));
}

// Verifies that retiring an agent twice fails with failed_precondition.
TEST_F(NodeAgents, RetireTwiceFails) {
  ASSERT_TRUE(add_agent("alice"));
  ASSERT_TRUE(succeeded(n().retire(as_admin, "alice")));
  EXPECT_TRUE(fails_with(n().retire(as_admin, "alice"), errc::failed_precondition, {"'alice'"}));
}

// Verifies that a retired agent neither receives nor sends messages, joins
// rooms or gets direct rooms, each refusal naming it.
TEST_F(NodeAgents, RetiredAgentRefusesEverything) {
  ASSERT_TRUE(add_agents({"alice", "bob"}));
  ASSERT_TRUE(add_group("lobby", "bob", unmoderated()));
  ASSERT_TRUE(succeeded(n().retire(as_admin, "alice")));
  auto before = n().stats();
  EXPECT_TRUE(fails_with(n().send(as_admin, direct_message("bob", "alice", "hello")),
                         errc::failed_precondition, {"'alice'", "retired"}));
  EXPECT_TRUE(fails_with(n().send(as_admin, direct_message("alice", "bob", "hello")),
                         errc::failed_precondition, {"'alice'", "retired"}));
  EXPECT_TRUE(fails_with(n().join(as_admin, "lobby", "alice"), errc::failed_precondition, {"'alice'"}));
  EXPECT_TRUE(fails_with(n().create_direct(as_admin, "bob", "alice"), errc::failed_precondition, {"'alice'"}));
  EXPECT_TRUE(fails_with(n().update_manifest(principal::agent("alice"), make_manifest("alice")),
                         errc::failed_precondition, {"'alice'"}));
  EXPECT_EQ(n().stats().deliveries, before.deliveries);
}

// Verifies that an agent may update its own manifest, which publishes
// manifest_updated, and agent_status_changed when the status changes.
TEST_F(NodeAgents, OwnerUpdatesManifestAndEventsFollow) {
  event_recorder rec;
  ASSERT_TRUE(succeeded(rec.attach(n(), mask_of(topic::agent_status))));
  ASSERT_TRUE(add_agent("alice"));
  clock_->advance(1234);

  auto m = make_manifest("alice");
  m.display_name = "Alice";
  m.bio = "updated";
  m.skills = {make_skill("s9", "plan")};
  m.capacity = 2;
  auto updated = n().update_manifest(principal::agent("alice"), m);
  ASSERT_TRUE(succeeded(updated));
  EXPECT_EQ(updated->display_name, "Alice");
  EXPECT_EQ(updated->skills, m.skills);
  EXPECT_EQ(updated->last_updated, clock_->now());
  ASSERT_TRUE(rec.wait_for(is_event(event_kind::manifest_updated, "alice")));
  settle();
  EXPECT_EQ(rec.count(is_event(event_kind::agent_status_changed)), 0u);

  auto got = n().get_manifest(as_admin, "alice");
  ASSERT_TRUE(succeeded(got));
  EXPECT_EQ(got->bio, "updated");
  EXPECT_EQ(got->capacity, 2u);

  m.status = agent_status::busy;
  ASSERT_TRUE(succeeded(n().update_manifest(principal::agent("alice"), m)));
  auto changed = rec.wait_for(is_event(event_kind::agent_status_changed, "alice"));
  ASSERT_TRUE(changed);
  EXPECT_EQ(changed->detail, "busy");
  EXPECT_EQ(rec.count(is_event(event_kind::manifest_updated, "alice")), 2u);
}

// Verifies that another agent may not change a manifest, and that nothing
// changes when it tries.
TEST_F(NodeAgents, OtherAgentCannotUpdateManifest) {
  ASSERT_TRUE(add_agents({"alice", "mallory"}));
  auto m = make_manifest("alice");
  m.bio = "hacked";
  EXPECT_TRUE(fails_with(n().update_manifest(principal::agent("mallory"), m),
                         errc::permission_denied, {"'alice'", "'mallory'"}));
  auto got = n().get_manifest(as_admin, "alice");
  ASSERT_TRUE(succeeded(got));
  EXPECT_TRUE(got->bio.empty());
}

// Verifies that the administrator may update any manifest.
TEST_F(NodeAgents, AdministratorUpdatesAnyManifest) {
  ASSERT_TRUE(add_agent("alice"));
  auto m = make_manifest("alice");
  m.status = agent_status::idle;
  m.activities = {"paused by admin"};
  ASSERT_TRUE(succeeded(n().update_manifest(principal::admin(), m)));
  auto got = n().get_manifest(as_admin, "alice");
  ASSERT_TRUE(succeeded(got));
  EXPECT_EQ(got->status, agent_status::idle);
  EXPECT_EQ(got->activities, std::vector<std::string>{"paused by admin"});
}

// Verifies that retirement cannot be set through update_manifest.
TEST_F(NodeAgents, UpdateCannotSetRetired) {
  ASSERT_TRUE(add_agent("alice"));
  auto m = make_manifest("alice");
  m.status = agent_status::retired;
  EXPECT_TRUE(fails_with(n().update_manifest(principal::agent("alice"), m), errc::invalid_argument,
                         {"'alice'", "retired"}));
  EXPECT_TRUE(fails_with(n().update_manifest(principal::admin(), m), errc::invalid_argument));
  auto got = n().get_manifest(as_admin, "alice");
  ASSERT_TRUE(succeeded(got));
  EXPECT_EQ(got->status, agent_status::active);
}

// Verifies that an invalid manifest update is refused before it reaches the
// agent.
TEST_F(NodeAgents, UpdateRejectsInvalidManifest) {
  ASSERT_TRUE(add_agent("alice"));
  auto m = make_manifest("alice");
  m.bio.assign(5000, 'x');
  EXPECT_TRUE(fails_with(n().update_manifest(principal::agent("alice"), m), errc::invalid_argument,
                         {"bio"}));
}

} // namespace
} // namespace parley
