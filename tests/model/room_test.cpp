#include "parley/model/room.hpp"

#include <set>
#include <string>

#include <gtest/gtest.h>

#include "parley/model/limits.hpp"

namespace parley {
namespace {

room group_room() {
  room r;
  r.id = "lobby";
  r.kind = room_kind::group;
  r.topic = "general chat";
  r.members = {{"alice", room_role::owner, 1}, {"bob", room_role::member, 2}};
  return r;
}

bool mentions(const error& e, std::string_view text) {
  return e.message.find(text) != std::string::npos;
}

// Verifies a well-formed group room and a two-member direct room pass.
TEST(Room, AcceptsValidRooms) {
  EXPECT_TRUE(validate(group_room()));
  auto dm = group_room();
  dm.kind = room_kind::direct;
  dm.id = direct_room_id("alice", "bob");
  EXPECT_TRUE(validate(dm));
}

// Verifies a bad room id is refused naming "room id".
TEST(Room, RejectsInvalidId) {
  auto r = group_room();
  r.id = "";
  auto v = validate(r);
  ASSERT_FALSE(v);
  EXPECT_EQ(v.error().code, errc::invalid_argument);
  EXPECT_TRUE(mentions(v.error(), "room id")) << v.error().message;
}

// Verifies the topic limit is 512 bytes inclusive and the error names the room and field.
TEST(Room, RejectsTopicOver512Bytes) {
  auto r = group_room();
  r.topic = std::string(limits::max_topic, 't');
  EXPECT_TRUE(validate(r));
  r.topic.push_back('t');
  auto v = validate(r);
  ASSERT_FALSE(v);
  EXPECT_EQ(v.error().code, errc::invalid_argument);
  EXPECT_TRUE(mentions(v.error(), "'lobby'")) << v.error().message;
  EXPECT_TRUE(mentions(v.error(), "topic")) << v.error().message;
  EXPECT_TRUE(mentions(v.error(), "513")) << v.error().message;
}

// Verifies a direct room with other than exactly two members is refused (a group room is not).
TEST(Room, DirectRoomNeedsExactlyTwoMembers) {
  auto r = group_room();
  r.kind = room_kind::direct;
  r.members.push_back({"carol", room_role::member, 3});
  auto three = validate(r);
  ASSERT_FALSE(three);
  EXPECT_EQ(three.error().code, errc::invalid_argument);
  EXPECT_TRUE(mentions(three.error(), "exactly 2 members")) << three.error().message;
  EXPECT_TRUE(mentions(three.error(), "has 3")) << three.error().message;

  r.members.resize(1);
  auto one = validate(r);
  ASSERT_FALSE(one);
  EXPECT_TRUE(mentions(one.error(), "has 1")) << one.error().message;

  r.kind = room_kind::group;
  EXPECT_TRUE(validate(r));
}

// Verifies malformed ids on either side of a transition are refused, via the rules and the room.
TEST(Room, RejectsBadTransitionIds) {
  auto r = group_room();
  r.rules.transitions["alice"] = {"bob"};
  EXPECT_TRUE(validate(r));

  r.rules.transitions["bad id"] = {"alice"};
  auto from = validate(r.rules);
  ASSERT_FALSE(from);
  EXPECT_EQ(from.error().code, errc::invalid_argument);
  EXPECT_TRUE(mentions(from.error(), "transitions")) << from.error().message;
  auto via_room = validate(r);
  ASSERT_FALSE(via_room);
  EXPECT_TRUE(mentions(via_room.error(), "'lobby'")) << via_room.error().message;
  EXPECT_TRUE(mentions(via_room.error(), "transitions")) << via_room.error().message;

  r.rules.transitions.erase("bad id");
  r.rules.transitions["alice"] = {"bob", "bad/next"};
  auto to = validate(r);
  ASSERT_FALSE(to);
  EXPECT_EQ(to.error().code, errc::invalid_argument);
  EXPECT_TRUE(mentions(to.error(), "transitions of 'alice'")) << to.error().message;
}

// Verifies negative turn_slot_ms is refused, while 0 (no limit) is accepted.
TEST(Room, RejectsNegativeTurnSlot) {
  auto r = group_room();
  r.rules.turn_slot_ms = 0;
  EXPECT_TRUE(validate(r));
  r.rules.turn_slot_ms = -1;
  auto v = validate(r);
  ASSERT_FALSE(v);
  EXPECT_EQ(v.error().code, errc::invalid_argument);
  EXPECT_TRUE(mentions(v.error(), "turn_slot_ms")) << v.error().message;
  EXPECT_TRUE(mentions(v.error(), "-1")) << v.error().message;
}

// Verifies find returns the member entry by id and nullptr for a stranger.
TEST(Room, FindsMembersById) {
  auto r = group_room();
  auto* bob = r.find("bob");
  ASSERT_NE(bob, nullptr);
  EXPECT_EQ(bob->role, room_role::member);
  EXPECT_EQ(r.find("carol"), nullptr);
}

// Verifies direct_room_id ignores argument order.
TEST(DirectRoomId, IsIndependentOfOrder) {
  EXPECT_EQ(direct_room_id("alice", "bob"), direct_room_id("bob", "alice"));
  EXPECT_EQ(direct_room_id("x", "x"), direct_room_id("x", "x"));
}

// Verifies different pairs map to different ids, including pairs with the same concatenation.
TEST(DirectRoomId, DiffersForDifferentPairs) {
  std::set<room_id> ids;
  const char* names[] = {"a", "b", "ab", "c", "bc", "alice", "bob", "carol", "node-1:alice"};
  size_t pairs = 0;
  for (size_t i = 0; i < std::size(names); ++i)
    for (size_t j = i; j < std::size(names); ++j) {
      ids.insert(direct_room_id(names[i], names[j]));
      ++pairs;
    }
  EXPECT_EQ(ids.size(), pairs);
  // "a"+"bc" and "ab"+"c" concatenate alike; the separator keeps them apart.
  EXPECT_NE(direct_room_id("a", "bc"), direct_room_id("ab", "c"));
}

// Verifies the id is a valid room id, even for long agent ids.
TEST(DirectRoomId, IsAValidRoomId) {
  for (auto [a, b] : {std::pair{std::string{"alice"}, std::string{"bob"}},
                      std::pair{std::string(128, 'a'), std::string(128, 'b')}}) {
    auto id = direct_room_id(a, b);
    auto ok = validate_room_id(id);
    EXPECT_TRUE(ok) << id;
  }
}

// Verifies every room enum round-trips through its name.
TEST(RoomEnums, RoundTripThroughNames) {
  for (auto k : {room_kind::direct, room_kind::group}) {
    auto p = parse_room_kind(to_string(k));
    ASSERT_TRUE(p);
    EXPECT_EQ(*p, k);
  }
  for (auto x : {room_role::guest, room_role::member, room_role::admin, room_role::owner}) {
    auto p = parse_room_role(to_string(x));
    ASSERT_TRUE(p);
    EXPECT_EQ(*p, x);
  }
  for (auto x : {speaker_policy::none, speaker_policy::fifo, speaker_policy::round_robin,
                 speaker_policy::priority, speaker_policy::random}) {
    auto p = parse_speaker_policy(to_string(x));
    ASSERT_TRUE(p);
    EXPECT_EQ(*p, x);
  }
  for (auto x : {room_access::open, room_access::invite_only}) {
    auto p = parse_room_access(to_string(x));
    ASSERT_TRUE(p);
    EXPECT_EQ(*p, x);
  }
  EXPECT_EQ(to_string(speaker_policy::round_robin), "round_robin");
  EXPECT_EQ(to_string(room_access::invite_only), "invite_only");
}

// Verifies an unknown role fails with invalid_argument naming the input and every valid role.
TEST(RoomEnums, UnknownRoleListsValidNames) {
  auto r = parse_room_role("superuser");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, errc::invalid_argument);
  EXPECT_TRUE(mentions(r.error(), "'superuser'")) << r.error().message;
  EXPECT_TRUE(mentions(r.error(), "room role")) << r.error().message;
  for (auto name : {"guest", "member", "admin", "owner"})
    EXPECT_TRUE(mentions(r.error(), name)) << r.error().message;
}

// Verifies unknown names of the other room enums are refused and list their valid names.
TEST(RoomEnums, UnknownNamesAreRefused) {
  auto policy = parse_speaker_policy("loudest");
  ASSERT_FALSE(policy);
  EXPECT_EQ(policy.error().code, errc::invalid_argument);
  EXPECT_TRUE(mentions(policy.error(), "none fifo round_robin priority random"))
    << policy.error().message;
  EXPECT_FALSE(parse_room_kind("Group"));
  EXPECT_FALSE(parse_room_access("closed"));
  EXPECT_FALSE(parse_room_role(""));
}

// Verifies roles are ordered owner > admin > member > guest.
TEST(RoomEnums, RolesAreOrdered) {
  EXPECT_GT(room_role::owner, room_role::admin);
  EXPECT_GT(room_role::admin, room_role::member);
  EXPECT_GT(room_role::member, room_role::guest);
}

} // namespace
} // namespace parley
