// parley.v1.Rooms over a real server: direct and group rooms, membership,
// invitations, roles, closing, listings, and history (durable nodes only);
// the status code of each bad path, and caller checks with an admin token.

#include <algorithm>

#include "api/api_fixture.hpp"

namespace parley::api_test {
namespace {

using grpc::StatusCode;

class RoomsApi : public ApiFixture {
protected:
  pb::Room get_room(const std::string& id) {
    pb::GetRoomRequest req;
    req.set_room(id);
    pb::Room out;
    EXPECT_TRUE(is_ok(rooms->GetRoom(caller().get(), req, &out)));
    return out;
  }

  static std::vector<std::string> members(const pb::Room& r) {
    std::vector<std::string> out;
    for (auto& m : r.members())
      out.push_back(m.agent());
    return out;
  }

  static pb::RoomRole role_of(const pb::Room& r, const std::string& agent) {
    for (auto& m : r.members())
      if (m.agent() == agent)
        return m.role();
    return pb::ROOM_ROLE_UNSPECIFIED;
  }

  grpc::Status leave(const std::string& room, const std::string& agent) {
    pb::LeaveRequest req;
    req.set_room(room);
    req.set_agent(agent);
    pb::LeaveResponse out;
    return rooms->Leave(as_admin().get(), req, &out);
  }

  grpc::Status set_role(const std::string& room, const std::string& by, const std::string& agent,
                        pb::RoomRole role, pb::Room* out = nullptr) {
    pb::SetRoleRequest req;
    req.set_room(room);
    req.set_by(by);
    req.set_agent(agent);
    req.set_role(role);
    pb::Room ignored;
    return rooms->SetRole(as_admin().get(), req, out ? out : &ignored);
  }

  grpc::Status close(const std::string& room, const std::string& by, pb::Room* out = nullptr) {
    pb::CloseRequest req;
    req.set_room(room);
    req.set_by(by);
    pb::Room ignored;
    return rooms->Close(as_admin().get(), req, out ? out : &ignored);
  }
};

// Verifies CreateDirect: two members, unmoderated, the same room for the
// pair in either order; bad pairs fail.
TEST_F(RoomsApi, CreateDirectReturnsThePairsOneRoom) {
  ASSERT_TRUE(introduce_all({"ada", "bob", "cy"}));
  pb::CreateDirectRequest req;
  req.set_a("ada");
  req.set_b("bob");
  pb::Room first;
  ASSERT_TRUE(is_ok(rooms->CreateDirect(as_admin().get(), req, &first)));
  EXPECT_EQ(first.kind(), pb::ROOM_KIND_DIRECT);
  EXPECT_TRUE(first.open());
  EXPECT_EQ(members(first), (std::vector<std::string>{"ada", "bob"}));
  req.set_a("bob");
  req.set_b("ada");
  pb::Room again;
  ASSERT_TRUE(is_ok(rooms->CreateDirect(as_admin().get(), req, &again)));
  EXPECT_EQ(again.id(), first.id());

  req.set_b("bob");
  EXPECT_TRUE(is_error(rooms->CreateDirect(as_admin().get(), req, &again),
                       StatusCode::INVALID_ARGUMENT, {"two different agents"}));
  req.set_b("nobody");
  EXPECT_TRUE(is_error(rooms->CreateDirect(as_admin().get(), req, &again), StatusCode::NOT_FOUND,
                       {"nobody"}));
  // Nobody joins a direct room.
  EXPECT_TRUE(is_error(join(first.id(), "cy"), StatusCode::FAILED_PRECONDITION, {"direct"}));
}

// Verifies CreateGroup: the creator is the owner, rules and access are
// kept, an empty id gets one picked; bad input fails with the field named.
TEST_F(RoomsApi, CreateGroupMakesTheCreatorOwner) {
  ASSERT_TRUE(introduce_all({"ada", "bob"}));
  pb::CreateGroupRequest req;
  req.set_creator("ada");
  req.set_id("lab");
  req.set_topic("experiments");
  req.mutable_rules()->set_policy(pb::SPEAKER_POLICY_FIFO);
  req.mutable_rules()->set_max_messages_per_turn(2);
  req.set_invite_only(true);
  pb::Room out;
  ASSERT_TRUE(is_ok(rooms->CreateGroup(as_admin().get(), req, &out)));
  EXPECT_EQ(out.id(), "lab");
  EXPECT_EQ(out.kind(), pb::ROOM_KIND_GROUP);
  EXPECT_EQ(out.topic(), "experiments");
  EXPECT_EQ(out.created_by(), "ada");
  EXPECT_TRUE(out.invite_only());
  EXPECT_TRUE(out.open());
  EXPECT_EQ(out.rules().policy(), pb::SPEAKER_POLICY_FIFO);
  EXPECT_EQ(out.rules().max_messages_per_turn(), 2u);
  EXPECT_EQ(role_of(out, "ada"), pb::ROOM_ROLE_OWNER);

  EXPECT_TRUE(is_error(rooms->CreateGroup(as_admin().get(), req, &out), StatusCode::ALREADY_EXISTS,
                       {"lab"}));

  pb::CreateGroupRequest unnamed;
  unnamed.set_creator("bob");
  ASSERT_TRUE(is_ok(rooms->CreateGroup(as_admin().get(), unnamed, &out)));
  EXPECT_EQ(out.id().rfind("room-", 0), 0u) << out.id();

  auto bad = req;
  bad.set_id("bad room");
  EXPECT_TRUE(is_error(rooms->CreateGroup(as_admin().get(), bad, &out),
                       StatusCode::INVALID_ARGUMENT, {"[A-Za-z0-9._:-]"}));
  bad = req;
  bad.set_id("x");
  bad.mutable_rules()->set_policy(static_cast<pb::SpeakerPolicy>(12));
  EXPECT_TRUE(is_error(rooms->CreateGroup(as_admin().get(), bad, &out),
                       StatusCode::INVALID_ARGUMENT, {"rules.policy", "12"}));
  bad = req;
  bad.set_id("x");
  bad.set_topic(std::string(513, 't'));
  EXPECT_TRUE(is_error(rooms->CreateGroup(as_admin().get(), bad, &out),
                       StatusCode::INVALID_ARGUMENT, {"topic"}));
  bad = req;
  bad.set_id("x");
  bad.set_creator("nobody");
  EXPECT_TRUE(is_error(rooms->CreateGroup(as_admin().get(), bad, &out), StatusCode::NOT_FOUND,
                       {"nobody"}));
}

// Verifies Join and Leave with their refusals: a member twice, an unknown
// room, a non-member leaving; the last member leaving closes the room.
TEST_F(RoomsApi, JoinAndLeave) {
  ASSERT_TRUE(introduce_all({"ada", "bob", "cy"}));
  ASSERT_TRUE(is_ok(create_group("ada", "lab")));
  pb::JoinRequest req;
  req.set_room("lab");
  req.set_agent("bob");
  pb::Room out;
  ASSERT_TRUE(is_ok(rooms->Join(as_admin().get(), req, &out)));
  // The answer names the new member only (a join costs the same in any
  // room) and counts them all.
  EXPECT_EQ(members(out), (std::vector<std::string>{"bob"}));
  EXPECT_EQ(out.member_count(), 2u);
  EXPECT_EQ(role_of(out, "bob"), pb::ROOM_ROLE_MEMBER);
  EXPECT_EQ(members(get_room("lab")), (std::vector<std::string>{"ada", "bob"}));

  EXPECT_TRUE(is_error(join("lab", "bob"), StatusCode::ALREADY_EXISTS, {"already a member"}));
  EXPECT_TRUE(is_error(join("nowhere", "bob"), StatusCode::NOT_FOUND, {"nowhere"}));
  EXPECT_TRUE(is_error(join("lab", "nobody"), StatusCode::NOT_FOUND, {"nobody"}));
  EXPECT_TRUE(is_error(join("bad room", "bob"), StatusCode::INVALID_ARGUMENT));

  ASSERT_TRUE(is_ok(leave("lab", "bob")));
  EXPECT_EQ(members(get_room("lab")), (std::vector<std::string>{"ada"}));
  EXPECT_TRUE(is_error(leave("lab", "cy"), StatusCode::PERMISSION_DENIED, {"not a member"}));
  EXPECT_TRUE(is_error(leave("nowhere", "cy"), StatusCode::NOT_FOUND));
  ASSERT_TRUE(is_ok(leave("lab", "ada")));
  EXPECT_FALSE(get_room("lab").open());
  EXPECT_TRUE(is_error(join("lab", "cy"), StatusCode::FAILED_PRECONDITION, {"closed"}));
}

// Verifies invitations: invite-only rooms refuse the uninvited, admit the
// invited with the role given; only owners and admins invite.
TEST_F(RoomsApi, InviteOnlyRoomsNeedAnInvitation) {
  ASSERT_TRUE(introduce_all({"ada", "bob", "cy", "dee"}));
  ASSERT_TRUE(is_ok(create_group("ada", "club", pb::SPEAKER_POLICY_NONE, true)));
  EXPECT_TRUE(is_error(join("club", "bob"), StatusCode::PERMISSION_DENIED, {"invite-only"}));

  pb::InviteRequest inv;
  inv.set_room("club");
  inv.set_by("ada");
  inv.set_agent("bob");
  inv.set_role(pb::ROOM_ROLE_ADMIN);
  pb::InviteResponse ignored;
  ASSERT_TRUE(is_ok(rooms->Invite(as_admin().get(), inv, &ignored)));
  ASSERT_TRUE(is_ok(join("club", "bob")));
  EXPECT_EQ(role_of(get_room("club"), "bob"), pb::ROOM_ROLE_ADMIN);

  ASSERT_TRUE(is_ok(invite("club", "bob", "cy"))); // role unset = member
  ASSERT_TRUE(is_ok(join("club", "cy")));
  EXPECT_EQ(role_of(get_room("club"), "cy"), pb::ROOM_ROLE_MEMBER);

  EXPECT_TRUE(is_error(invite("club", "cy", "dee"), StatusCode::PERMISSION_DENIED,
                       {"only owners and admins invite"}));
  EXPECT_TRUE(is_error(invite("club", "ada", "bob"), StatusCode::ALREADY_EXISTS));
  EXPECT_TRUE(is_error(invite("club", "ada", "nobody"), StatusCode::NOT_FOUND));
  EXPECT_TRUE(is_error(invite("nowhere", "ada", "dee"), StatusCode::NOT_FOUND));
  inv.set_agent("dee");
  inv.set_role(static_cast<pb::RoomRole>(7));
  EXPECT_TRUE(is_error(rooms->Invite(as_admin().get(), inv, &ignored),
                       StatusCode::INVALID_ARGUMENT, {"role", "7"}));
  inv.set_role(pb::ROOM_ROLE_OWNER);
  EXPECT_TRUE(is_error(rooms->Invite(as_admin().get(), inv, &ignored),
                       StatusCode::PERMISSION_DENIED, {"may not invite as owner"}));
}

// Verifies SetRole: a higher rank changes a lower one; the refusals.
TEST_F(RoomsApi, SetRoleChangesLowerRanks) {
  ASSERT_TRUE(introduce_all({"ada", "bob", "cy"}));
  ASSERT_TRUE(is_ok(create_group("ada", "lab")));
  ASSERT_TRUE(is_ok(join("lab", "bob")));
  ASSERT_TRUE(is_ok(join("lab", "cy")));
  pb::Room out;
  ASSERT_TRUE(is_ok(set_role("lab", "ada", "bob", pb::ROOM_ROLE_ADMIN, &out)));
  EXPECT_EQ(role_of(out, "bob"), pb::ROOM_ROLE_ADMIN);
  ASSERT_TRUE(is_ok(set_role("lab", "bob", "cy", pb::ROOM_ROLE_GUEST, &out)));
  EXPECT_EQ(role_of(out, "cy"), pb::ROOM_ROLE_GUEST);

  EXPECT_TRUE(is_error(set_role("lab", "bob", "ada", pb::ROOM_ROLE_MEMBER),
                       StatusCode::PERMISSION_DENIED));
  EXPECT_TRUE(is_error(set_role("lab", "ada", "nobody", pb::ROOM_ROLE_MEMBER),
                       StatusCode::NOT_FOUND));
  EXPECT_TRUE(is_error(set_role("lab", "ada", "bob", static_cast<pb::RoomRole>(5)),
                       StatusCode::INVALID_ARGUMENT, {"role"}));
  EXPECT_TRUE(is_error(set_role("nowhere", "ada", "bob", pb::ROOM_ROLE_MEMBER),
                       StatusCode::NOT_FOUND));
  pb::CreateDirectRequest d;
  d.set_a("ada");
  d.set_b("bob");
  pb::Room direct;
  ASSERT_TRUE(is_ok(rooms->CreateDirect(as_admin().get(), d, &direct)));
  EXPECT_TRUE(is_error(set_role(direct.id(), "ada", "bob", pb::ROOM_ROLE_ADMIN),
                       StatusCode::FAILED_PRECONDITION, {"no roles"}));
}

// Verifies Close: owners, admins and admin callers close; the room then
// refuses posts and joins; closing twice fails.
TEST_F(RoomsApi, CloseEndsTheRoom) {
  ASSERT_TRUE(introduce_all({"ada", "bob", "cy"}));
  ASSERT_TRUE(is_ok(create_group("ada", "lab")));
  ASSERT_TRUE(is_ok(join("lab", "bob")));
  EXPECT_TRUE(is_error(close("lab", "bob"), StatusCode::PERMISSION_DENIED,
                       {"only owners and admins close"}));
  EXPECT_TRUE(is_error(close("lab", "cy"), StatusCode::PERMISSION_DENIED, {"not a member"}));
  pb::Room out;
  ASSERT_TRUE(is_ok(close("lab", "ada", &out)));
  EXPECT_FALSE(out.open());
  EXPECT_TRUE(is_error(close("lab", "ada"), StatusCode::FAILED_PRECONDITION, {"closed"}));
  EXPECT_TRUE(is_error(send(text_to_room("bob", "lab", "anyone?")), StatusCode::FAILED_PRECONDITION,
                       {"closed"}));
  EXPECT_TRUE(is_error(join("lab", "cy"), StatusCode::FAILED_PRECONDITION, {"closed"}));
  EXPECT_TRUE(is_error(close("nowhere", "ada"), StatusCode::NOT_FOUND));

  // An admin caller closes without `by`.
  ASSERT_TRUE(is_ok(create_group("cy", "other")));
  ASSERT_TRUE(is_ok(close("other", "", &out)));
  EXPECT_FALSE(out.open());
}

// Verifies GetRoom of an unknown room.
TEST_F(RoomsApi, GetRoomOfUnknownRoomIsNotFound) {
  pb::GetRoomRequest req;
  req.set_room("nowhere");
  pb::Room out;
  EXPECT_TRUE(is_error(rooms->GetRoom(caller().get(), req, &out), StatusCode::NOT_FOUND,
                       {"nowhere"}));
}

// Verifies ListRooms: sorted pages with tokens, the member filter, and the
// page size rules.
TEST_F(RoomsApi, ListRoomsPagesAndFiltersByMember) {
  ASSERT_TRUE(introduce_all({"ada", "bob"}));
  for (auto id : {"r3", "r1", "r5", "r2", "r4"})
    ASSERT_TRUE(is_ok(create_group("ada", id)));
  ASSERT_TRUE(is_ok(join("r2", "bob")));
  ASSERT_TRUE(is_ok(join("r5", "bob")));
  std::vector<std::string> seen;
  pb::ListRoomsRequest req;
  req.set_page_size(2);
  for (int pages = 0;; ++pages) {
    ASSERT_LT(pages, 10) << "paging does not end";
    pb::ListRoomsResponse page;
    ASSERT_TRUE(is_ok(rooms->ListRooms(caller().get(), req, &page)));
    for (auto& r : page.rooms())
      seen.push_back(r.id());
    if (page.next_page_token().empty())
      break;
    req.set_page_token(page.next_page_token());
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"r1", "r2", "r3", "r4", "r5"}));

  pb::ListRoomsRequest mine;
  mine.set_member("bob");
  pb::ListRoomsResponse page;
  ASSERT_TRUE(is_ok(rooms->ListRooms(caller().get(), mine, &page)));
  ASSERT_EQ(page.rooms_size(), 2);
  EXPECT_EQ(page.rooms(0).id(), "r2");
  EXPECT_EQ(page.rooms(1).id(), "r5");

  pb::ListRoomsRequest big;
  big.set_page_size(1001);
  EXPECT_TRUE(is_error(rooms->ListRooms(caller().get(), big, &page), StatusCode::INVALID_ARGUMENT,
                       {"1001"}));
}

// Verifies that a node without a store has no history.
TEST_F(RoomsApi, HistoryOnAMemoryNodeIsFailedPrecondition) {
  ASSERT_TRUE(introduce_all({"ada", "bob"}));
  ASSERT_TRUE(is_ok(create_group("ada", "lab")));
  pb::HistoryRequest req;
  req.set_room("lab");
  pb::HistoryResponse out;
  EXPECT_TRUE(is_error(rooms->History(caller("ada").get(), req, &out), StatusCode::FAILED_PRECONDITION,
                       {"durable"}));
  pb::HistoryRequest pair;
  pair.mutable_pair()->set_a("ada");
  pair.mutable_pair()->set_b("bob");
  EXPECT_TRUE(is_error(rooms->History(caller("ada").get(), pair, &out), StatusCode::FAILED_PRECONDITION,
                       {"durable"}));
}

// -- history on a durable node ------------------------------------------------------

class RoomsHistoryApi : public DurableApiFixture {};

// Verifies room history newest first by default, oldest first on request,
// in pages that neither skip nor repeat; and the bad requests.
TEST_F(RoomsHistoryApi, RoomHistoryInPages) {
  ASSERT_TRUE(introduce_all({"ada", "bob"}));
  ASSERT_TRUE(is_ok(create_group("ada", "lab")));
  ASSERT_TRUE(is_ok(join("lab", "bob")));
  // One sender and ids in send order: the history index orders messages of
  // the same millisecond by sender and id (docs/storage-format.md).
  std::vector<std::string> sent;
  for (int i = 0; i < 5; ++i) {
    sent.push_back("msg" + std::to_string(i));
    ASSERT_TRUE(is_ok(send(text_to_room("ada", "lab", sent.back(), sent.back()))));
  }
  auto read_all = [&](bool oldest_first) {
    std::vector<std::string> out;
    pb::HistoryRequest req;
    req.set_room("lab");
    req.set_oldest_first(oldest_first);
    req.set_page_size(2);
    for (int pages = 0; pages < 10; ++pages) {
      pb::HistoryResponse page;
      EXPECT_TRUE(is_ok(rooms->History(as_admin().get(), req, &page)));
      EXPECT_LE(page.messages_size(), 2);
      for (auto& m : page.messages()) {
        EXPECT_EQ(m.to_room(), "lab");
        out.push_back(m.content());
      }
      if (page.next_page_token().empty())
        break;
      req.set_page_token(page.next_page_token());
    }
    return out;
  };
  EXPECT_EQ(read_all(true), sent);
  auto reversed = sent;
  std::reverse(reversed.begin(), reversed.end());
  EXPECT_EQ(read_all(false), reversed);

  pb::HistoryResponse out;
  pb::HistoryRequest none;
  EXPECT_TRUE(is_error(rooms->History(as_admin().get(), none, &out), StatusCode::INVALID_ARGUMENT,
                       {"room or pair"}));
  pb::HistoryRequest big;
  big.set_room("lab");
  big.set_page_size(1001);
  EXPECT_TRUE(is_error(rooms->History(as_admin().get(), big, &out), StatusCode::INVALID_ARGUMENT,
                       {"1001"}));
  pb::HistoryRequest cursor;
  cursor.set_room("lab");
  cursor.set_page_token("not-a-cursor");
  EXPECT_TRUE(is_error(rooms->History(as_admin().get(), cursor, &out), StatusCode::INVALID_ARGUMENT,
                       {"cursor"}));
  pb::HistoryRequest since;
  since.set_room("lab");
  since.set_since(-1);
  EXPECT_TRUE(is_error(rooms->History(as_admin().get(), since, &out), StatusCode::INVALID_ARGUMENT,
                       {"since"}));
  pb::HistoryRequest unknown;
  unknown.set_room("nowhere");
  EXPECT_TRUE(is_error(rooms->History(as_admin().get(), unknown, &out), StatusCode::NOT_FOUND));
}

// Verifies a pair's direct history holds the messages of both directions
// and nothing of other pairs.
TEST_F(RoomsHistoryApi, PairHistoryHoldsBothDirections) {
  ASSERT_TRUE(introduce_all({"ada", "bob", "cy"}));
  ASSERT_TRUE(is_ok(send(text_to_agent("ada", "bob", "hello bob"))));
  ASSERT_TRUE(is_ok(send(text_to_agent("bob", "ada", "hello ada"))));
  ASSERT_TRUE(is_ok(send(text_to_agent("ada", "cy", "hello cy"))));
  pb::HistoryRequest req;
  req.mutable_pair()->set_a("bob");
  req.mutable_pair()->set_b("ada");
  req.set_oldest_first(true);
  pb::HistoryResponse out;
  ASSERT_TRUE(is_ok(rooms->History(caller("ada").get(), req, &out)));
  EXPECT_EQ(contents({out.messages().begin(), out.messages().end()}),
            (std::vector<std::string>{"hello bob", "hello ada"}));
  EXPECT_TRUE(out.next_page_token().empty());
  req.mutable_pair()->set_b("nobody");
  EXPECT_TRUE(is_error(rooms->History(as_admin().get(), req, &out), StatusCode::NOT_FOUND));
}

// -- with an admin token ----------------------------------------------------------


} // namespace
} // namespace parley::api_test
