// Rooms, roles and direct rooms through the node facade.

#include <atomic>
#include <map>
#include <thread>

#include "support/node_fixture.hpp"

namespace parley {
namespace {

using namespace test_support;

class NodeRooms : public NodeFixture {
protected:
  /// Role of `who` in `r`, or nullopt when not a member.
  std::optional<room_role> role_of(const room_id& r, const agent_id& who) {
    auto got = n().get_room(as_admin, r);
    if (!got)
      return std::nullopt;
    auto* m = got->find(who);
    if (!m)
      return std::nullopt;
    return m->role;
  }
};

// Verifies that create_group makes the creator the owner and records the
// room in the creator's manifest.
TEST_F(NodeRooms, CreateGroupMakesCreatorOwner) {
  ASSERT_TRUE(add_agent("alice"));
  group_spec g;
  g.topic = "planning";
  auto r = n().create_group(as_admin, "alice", g);
  ASSERT_TRUE(succeeded(r));
  EXPECT_FALSE(r->id.empty());
  EXPECT_EQ(r->kind, room_kind::group);
  EXPECT_EQ(r->created_by, "alice");
  ASSERT_EQ(r->members.size(), 1u);
  EXPECT_EQ(r->members[0].role, room_role::owner);
  EXPECT_EQ(r->created_at, clock_->now());
  EXPECT_TRUE(r->open);
  auto got = n().get_room(as_admin, r->id);
  ASSERT_TRUE(succeeded(got));
  EXPECT_EQ(got->topic, "planning");
  auto m = n().get_manifest(as_admin, "alice");
  ASSERT_TRUE(succeeded(m));
  EXPECT_EQ(m->rooms, std::vector<room_id>{r->id});
  EXPECT_EQ(*n().list_rooms(as_admin), std::vector<room_id>{r->id});
}

// Verifies that creating a group with a taken id, an unknown creator or bad
// rules fails with the matching code.
TEST_F(NodeRooms, CreateGroupRejectsBadInput) {
  ASSERT_TRUE(add_agent("alice"));
  ASSERT_TRUE(add_group("lobby", "alice", unmoderated()));
  group_spec dup;
  dup.id = "lobby";
  EXPECT_TRUE(fails_with(n().create_group(as_admin, "alice", dup), errc::already_exists, {"'lobby'"}));
  EXPECT_TRUE(fails_with(n().create_group(as_admin, "nobody", {}), errc::not_found, {"'nobody'"}));
  group_spec bad;
  bad.id = "bad room";
  EXPECT_TRUE(fails_with(n().create_group(as_admin, "alice", bad), errc::invalid_argument));
  EXPECT_TRUE(fails_with(n().get_room(as_admin, "missing"), errc::not_found, {"'missing'"}));
  EXPECT_TRUE(fails_with(n().join(as_admin, "missing", "alice"), errc::not_found, {"'missing'"}));
}

// Verifies that joining an open room makes the agent a member, once.
TEST_F(NodeRooms, JoinOpenRoomMakesMember) {
  ASSERT_TRUE(add_agents({"owner", "alice"}));
  ASSERT_TRUE(add_group("lobby", "owner", unmoderated()));
  ASSERT_TRUE(succeeded(n().join(as_admin, "lobby", "alice")));
  EXPECT_EQ(role_of("lobby", "alice"), room_role::member);
  auto m = n().get_manifest(as_admin, "alice");
  ASSERT_TRUE(succeeded(m));
  EXPECT_EQ(m->rooms, std::vector<room_id>{"lobby"});
  EXPECT_TRUE(fails_with(n().join(as_admin, "lobby", "alice"), errc::already_exists, {"'alice'"}));
}

// Verifies that an invite-only room refuses agents without an invitation and
// admits invited ones with the invited role.
TEST_F(NodeRooms, InviteOnlyRoomNeedsInvitation) {
  ASSERT_TRUE(add_agents({"owner", "alice", "bob", "carol"}));
  ASSERT_TRUE(add_group("club", "owner", unmoderated(), {}, room_access::invite_only));
  EXPECT_TRUE(fails_with(n().join(as_admin, "club", "alice"), errc::permission_denied, {"'alice'", "invite"}));
  EXPECT_EQ(role_of("club", "alice"), std::nullopt);

  ASSERT_TRUE(succeeded(n().invite(as_admin, "club", "owner", "alice", room_role::admin)));
  ASSERT_TRUE(succeeded(n().join(as_admin, "club", "alice")));
  EXPECT_EQ(role_of("club", "alice"), room_role::admin);

  // An admin invites too; the invitation is used up by the join.
  ASSERT_TRUE(succeeded(n().invite(as_admin, "club", "alice", "bob", room_role::guest)));
  ASSERT_TRUE(succeeded(n().join(as_admin, "club", "bob")));
  EXPECT_EQ(role_of("club", "bob"), room_role::guest);
  ASSERT_TRUE(succeeded(n().leave(as_admin, "club", "bob")));
  EXPECT_TRUE(fails_with(n().join(as_admin, "club", "bob"), errc::permission_denied));

  // Inviting a member again is refused.
  EXPECT_TRUE(fails_with(n().invite(as_admin, "club", "owner", "alice", room_role::member),
                         errc::already_exists, {"'alice'"}));
  // Inviting an unknown agent is refused.
  EXPECT_TRUE(fails_with(n().invite(as_admin, "club", "owner", "nobody", room_role::member), errc::not_found));
}

// Verifies that members, guests and non-members may not invite, and that an
// admin may not invite as owner.
TEST_F(NodeRooms, InviteNeedsRankAndCannotMakeOwners) {
  ASSERT_TRUE(add_agents({"owner", "admin", "member", "outsider", "newcomer"}));
  ASSERT_TRUE(add_group("club", "owner", unmoderated(), {"admin", "member"}));
  ASSERT_TRUE(succeeded(n().set_role(as_admin, "club", "owner", "admin", room_role::admin)));

  EXPECT_TRUE(fails_with(n().invite(as_admin, "club", "member", "newcomer", room_role::member),
                         errc::permission_denied, {"'member'"}));
  EXPECT_TRUE(fails_with(n().invite(as_admin, "club", "outsider", "newcomer", room_role::member),
                         errc::permission_denied, {"'outsider'"}));
  EXPECT_TRUE(fails_with(n().invite(as_admin, "club", "admin", "newcomer", room_role::owner),
                         errc::permission_denied, {"owner"}));
  EXPECT_TRUE(fails_with(n().invite(as_admin, "club", "owner", "newcomer", room_role::owner),
                         errc::permission_denied));
  ASSERT_TRUE(succeeded(n().invite(as_admin, "club", "admin", "newcomer", room_role::admin)));
  ASSERT_TRUE(succeeded(n().join(as_admin, "club", "newcomer")));
  EXPECT_EQ(role_of("club", "newcomer"), room_role::admin);
}

// Verifies the set_role rules: only a higher rank changes someone, only to a
// rank below its own, and nobody changes themselves.
TEST_F(NodeRooms, SetRoleFollowsRankRules) {
  ASSERT_TRUE(add_agents({"owner", "ann", "bea", "cy"}));
  ASSERT_TRUE(add_group("club", "owner", unmoderated(), {"ann", "bea", "cy"}));

  // Owner makes an admin.
  ASSERT_TRUE(succeeded(n().set_role(as_admin, "club", "owner", "ann", room_role::admin)));
  EXPECT_EQ(role_of("club", "ann"), room_role::admin);
  // Admin cannot promote to admin, but may demote a member to guest.
  EXPECT_TRUE(fails_with(n().set_role(as_admin, "club", "ann", "bea", room_role::admin),
                         errc::permission_denied, {"'ann'", "'bea'"}));
  EXPECT_EQ(role_of("club", "bea"), room_role::member);
  ASSERT_TRUE(succeeded(n().set_role(as_admin, "club", "ann", "bea", room_role::guest)));
  EXPECT_EQ(role_of("club", "bea"), room_role::guest);
  // Admin cannot touch the owner.
  EXPECT_TRUE(fails_with(n().set_role(as_admin, "club", "ann", "owner", room_role::member),
                         errc::permission_denied));
  // Member cannot change anyone.
  EXPECT_TRUE(fails_with(n().set_role(as_admin, "club", "cy", "bea", room_role::member),
                         errc::permission_denied, {"'cy'"}));
  // Nobody changes themselves, not even the owner.
  EXPECT_TRUE(fails_with(n().set_role(as_admin, "club", "ann", "ann", room_role::member),
                         errc::permission_denied));
  EXPECT_TRUE(fails_with(n().set_role(as_admin, "club", "owner", "owner", room_role::admin),
                         errc::permission_denied));
  EXPECT_EQ(role_of("club", "owner"), room_role::owner);
  // Non-members and unknown targets.
  EXPECT_TRUE(fails_with(n().set_role(as_admin, "club", "nobody", "cy", room_role::guest),
                         errc::permission_denied, {"'nobody'"}));
  EXPECT_TRUE(fails_with(n().set_role(as_admin, "club", "owner", "nobody", room_role::guest),
                         errc::not_found, {"'nobody'"}));
}

// Verifies that set_role publishes role_changed.
TEST_F(NodeRooms, SetRolePublishesRoleChanged) {
  event_recorder rec;
  ASSERT_TRUE(succeeded(rec.attach(n(), mask_of(topic::room))));
  ASSERT_TRUE(add_agents({"owner", "ann"}));
  ASSERT_TRUE(add_group("club", "owner", unmoderated(), {"ann"}));
  ASSERT_TRUE(succeeded(n().set_role(as_admin, "club", "owner", "ann", room_role::admin)));
  auto e = rec.wait_for(is_event(event_kind::role_changed, "ann", "club"));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->detail, "admin by owner");
}

// Verifies that guests read but may neither post nor request a turn.
TEST_F(NodeRooms, GuestsCannotPostOrRequestTurns) {
  ASSERT_TRUE(add_agents({"owner", "guest"}));
  for (auto policy : {speaker_policy::none, speaker_policy::fifo}) {
    room_id id = policy == speaker_policy::none ? "open-room" : "fifo-room";
    ASSERT_TRUE(add_group(id, "owner", moderated(policy)));
    ASSERT_TRUE(succeeded(n().invite(as_admin, id, "owner", "guest", room_role::guest)));
    ASSERT_TRUE(succeeded(n().join(as_admin, id, "guest")));
    EXPECT_TRUE(fails_with(n().send(as_admin, room_message("guest", id, "hi")), errc::permission_denied,
                           {"'guest'", "guest"}))
      << id;
    EXPECT_TRUE(fails_with(n().request_turn(as_admin, id, "guest"), errc::permission_denied, {"'guest'"}))
      << id;
  }
  EXPECT_TRUE(waiting("fifo-room").empty());
}

// Verifies that only owners and admins close a room, and that a closed room
// refuses posts, turn requests, joins and a second close.
TEST_F(NodeRooms, CloseRoomNeedsRankThenRefusesActivity) {
  event_recorder rec;
  ASSERT_TRUE(succeeded(rec.attach(n(), mask_of(topic::room))));
  ASSERT_TRUE(add_agents({"owner", "member", "late"}));
  ASSERT_TRUE(add_group("club", "owner", moderated(speaker_policy::fifo), {"member"}));

  EXPECT_TRUE(fails_with(n().close_room(as_admin, "club", "member"), errc::permission_denied,
                         {"'member'"}));
  EXPECT_TRUE(fails_with(n().close_room(as_admin, "club", "nobody"), errc::permission_denied));
  auto open = n().get_room(as_admin, "club");
  ASSERT_TRUE(succeeded(open));
  EXPECT_TRUE(open->open);

  ASSERT_TRUE(succeeded(n().close_room(as_admin, "club", "owner")));
  auto closed = rec.wait_for(is_event(event_kind::room_closed, {}, "club"));
  ASSERT_TRUE(closed);
  EXPECT_EQ(closed->detail, "closed by owner");
  auto got = n().get_room(as_admin, "club");
  ASSERT_TRUE(succeeded(got));
  EXPECT_FALSE(got->open);
  EXPECT_EQ(n().stats().rooms_closed, 1u);

  EXPECT_TRUE(fails_with(n().send(as_admin, room_message("owner", "club", "anyone?")),
                         errc::failed_precondition, {"'club'", "closed"}));
  EXPECT_TRUE(fails_with(n().request_turn(as_admin, "club", "member"), errc::failed_precondition,
                         {"'club'", "closed"}));
  EXPECT_TRUE(fails_with(n().join(as_admin, "club", "late"), errc::failed_precondition, {"closed"}));
  EXPECT_TRUE(fails_with(n().close_room(as_admin, "club", ""), errc::failed_precondition));
}

// Verifies that the administrator may close any room.
TEST_F(NodeRooms, AdministratorClosesAnyRoom) {
  ASSERT_TRUE(add_agent("owner"));
  ASSERT_TRUE(add_group("club", "owner", unmoderated()));
  ASSERT_TRUE(succeeded(n().close_room(as_admin, "club", "")));
  auto got = n().get_room(as_admin, "club");
  ASSERT_TRUE(succeeded(got));
  EXPECT_FALSE(got->open);
}

// Verifies that when the owner leaves, the highest-ranked remaining member
// becomes owner and role_changed is published.
TEST_F(NodeRooms, OwnerLeavingPassesOwnership) {
  event_recorder rec;
  ASSERT_TRUE(succeeded(rec.attach(n(), mask_of(topic::room))));
  ASSERT_TRUE(add_agents({"owner", "member", "admin"}));
  ASSERT_TRUE(add_group("club", "owner", unmoderated(), {"member", "admin"}));
  ASSERT_TRUE(succeeded(n().set_role(as_admin, "club", "owner", "admin", room_role::admin)));

  ASSERT_TRUE(succeeded(n().leave(as_admin, "club", "owner")));
  EXPECT_EQ(role_of("club", "owner"), std::nullopt);
  EXPECT_EQ(role_of("club", "admin"), room_role::owner);
  EXPECT_EQ(role_of("club", "member"), room_role::member);
  ASSERT_TRUE(rec.wait_for(is_event(event_kind::member_left, "owner", "club")));
  auto e = rec.wait_for(is_event(event_kind::role_changed, "admin", "club"));
  ASSERT_TRUE(e);
  EXPECT_NE(e->detail.find("owner"), std::string::npos);
  auto m = n().get_manifest(as_admin, "owner");
  ASSERT_TRUE(succeeded(m));
  EXPECT_TRUE(m->rooms.empty());
  // Leaving twice fails.
  EXPECT_TRUE(fails_with(n().leave(as_admin, "club", "owner"), errc::permission_denied, {"'owner'"}));
}

// Verifies that the last member leaving closes the room.
TEST_F(NodeRooms, LastMemberLeavingClosesRoom) {
  ASSERT_TRUE(add_agent("owner"));
  ASSERT_TRUE(add_group("club", "owner", unmoderated()));
  ASSERT_TRUE(succeeded(n().leave(as_admin, "club", "owner")));
  auto got = n().get_room(as_admin, "club");
  ASSERT_TRUE(succeeded(got));
  EXPECT_TRUE(got->members.empty());
  EXPECT_FALSE(got->open);
}

// Verifies that a pair has one direct room whatever the argument order, with
// exactly its two members.
TEST_F(NodeRooms, DirectRoomIsUniquePerPair) {
  ASSERT_TRUE(add_agents({"alice", "bob", "carol"}));
  auto first = n().create_direct(as_admin, "alice", "bob");
  ASSERT_TRUE(succeeded(first));
  auto again = n().create_direct(as_admin, "alice", "bob");
  ASSERT_TRUE(succeeded(again));
  auto swapped = n().create_direct(as_admin, "bob", "alice");
  ASSERT_TRUE(succeeded(swapped));
  EXPECT_EQ(first->id, again->id);
  EXPECT_EQ(first->id, swapped->id);
  EXPECT_EQ(first->kind, room_kind::direct);
  ASSERT_EQ(first->members.size(), 2u);
  EXPECT_NE(first->find("alice"), nullptr);
  EXPECT_NE(first->find("bob"), nullptr);
  EXPECT_EQ(n().list_rooms(as_admin)->size(), 1u);

  auto other = n().create_direct(as_admin, "alice", "carol");
  ASSERT_TRUE(succeeded(other));
  EXPECT_NE(other->id, first->id);
  EXPECT_EQ(n().list_rooms(as_admin)->size(), 2u);
}

// Verifies that nobody joins or is invited into a direct room, roles do not
// apply, and a pair needs two different agents.
TEST_F(NodeRooms, DirectRoomRefusesJoinInviteAndSelfPair) {
  ASSERT_TRUE(add_agents({"alice", "bob", "carol"}));
  auto dm = n().create_direct(as_admin, "alice", "bob");
  ASSERT_TRUE(succeeded(dm));
  EXPECT_TRUE(fails_with(n().join(as_admin, dm->id, "carol"), errc::failed_precondition, {"direct"}));
  EXPECT_TRUE(fails_with(n().invite(as_admin, dm->id, "alice", "carol", room_role::member),
                         errc::failed_precondition, {"direct"}));
  EXPECT_TRUE(fails_with(n().set_role(as_admin, dm->id, "alice", "bob", room_role::guest),
                         errc::failed_precondition));
  auto got = n().get_room(as_admin, dm->id);
  ASSERT_TRUE(succeeded(got));
  EXPECT_EQ(got->members.size(), 2u);
  EXPECT_TRUE(fails_with(n().create_direct(as_admin, "alice", "alice"), errc::invalid_argument, {"'alice'"}));
  EXPECT_TRUE(fails_with(n().create_direct(as_admin, "alice", "nobody"), errc::not_found, {"'nobody'"}));
}

// Verifies that a message into a direct room reaches the other member only.
TEST_F(NodeRooms, DirectRoomPostReachesThePeer) {
  event_recorder rec;
  ASSERT_TRUE(succeeded(rec.attach(n(), all_topics)));
  ASSERT_TRUE(add_agents({"alice", "bob"}));
  auto dm = n().create_direct(as_admin, "alice", "bob");
  ASSERT_TRUE(succeeded(dm));
  auto sent = n().send(as_admin, room_message("alice", dm->id, "psst"));
  ASSERT_TRUE(succeeded(sent));
  ASSERT_TRUE(rec.wait_for(delivered_to("bob", "alice", sent->id)));
  EXPECT_EQ(rec.count(delivered_to("alice", "alice", sent->id)), 0u);
}

// Verifies a member cannot leave a direct room (so the pair's room is
// never closed under it and handed out again); it closes when one of the
// two retires, and create_direct then refuses the retired agent.
TEST_F(NodeRooms, DirectRoomCannotBeLeft) {
  ASSERT_TRUE(add_agents({"alice", "bob"}));
  auto dm = n().create_direct(as_admin, "alice", "bob");
  ASSERT_TRUE(succeeded(dm));
  EXPECT_TRUE(fails_with(n().leave(as_admin, dm->id, "alice"), errc::failed_precondition, {"direct"}));
  auto still = n().get_room(as_admin, dm->id);
  ASSERT_TRUE(succeeded(still));
  EXPECT_TRUE(still->open);
  EXPECT_EQ(still->members.size(), 2u);
  ASSERT_TRUE(succeeded(n().retire(as_admin, "bob")));
  auto closed = n().get_room(as_admin, dm->id);
  ASSERT_TRUE(succeeded(closed));
  EXPECT_FALSE(closed->open);
  EXPECT_TRUE(fails_with(n().create_direct(as_admin, "alice", "bob"), errc::failed_precondition, {"retired"}));
}

// Verifies create_direct finds a pair's room by the pair, not by the id (a
// 64-bit hash of it): a room already holding that id (here a group room
// made on purpose with it) is not handed out as the pair's.
TEST_F(NodeRooms, DirectRoomIsFoundByThePairNotTheId) {
  ASSERT_TRUE(add_agents({"alice", "bob", "mallory"}));
  const auto taken = direct_room_id("alice", "bob");
  group_spec g;
  g.id = taken;
  ASSERT_TRUE(succeeded(n().create_group(as_admin, "mallory", g)));
  auto dm = n().create_direct(as_admin, "alice", "bob");
  ASSERT_TRUE(succeeded(dm));
  EXPECT_NE(dm->id, taken);
  EXPECT_EQ(dm->kind, room_kind::direct);
  EXPECT_EQ(dm->pair, (std::vector<agent_id>{"alice", "bob"}));
  auto again = n().create_direct(as_admin, "bob", "alice");
  ASSERT_TRUE(succeeded(again));
  EXPECT_EQ(again->id, dm->id);
}

// Verifies room_created comes before every other event of a room, also
// when joins race the creation (before, the creator published room_created
// after the moderator could already publish member_joined).
TEST_F(NodeRooms, RoomCreatedComesFirst) {
  event_recorder rec;
  ASSERT_TRUE(succeeded(rec.attach(n(), mask_of(topic::room))));
  ASSERT_TRUE(add_agents({"owner", "joiner"}));
  constexpr int rooms = 30;
  std::atomic<bool> done{false};
  std::thread joiner{[&] {
    for (int i = 0; i < rooms && !done; ++i)
      while (!done && !n().join(as_admin, "race-" + std::to_string(i), "joiner"))
        ;
  }};
  for (int i = 0; i < rooms; ++i) {
    group_spec g;
    g.id = "race-" + std::to_string(i);
    ASSERT_TRUE(succeeded(n().create_group(as_admin, "owner", g)));
  }
  ASSERT_TRUE(rec.wait_count(is_event(event_kind::member_joined, "joiner"), rooms));
  done = true;
  joiner.join();
  std::map<std::string, uint64_t> created;
  for (auto& e : rec.events()) {
    if (e.kind == event_kind::room_created)
      created[e.room] = e.seq;
    else
      EXPECT_TRUE(created.count(e.room)) << to_string(e.kind) << " of " << e.room << " before room_created";
  }
  EXPECT_EQ(created.size(), static_cast<size_t>(rooms));
}

} // namespace
} // namespace parley
