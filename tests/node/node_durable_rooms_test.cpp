// Rooms of a node with a store: members, roles, invitations and closed
// rooms survive a restart; a failed write changes nothing.

#include <algorithm>

#include "support/node_fixture.hpp"
#include "support/temp_dir.hpp"

namespace parley {
namespace {

using test_support::as_admin;

using test_support::durable_config;
using test_support::make_spec;
using test_support::start_ok;

void introduce_all(node& n, std::initializer_list<const char*> ids) {
  for (auto id : ids)
    ASSERT_TRUE(n.introduce(as_admin, make_spec(id)).has_value()) << id;
}

bool lists(const manifest& m, const room_id& r) {
  return std::find(m.rooms.begin(), m.rooms.end(), r) != m.rooms.end();
}

// Verifies rooms come back after a restart as they were acknowledged.
TEST(NodeDurableRooms, RoomsSurviveRestart) {
  test::temp_dir dir;
  room lab_before;
  room_id dm;
  room_id generated;
  {
    auto n = start_ok(durable_config(dir.str()));
    ASSERT_TRUE(n);
    introduce_all(*n, {"owner", "admin", "member", "guest", "invitee", "x", "y"});
    group_spec lab{"lab", "experiments", {}, room_access::invite_only};
    lab.rules.policy = speaker_policy::round_robin;
    lab.rules.max_messages_per_turn = 3;
    ASSERT_TRUE(n->create_group(as_admin, "owner", lab).has_value());
    for (auto [who, role] : {std::pair{"admin", room_role::admin}, {"member", room_role::member},
                             {"guest", room_role::guest}}) {
      ASSERT_TRUE(n->invite(as_admin, "lab", "owner", who, role).has_value());
      ASSERT_TRUE(n->join(as_admin, "lab", who).has_value());
    }
    ASSERT_TRUE(n->invite(as_admin, "lab", "owner", "invitee", room_role::member).has_value());
    ASSERT_TRUE(n->set_role(as_admin, "lab", "owner", "member", room_role::admin).has_value());
    ASSERT_TRUE(n->create_group(as_admin, "x", {"closed-room", "", {}, room_access::open}).has_value());
    ASSERT_TRUE(n->close_room(as_admin, "closed-room", "x").has_value());
    auto made = n->create_group(as_admin, "y", {});
    ASSERT_TRUE(made.has_value());
    generated = made->id;
    dm = n->create_direct(as_admin, "x", "y").value().id;
    lab_before = n->get_room(as_admin, "lab").value();
  }
  auto n = start_ok(durable_config(dir.str()));
  ASSERT_TRUE(n);
  EXPECT_EQ(n->get_room(as_admin, "lab").value(), lab_before);
  EXPECT_TRUE(lists(n->get_manifest(as_admin, "member").value(), "lab"));
  EXPECT_TRUE(lists(n->get_manifest(as_admin, "x").value(), dm));
  // The invitation survived: the invitee joins an invite-only room.
  ASSERT_TRUE(n->join(as_admin, "lab", "invitee").has_value());
  EXPECT_EQ(n->get_room(as_admin, "lab").value().find("invitee")->role, room_role::member);
  // A closed room stays closed.
  auto req = n->request_turn(as_admin, "closed-room", "x");
  ASSERT_FALSE(req.has_value());
  EXPECT_EQ(req.error().code, errc::failed_precondition);
  // The same pair finds its direct room; generated ids do not collide.
  EXPECT_EQ(n->create_direct(as_admin, "y", "x").value().id, dm);
  auto another = n->create_group(as_admin, "y", {});
  ASSERT_TRUE(another.has_value()) << to_string(another.error());
  EXPECT_NE(another->id, generated);
}

// Verifies failed writes refuse room changes and leave memory and disk as they were.
TEST(NodeDurableRooms, FailedWritesChangeNothing) {
  test::temp_dir dir;
  auto faults = std::make_shared<storage::disk_faults>();
  {
    auto n = start_ok(durable_config(dir.str(), faults));
    ASSERT_TRUE(n);
    introduce_all(*n, {"owner", "a", "b"});
    ASSERT_TRUE(n->create_group(as_admin, "owner", {"hall", "", {}, room_access::open}).has_value());
    faults->fail_writes(true);
    auto join = n->join(as_admin, "hall", "a");
    ASSERT_FALSE(join.has_value());
    EXPECT_EQ(join.error().code, errc::storage_failure);
    EXPECT_EQ(n->get_room(as_admin, "hall").value().find("a"), nullptr);
    EXPECT_FALSE(lists(n->get_manifest(as_admin, "a").value(), "hall"));
    auto made = n->create_group(as_admin, "owner", {"never", "", {}, room_access::open});
    ASSERT_FALSE(made.has_value());
    EXPECT_EQ(made.error().code, errc::storage_failure);
    EXPECT_EQ(n->get_room(as_admin, "never").error().code, errc::not_found);
    faults->fail_writes(false);
    ASSERT_TRUE(n->join(as_admin, "hall", "b").has_value());
  }
  auto n = start_ok(durable_config(dir.str()));
  ASSERT_TRUE(n);
  auto hall = n->get_room(as_admin, "hall").value();
  EXPECT_EQ(hall.find("a"), nullptr);
  EXPECT_NE(hall.find("b"), nullptr);
  EXPECT_EQ(*n->list_rooms(as_admin), (std::vector<room_id>{"hall"}));
}

} // namespace
} // namespace parley
