// Rooms across two parleyd processes of one network: a room lives on the
// owner of its id's shard and any node takes a call about it; members of
// the other node join, get its posts (one request per node, however many
// members there), take turns, are invited, leave; a direct room pairs
// agents of two nodes.

#include <gtest/gtest.h>

#include "cluster/cluster_fixture.hpp"

namespace parley::cluster_test {
namespace {

class Rooms : public Federation {
protected:
  grpc::Status turn(node_process& via, const std::string& room, const std::string& agent, bool request,
                    pb::TurnState* out) {
    grpc::ClientContext ctx;
    via.authorize(ctx);
    pb::TurnRequest req;
    req.set_room(room);
    req.set_agent(agent);
    auto stub = pb::Turns::NewStub(via.channel);
    return request ? stub->RequestTurn(&ctx, req, out) : stub->YieldTurn(&ctx, req, out);
  }

  pb::TurnState turns(node_process& via, const std::string& room) {
    grpc::ClientContext ctx;
    via.authorize(ctx);
    pb::GetTurnsRequest req;
    req.set_room(room);
    pb::TurnState out;
    auto s = pb::Turns::NewStub(via.channel)->GetTurns(&ctx, req, &out);
    EXPECT_TRUE(s.ok()) << via.id << ": " << s.error_message();
    return out;
  }

  // Waits (up to 5 s) until `agent`'s manifest lists `room` (or no longer
  // does, with `listed` false): rooms tell members of other nodes after the
  // call that changed them returns.
  bool lists_room(const std::string& agent, const std::string& room, bool listed = true) {
    for (int i = 0; i < 100; ++i) {
      pb::Manifest m;
      if (get_manifest(node("node-a"), agent, &m).ok()) {
        bool has = std::find(m.rooms().begin(), m.rooms().end(), room) != m.rooms().end();
        if (has == listed)
          return true;
      }
      std::this_thread::sleep_for(50ms);
    }
    return false;
  }

  // Waits (up to 5 s) until `agent`'s inbox, read through `via`, holds `n`
  // messages (a post reaches members of other nodes after the send returns).
  std::vector<pb::Message> inbox_of(node_process& via, const std::string& agent, size_t n) {
    std::vector<pb::Message> got;
    for (int i = 0; i < 100; ++i) {
      got = inbox(via, agent);
      if (got.size() >= n)
        break;
      std::this_thread::sleep_for(50ms);
    }
    return got;
  }
};

// Verifies a group room created through the node that does not own its shard lives on the owner; members of the
// other node join through either node, see it in their manifests, and get every post, through one request per node.
TEST_F(Rooms, GroupRoomSpansNodesAndFansOutOncePerNode) {
  auto room = room_on("node-a");
  auto on_a = ids_on("node-a", 1);
  auto on_b = ids_on("node-b", 3);
  auto alice = on_a[0];
  for (auto& id : {alice, on_b[0], on_b[1], on_b[2]})
    ASSERT_TRUE(introduce(node("node-a"), id, pb::Behavior::KIND_EXTERNAL).ok()) << id;
  pb::Room created;
  auto s = create_group(node("node-b"), on_b[0], room, pb::SPEAKER_POLICY_NONE, false, &created);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(created.id(), room);
  EXPECT_EQ(info(node("node-a")).rooms(), 1u) << "the room lives on the owner of its shard";
  EXPECT_EQ(info(node("node-b")).rooms(), 0u);
  ASSERT_TRUE(join(node("node-a"), room, on_b[1]).ok());
  ASSERT_TRUE(join(node("node-b"), room, on_b[2]).ok());
  s = join(node("node-b"), room, alice);
  ASSERT_TRUE(s.ok()) << s.error_message();
  auto again = join(node("node-a"), room, on_b[1]);
  EXPECT_EQ(again.error_code(), grpc::StatusCode::ALREADY_EXISTS) << again.error_message();
  auto r = get_room(node("node-b"), room);
  EXPECT_EQ(r.member_count(), 4u);
  for (auto& id : on_b)
    EXPECT_TRUE(lists_room(id, room)) << id << "'s manifest does not list " << room;
  EXPECT_TRUE(lists_room(alice, room));
  {
    // The room's members, listed through the node that holds three of them.
    grpc::ClientContext ctx;
    pb::ListAgentsRequest req;
    req.set_room(room);
    pb::ListAgentsResponse page;
    auto listed = pb::Agents::NewStub(node("node-b").channel)->ListAgents(&ctx, req, &page);
    ASSERT_TRUE(listed.ok()) << listed.error_message();
    std::vector<std::string> got, want{alice, on_b[0], on_b[1], on_b[2]};
    for (auto& m : page.agents())
      got.push_back(m.id());
    std::sort(want.begin(), want.end());
    EXPECT_EQ(got, want);
  }

  // A post from node-a's member reaches the three members on node-b with one request to node-b.
  std::this_thread::sleep_for(300ms); // the join notices are served
  const auto before = info(node("node-b")).peer_requests_served();
  ASSERT_TRUE(post(node("node-a"), alice, room, "p-1", "hello all").ok());
  for (auto& id : on_b) {
    auto got = inbox_of(node("node-b"), id, 1);
    ASSERT_EQ(got.size(), 1u) << id;
    EXPECT_EQ(got[0].content(), "hello all");
    EXPECT_EQ(got[0].from(), alice);
    EXPECT_EQ(got[0].to_room(), room);
    EXPECT_GT(got[0].delivery(), 0u);
  }
  EXPECT_EQ(info(node("node-b")).peer_requests_served() - before, 1u) << "one delivery per node, not per member";
  // A post from a member on node-b, sent through node-a, goes to its node, then to the room's: everyone else gets it.
  ASSERT_TRUE(post(node("node-a"), on_b[1], room, "p-2", "from b").ok());
  auto got = inbox_of(node("node-b"), on_b[0], 2);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[1].content(), "from b");
  EXPECT_EQ(inbox_of(node("node-b"), on_b[1], 1).size(), 1u) << "the sender does not get its own post";
  auto at_a = inbox(node("node-a"), alice);
  ASSERT_EQ(at_a.size(), 1u);
  EXPECT_EQ(at_a[0].content(), "from b");
  // The room's history, read through the node that does not keep it.
  {
    grpc::ClientContext ctx;
    pb::HistoryRequest req;
    req.set_room(room);
    pb::HistoryResponse page;
    auto h = pb::Rooms::NewStub(node("node-b").channel)->History(&ctx, req, &page);
    ASSERT_TRUE(h.ok()) << h.error_message();
    ASSERT_EQ(page.messages_size(), 2);
    EXPECT_EQ(page.messages(0).id(), "p-2") << "newest first";
    EXPECT_EQ(page.messages(1).id(), "p-1");
  }
  // A retry of the same post delivers nothing again.
  ASSERT_TRUE(post(node("node-b"), on_b[1], room, "p-2", "from b").ok());
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(inbox(node("node-a"), alice).size(), 1u);
  EXPECT_EQ(inbox_of(node("node-b"), on_b[0], 3).size(), 2u);
}

// Verifies turns in a moderated room on one node, taken by agents of the other: requests and yields through either
// node, a grant carried to a behaviour on the other node, whose posts and yield reach the room in the order sent.
TEST_F(Rooms, TurnsAcrossNodes) {
  auto room = room_on("node-a");
  auto alice = ids_on("node-a", 1)[0];
  auto on_b = ids_on("node-b", 3);
  ASSERT_TRUE(introduce(node("node-b"), alice, pb::Behavior::KIND_EXTERNAL).ok());
  ASSERT_TRUE(introduce(node("node-a"), on_b[0], pb::Behavior::KIND_EXTERNAL).ok());
  ASSERT_TRUE(introduce(node("node-a"), on_b[1], pb::Behavior::KIND_EXTERNAL).ok());
  {
    // A chatty agent: when granted the turn it posts five times and yields.
    grpc::ClientContext ctx;
    pb::IntroduceRequest req;
    req.mutable_manifest()->set_id(on_b[2]);
    req.mutable_behavior()->set_kind(pb::Behavior::KIND_CHATTY);
    req.mutable_behavior()->set_messages_per_turn(5);
    pb::Manifest out;
    ASSERT_TRUE(pb::Agents::NewStub(node("node-a").channel)->Introduce(&ctx, req, &out).ok());
  }
  pb::Room created;
  ASSERT_TRUE(create_group(node("node-b"), alice, room, pb::SPEAKER_POLICY_FIFO, false, &created).ok());
  for (auto& id : on_b)
    ASSERT_TRUE(join(node("node-b"), room, id).ok()) << id;

  pb::TurnState t;
  ASSERT_TRUE(turn(node("node-b"), room, on_b[0], true, &t).ok());
  ASSERT_TRUE(turn(node("node-a"), room, on_b[1], true, &t).ok());
  auto state = turns(node("node-b"), room);
  ASSERT_TRUE(state.has_current());
  EXPECT_EQ(state.current().speaker(), on_b[0]);
  ASSERT_EQ(state.waiting_size(), 1);
  EXPECT_EQ(state.waiting(0), on_b[1]);
  // Only the speaker posts.
  auto refused = post(node("node-b"), on_b[1], room, "early", "not my turn");
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << refused.error_message();
  ASSERT_TRUE(post(node("node-b"), on_b[0], room, "t-1", "my turn").ok());
  auto wrong = turn(node("node-a"), room, on_b[1], false, &t);
  EXPECT_EQ(wrong.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << "only the speaker yields";
  ASSERT_TRUE(turn(node("node-a"), room, on_b[0], false, &t).ok());
  state = turns(node("node-a"), room);
  ASSERT_TRUE(state.has_current());
  EXPECT_EQ(state.current().speaker(), on_b[1]);
  ASSERT_TRUE(turn(node("node-b"), room, on_b[1], false, &t).ok());

  // The chatty agent on node-b gets its grant from node-a, posts five times, and yields: the yield must not overtake
  // the posts, or the room refuses those after it. Alice (node-a) gets all five.
  ASSERT_TRUE(turn(node("node-a"), room, on_b[2], true, &t).ok());
  auto at_alice = inbox_of(node("node-a"), alice, 6);
  ASSERT_EQ(at_alice.size(), 6u);
  EXPECT_EQ(at_alice[0].content(), "my turn");
  for (size_t i = 1; i < 6; ++i)
    EXPECT_EQ(at_alice[i].from(), on_b[2]);
  for (int i = 0; i < 100 && turns(node("node-b"), room).has_current(); ++i)
    std::this_thread::sleep_for(50ms);
  state = turns(node("node-b"), room);
  EXPECT_FALSE(state.has_current()) << "the chatty agent yielded through its node";
  EXPECT_EQ(state.turns_granted(), 3u);
}

// Verifies invitations, leaving and closing a room of one node through the other, and their refusals.
TEST_F(Rooms, InviteLeaveAndCloseAcrossNodes) {
  auto room = room_on("node-b");
  auto owner = ids_on("node-b", 1)[0];
  auto guest = ids_on("node-a", 1)[0];
  ASSERT_TRUE(introduce(node("node-a"), owner, pb::Behavior::KIND_EXTERNAL).ok());
  ASSERT_TRUE(introduce(node("node-b"), guest, pb::Behavior::KIND_EXTERNAL).ok());
  pb::Room created;
  ASSERT_TRUE(create_group(node("node-a"), owner, room, pb::SPEAKER_POLICY_NONE, true, &created).ok());
  pb::Room dup;
  auto taken = create_group(node("node-a"), owner, room, pb::SPEAKER_POLICY_NONE, true, &dup);
  EXPECT_EQ(taken.error_code(), grpc::StatusCode::ALREADY_EXISTS) << taken.error_message();
  auto nobody = create_group(node("node-b"), "nobody-here", room_on("node-a"), pb::SPEAKER_POLICY_NONE, false, &dup);
  EXPECT_EQ(nobody.error_code(), grpc::StatusCode::NOT_FOUND) << nobody.error_message();

  auto denied = join(node("node-a"), room, guest);
  EXPECT_EQ(denied.error_code(), grpc::StatusCode::PERMISSION_DENIED) << denied.error_message();
  {
    grpc::ClientContext ctx;
    pb::InviteRequest req;
    req.set_room(room);
    req.set_by(owner);
    req.set_agent(guest);
    req.set_role(pb::ROOM_ROLE_ADMIN);
    pb::InviteResponse out;
    auto s = pb::Rooms::NewStub(node("node-a").channel)->Invite(&ctx, req, &out);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  auto s = join(node("node-a"), room, guest);
  ASSERT_TRUE(s.ok()) << s.error_message();
  auto r = get_room(node("node-a"), room);
  ASSERT_EQ(r.members_size(), 2);
  EXPECT_EQ(r.members(1).agent(), guest);
  EXPECT_EQ(r.members(1).role(), pb::ROOM_ROLE_ADMIN);
  EXPECT_TRUE(lists_room(guest, room));
  {
    grpc::ClientContext ctx;
    pb::LeaveRequest req;
    req.set_room(room);
    req.set_agent(guest);
    pb::LeaveResponse out;
    auto left = pb::Rooms::NewStub(node("node-b").channel)->Leave(&ctx, req, &out);
    ASSERT_TRUE(left.ok()) << left.error_message();
  }
  EXPECT_TRUE(lists_room(guest, room, false)) << "the guest's manifest still lists the room it left";
  EXPECT_EQ(get_room(node("node-a"), room).member_count(), 1u);
  {
    grpc::ClientContext ctx;
    pb::CloseRequest req;
    req.set_room(room);
    req.set_by(owner);
    pb::Room out;
    auto closed = pb::Rooms::NewStub(node("node-a").channel)->Close(&ctx, req, &out);
    ASSERT_TRUE(closed.ok()) << closed.error_message();
  }
  EXPECT_FALSE(get_room(node("node-a"), room).open());
  auto late = post(node("node-a"), owner, room, "late", "anyone?");
  EXPECT_EQ(late.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << late.error_message();
}

// Verifies the direct room of agents on two nodes is one room, whichever node is asked, and both get its posts.
TEST_F(Rooms, DirectRoomOfAgentsOnTwoNodes) {
  auto [a, b] = one_id_on_each();
  ASSERT_TRUE(introduce(node("node-a"), a, pb::Behavior::KIND_EXTERNAL).ok());
  ASSERT_TRUE(introduce(node("node-a"), b, pb::Behavior::KIND_EXTERNAL).ok());
  std::string ids[2];
  int i = 0;
  for (auto* via : {&node("node-a"), &node("node-b")}) {
    grpc::ClientContext ctx;
    pb::CreateDirectRequest req;
    req.set_a(i == 0 ? a : b);
    req.set_b(i == 0 ? b : a);
    pb::Room out;
    auto s = pb::Rooms::NewStub(via->channel)->CreateDirect(&ctx, req, &out);
    ASSERT_TRUE(s.ok()) << via->id << ": " << s.error_message();
    EXPECT_EQ(out.kind(), pb::ROOM_KIND_DIRECT);
    ids[i++] = out.id();
  }
  EXPECT_EQ(ids[0], ids[1]);
  EXPECT_EQ(info(node("node-a")).rooms() + info(node("node-b")).rooms(), 1u);
  ASSERT_TRUE(post(node("node-b"), a, ids[0], "d-1", "just us").ok());
  ASSERT_TRUE(post(node("node-a"), b, ids[0], "d-2", "indeed").ok());
  auto at_b = inbox_of(node("node-a"), b, 1);
  ASSERT_EQ(at_b.size(), 1u);
  EXPECT_EQ(at_b[0].content(), "just us");
  auto at_a = inbox_of(node("node-b"), a, 1);
  ASSERT_EQ(at_a.size(), 1u);
  EXPECT_EQ(at_a[0].content(), "indeed");
}

// Verifies ListRooms through either node pages over the rooms of both nodes, sorted, each once, and a member's rooms
// are listed wherever they live.
TEST_F(Rooms, ListingsPageAcrossNodes) {
  auto alice = ids_on("node-a", 1)[0];
  auto bob = ids_on("node-b", 1)[0];
  ASSERT_TRUE(introduce(node("node-a"), alice, pb::Behavior::KIND_EXTERNAL).ok());
  ASSERT_TRUE(introduce(node("node-a"), bob, pb::Behavior::KIND_EXTERNAL).ok());
  std::vector<std::string> rooms;
  for (int i = 0; i < 20 && rooms.size() < 5; ++i) {
    auto id = "lobby-" + std::to_string(i);
    // Two on node-a's shards, three on node-b's.
    const auto& owner = map_[shard_of(id)];
    const auto on_owner = std::count_if(rooms.begin(), rooms.end(), [&](auto& r) { return map_[shard_of(r)] == owner; });
    if (on_owner >= (owner == "node-a" ? 2 : 3))
      continue;
    pb::Room made;
    ASSERT_TRUE(create_group(node("node-b"), alice, id, pb::SPEAKER_POLICY_NONE, false, &made).ok()) << id;
    rooms.push_back(id);
  }
  ASSERT_EQ(rooms.size(), 5u);
  std::sort(rooms.begin(), rooms.end());
  ASSERT_TRUE(join(node("node-a"), rooms[0], bob).ok());
  ASSERT_TRUE(join(node("node-a"), rooms[4], bob).ok());
  auto list = [&](node_process& via, const std::string& member, const std::string& token, pb::ListRoomsResponse* out) {
    grpc::ClientContext ctx;
    via.authorize(ctx);
    pb::ListRoomsRequest req;
    req.set_member(member);
    req.set_page_size(2);
    req.set_page_token(token);
    return pb::Rooms::NewStub(via.channel)->ListRooms(&ctx, req, out);
  };
  for (auto* via : {&node("node-a"), &node("node-b")}) {
    std::vector<std::string> seen;
    std::string token;
    int pages = 0;
    do {
      pb::ListRoomsResponse page;
      auto s = list(*via, "", token, &page);
      ASSERT_TRUE(s.ok()) << via->id << ": " << s.error_message();
      for (auto& r : page.rooms())
        seen.push_back(r.id());
      token = page.next_page_token();
      ++pages;
    } while (!token.empty() && pages < 10);
    EXPECT_EQ(seen, rooms) << "through " << via->id;
    EXPECT_EQ(pages, 3);
  }
  EXPECT_TRUE(lists_room(bob, rooms[4]));
  pb::ListRoomsResponse bobs;
  auto s = list(node("node-a"), bob, "", &bobs);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(bobs.rooms_size(), 2);
  EXPECT_EQ(bobs.rooms(0).id(), rooms[0]);
  EXPECT_EQ(bobs.rooms(1).id(), rooms[4]);
}

class RoomsOnThreeNodes : public Rooms {
protected:
  std::vector<std::string> node_names() override { return {"node-a", "node-b", "node-c"}; }
};

// Verifies a room on one of three nodes with members on all three: each post reaches every other member once, the
// two other nodes get one request each per post, and turns and history work through every node.
TEST_F(RoomsOnThreeNodes, PostsReachEveryNodeOnce) {
  auto room = room_on("node-c");
  auto a = ids_on("node-a", 2);
  auto b = ids_on("node-b", 2);
  auto c = ids_on("node-c", 1);
  std::vector<std::string> members{a[0], a[1], b[0], b[1], c[0]};
  for (auto& id : members)
    ASSERT_TRUE(introduce(node("node-b"), id, pb::Behavior::KIND_EXTERNAL).ok()) << id;
  pb::Room created;
  ASSERT_TRUE(create_group(node("node-a"), a[0], room, pb::SPEAKER_POLICY_ROUND_ROBIN, false, &created).ok());
  for (size_t i = 1; i < members.size(); ++i)
    ASSERT_TRUE(join(*nodes_[i % 3], room, members[i]).ok()) << members[i];
  EXPECT_EQ(get_room(node("node-b"), room).member_count(), 5u);
  std::this_thread::sleep_for(300ms); // the join notices are served
  const auto before_a = info(node("node-a")).peer_requests_served();
  const auto before_b = info(node("node-b")).peer_requests_served();
  // b[0] takes the turn through node-a and posts twice through node-c.
  pb::TurnState t;
  ASSERT_TRUE(turn(node("node-a"), room, b[0], true, &t).ok());
  ASSERT_TRUE(post(node("node-c"), b[0], room, "r-1", "one").ok());
  ASSERT_TRUE(post(node("node-c"), b[0], room, "r-2", "two").ok());
  for (auto& id : members) {
    if (id == b[0])
      continue;
    auto got = inbox_of(node(map_[shard_of(id)]), id, 2); // through its own node: no request to count
    ASSERT_EQ(got.size(), 2u) << id;
    EXPECT_EQ(got[0].content(), "one");
    EXPECT_EQ(got[1].content(), "two");
  }
  // node-a served one delivery per post (its two members), and nothing else: the turn request and the
  // sends went elsewhere. node-b served the two sends (its member is the sender), the turn grant's notice,
  // and one delivery per post (for b[1]).
  EXPECT_EQ(info(node("node-a")).peer_requests_served() - before_a, 2u);
  EXPECT_EQ(info(node("node-b")).peer_requests_served() - before_b, 5u);
  pb::HistoryResponse page;
  {
    grpc::ClientContext ctx;
    pb::HistoryRequest req;
    req.set_room(room);
    req.set_oldest_first(true);
    ASSERT_TRUE(pb::Rooms::NewStub(node("node-a").channel)->History(&ctx, req, &page).ok());
  }
  ASSERT_EQ(page.messages_size(), 2);
  EXPECT_EQ(page.messages(0).id(), "r-1");
}

// Verifies an erasure asked at a node that does not serve the agent erases
// what every node keeps of it: its direct message kept by the recipient's
// node and its post in a room of that node lose their content, through
// either node; the other agent's words stay; the tombstone is read through
// either node, and erasing again is harmless. Fails when the agent's node
// does not have the others scrub (node-b then still serves the content).
TEST_F(Rooms, AnErasureReachesWhatEveryNodeKeeps) {
  auto x = ids_on("node-a", 1)[0];
  auto y = ids_on("node-b", 1)[0];
  for (auto& id : {x, y})
    ASSERT_TRUE(introduce(node("node-a"), id, pb::Behavior::KIND_EXTERNAL).ok()) << id;
  auto hall = room_on("node-b");
  pb::Room made;
  ASSERT_TRUE(create_group(node("node-b"), y, hall, pb::SPEAKER_POLICY_NONE, false, &made).ok());
  ASSERT_TRUE(join(node("node-a"), hall, x).ok());
  pb::SendResponse sent;
  ASSERT_TRUE(send(node("node-a"), x, y, "d1", "x's secret to y", &sent).ok());
  ASSERT_TRUE(send(node("node-a"), y, x, "d2", "y's own words", &sent).ok());
  ASSERT_TRUE(post(node("node-a"), x, hall, "p1", "x's secret in the hall").ok());

  pb::Erasure done;
  auto s = erase(node("node-b"), x, &done);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(done.agent(), x);
  EXPECT_GE(done.messages(), 2u) << "the direct message and the post, both kept by node-b";

  auto history = [&](node_process& via, bool room) {
    grpc::ClientContext ctx;
    via.authorize(ctx);
    pb::HistoryRequest req;
    if (room) {
      req.set_room(hall);
    } else {
      req.mutable_pair()->set_a(x);
      req.mutable_pair()->set_b(y);
    }
    pb::HistoryResponse page;
    auto got = pb::Rooms::NewStub(via.channel)->History(&ctx, req, &page);
    EXPECT_TRUE(got.ok()) << via.id << ": " << got.error_message();
    return std::vector<pb::Message>(page.messages().begin(), page.messages().end());
  };
  for (auto* via : {&node("node-a"), &node("node-b")}) {
    for (bool room : {false, true}) {
      auto msgs = history(*via, room);
      bool from_x = false;
      for (auto& m : msgs) {
        if (m.from() == x) {
          from_x = true;
          EXPECT_TRUE(m.erased()) << via->id << ": " << m.id();
          EXPECT_EQ(m.content(), "") << via->id << ": " << m.id();
        } else if (m.id() == "d2") {
          EXPECT_EQ(m.content(), "y's own words") << via->id;
        }
      }
      EXPECT_TRUE(from_x) << via->id << (room ? ": the hall" : ": the pair") << " lost x's message";
    }
  }

  pb::Erasure tomb;
  grpc::ClientContext ctx;
  node("node-b").authorize(ctx);
  pb::EraseRequest req;
  req.set_agent(x);
  ASSERT_TRUE(pb::Admin::NewStub(node("node-b").channel)->GetErasure(&ctx, req, &tomb).ok());
  EXPECT_EQ(tomb.erased_at(), done.erased_at());
  pb::Erasure again;
  s = erase(node("node-a"), x, &again);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(again.erased_at(), done.erased_at());
}

} // namespace
} // namespace parley::cluster_test
