// Scale-in: a node hands its shards, with their data, to the other nodes
// of its network, then leaves (docs/federation.md, "Moving shards"). Three
// real parleyd processes and a real etcd; node-c is handed off while a
// client keeps sending to its agents through node-a.

#include <gtest/gtest.h>

#include <atomic>
#include <set>

#include "cluster/hand_off_fixture.hpp"

namespace parley::cluster_test {
namespace {

TEST_F(HandOff, ANodeHandsOffEveryShardWithItsDataAndLeaves) {
  auto on_a = ids_on("node-a", 2);
  auto on_c = ids_on("node-c", 6);
  for (auto& id : on_a)
    ASSERT_TRUE(introduce(node("node-a"), id, pb::Behavior::KIND_EXTERNAL).ok());
  for (auto& id : on_c)
    ASSERT_TRUE(introduce(node("node-b"), id, pb::Behavior::KIND_EXTERNAL).ok());
  // A room of node-c's with members of node-a and node-c, and a post.
  const auto room = room_on("node-c");
  pb::Room created;
  ASSERT_TRUE(create_group(node("node-a"), on_c[0], room, pb::SPEAKER_POLICY_NONE, false, &created).ok());
  ASSERT_TRUE(join(node("node-a"), room, on_a[0]).ok());
  ASSERT_TRUE(join(node("node-a"), room, on_c[1]).ok());
  ASSERT_TRUE(post(node("node-b"), on_a[0], room, "hello-room", "before the move").ok());
  // Messages to node-c's agents, before the hand-off.
  std::map<std::string, std::vector<std::string>> sent; // recipient -> ids acknowledged, in order
  for (int i = 0; i < 5; ++i)
    for (auto& to : on_c) {
      auto id = "before-" + std::to_string(i);
      ASSERT_TRUE(send_until_acked(node("node-a"), on_a[1], to, id));
      sent[to].push_back(id);
    }

  // Two clients keep sending through node-a while node-c hands off, each
  // to half of the agents (at most 900 messages each: an inbox holds
  // 1,024, a read returns 1,000).
  std::atomic<bool> stop{false};
  std::atomic<bool> give_up{false}; // set when the test failed: the clients end
  std::atomic<int> unacked{0};
  std::map<std::string, std::vector<std::string>> during[2];
  auto client_of = [&](int k) {
    return std::thread([&, k] {
      const size_t half = on_c.size() / 2;
      for (int i = 0; !stop && i < 900 * static_cast<int>(half); ++i) {
        std::this_thread::sleep_for(1ms);
        auto& to = on_c[k * half + static_cast<size_t>(i) % half];
        auto id = "during-" + std::to_string(k) + "-" + std::to_string(i);
        if (send_until_acked(node("node-a"), on_a[1], to, id, &give_up))
          during[k][to].push_back(id);
        else
          ++unacked;
      }
    });
  };
  std::thread clients[2] = {client_of(0), client_of(1)};
  std::this_thread::sleep_for(300ms);
  // A drain naming another node is refused by the node called.
  EXPECT_EQ(drain(node("node-a"), "node-c", true).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  ASSERT_TRUE(drain(node("node-c"), "node-c", true).ok());
  // node-c exits by itself once nothing is left.
  const int exit_code = node("node-c").proc.wait_exit(180s);
  give_up = exit_code != 0;
  EXPECT_EQ(exit_code, 0) << node("node-c").proc.output();
  EXPECT_NE(node("node-c").proc.output().find("every shard is handed off"), std::string::npos);
  forget("node-c");
  std::this_thread::sleep_for(500ms);
  stop = true;
  for (auto& c : clients)
    c.join();
  EXPECT_EQ(unacked.load(), 0) << last_error;
  for (auto& d : during)
    for (auto& [to, ids] : d)
      for (auto& id : ids)
        sent[to].push_back(id);

  // The map: every shard with node-a or node-b, nothing moving.
  ASSERT_EQ(read_map(), shard_count);
  EXPECT_EQ(owned("node-c"), 0u);
  EXPECT_EQ(owned("node-a") + owned("node-b"), shard_count);
  EXPECT_EQ(etcd_.ctl("get --prefix /parley/shards/").find("\"moving_to\":\"node"), std::string::npos);

  // Every message acknowledged is in its recipient's inbox once, in order,
  // read through either node (once the outboxes are empty: a message
  // answered SENT during a move may still be on its way).
  for (auto& n : nodes_)
    EXPECT_TRUE(outbox_drained(*n)) << n->id;
  for (auto* via : {&node("node-a"), &node("node-b")})
    for (auto& to : on_c) {
      std::vector<std::string> got;
      for (auto& m : inbox(*via, to))
        if (m.from() == on_a[1])
          got.push_back(m.id());
      EXPECT_EQ(got, sent[to]) << to << " through " << via->id << difference(got, sent[to]);
    }
  // The agents and the room moved with their data: manifests, members, the
  // room's history; and they keep working.
  pb::Manifest man;
  ASSERT_TRUE(get_manifest(node("node-a"), on_c[0], &man).ok());
  EXPECT_EQ(man.id(), on_c[0]);
  auto r = get_room(node("node-b"), room);
  std::set<std::string> members;
  for (auto& m : r.members())
    members.insert(m.agent());
  EXPECT_EQ(members, (std::set<std::string>{on_c[0], on_a[0], on_c[1]}));
  ASSERT_TRUE(post(node("node-a"), on_c[1], room, "after-room", "after the move").ok());
  // (A post reaches members of other nodes just after it is acknowledged.)
  std::set<std::string> room_inbox;
  for (int i = 0; i < 100 && room_inbox.size() < 2; ++i, std::this_thread::sleep_for(50ms)) {
    room_inbox.clear();
    for (auto& m : inbox(node("node-b"), on_c[0]))
      if (m.to_room() == room)
        room_inbox.insert(m.id());
  }
  EXPECT_EQ(room_inbox, (std::set<std::string>{"hello-room", "after-room"}));
  pb::SendResponse out;
  EXPECT_TRUE(send(node("node-b"), on_c[2], on_a[0], "after-move", "hi", &out).ok());
  // A retry of a message sent before the move is recognised where the
  // agent lives now: it delivers nothing again.
  ASSERT_TRUE(send(node("node-b"), on_a[1], on_c[0], "before-0", "text of before-0", &out).ok());
  size_t copies = 0;
  for (auto& m : inbox(node("node-a"), on_c[0]))
    copies += m.id() == "before-0" ? 1 : 0;
  EXPECT_EQ(copies, 1u);
}

TEST_F(HandOff, RequestsAboutAShardNotMovingHereAreRefused) {
  // A chunk or an adoption for a shard that is not moving to the node is
  // refused as stale; one from a caller that is not a node, as such.
  auto id = ids_on("node-a", 1).at(0);
  ASSERT_TRUE(introduce(node("node-a"), id, pb::Behavior::KIND_EXTERNAL).ok());
  const auto epoch = owner_of(id).second;
  raw_link link(node("node-a").channel);
  pb::PeerFrame out;
  out.mutable_hello()->set_node("node-b");
  out.mutable_hello()->set_session(41);
  out.mutable_hello()->set_resume_from(1);
  auto add = [&](uint64_t seq, const std::string& caller) {
    auto* r = out.add_requests();
    r->set_seq(seq);
    r->set_caller(caller);
    r->set_shard(shard_of(id));
    r->set_epoch(epoch);
    return r;
  };
  auto* chunk = add(1, "admin:node-b")->mutable_shard_chunk();
  chunk->set_family("agents");
  chunk->set_data("junk");
  add(2, "admin:node-b")->mutable_adopt_shard();
  add(3, "agent:" + id)->mutable_adopt_shard();
  add(4, "admin:node-b")->mutable_shard_chunk()->set_family("events");
  ASSERT_TRUE(link.stream->Write(out));
  std::map<uint64_t, pb::PeerReply> replies;
  pb::PeerFrame in;
  while (replies.size() < 4 && link.stream->Read(&in))
    for (auto& r : in.replies())
      replies[r.seq()] = r;
  ASSERT_EQ(replies.size(), 4u);
  EXPECT_EQ(replies[1].error_code(), "failed_precondition") << replies[1].error_message();
  EXPECT_NE(replies[1].error_message().find("stale"), std::string::npos) << replies[1].error_message();
  EXPECT_EQ(replies[2].error_code(), "failed_precondition") << replies[2].error_message();
  EXPECT_EQ(replies[3].error_code(), "permission_denied") << replies[3].error_message();
  EXPECT_EQ(replies[4].error_code(), "failed_precondition") << replies[4].error_message();
  // Nothing was written for it.
  EXPECT_FALSE(std::filesystem::exists(dir_ / "node-a" / "moves"));
  // The agent is still node-a's, and served.
  EXPECT_EQ(owner_of(id), std::make_pair(std::string{"node-a"}, epoch));
  pb::Manifest man;
  EXPECT_TRUE(get_manifest(node("node-b"), id, &man).ok());
}

// The old owner is killed (SIGKILL) in the middle of a shard's move: the
// shard stays `moving` in the map (served by nobody, lost by nobody); the
// restarted node moves it on by itself, and a second hand-off finishes.
class HandOffCrash : public HandOff {
protected:
  std::vector<std::string> args_of(const std::string& id) override {
    auto file = dir_ / (id + (restarted_ ? "-restarted.yaml" : ".yaml"));
    // Short leases, so that the killed node's name is free again soon; a
    // long pause in each move of node-c's first run, so that the kill
    // lands in one.
    std::ofstream(file) << "cluster:\n  lease_ttl_ms: 2000\n  keepalive_ms: 500\n"
                        << (id == "node-c" && !restarted_ ? "  move_pause_ms: 300\n" : "");
    return {"--config", file.string()};
  }
  bool restarted_ = false;
};

TEST_F(HandOffCrash, AMoveCutByACrashIsFinishedAfterTheRestart) {
  auto on_a = ids_on("node-a", 1);
  auto on_c = ids_on("node-c", 8);
  ASSERT_TRUE(introduce(node("node-a"), on_a[0], pb::Behavior::KIND_EXTERNAL).ok());
  std::map<std::string, std::vector<std::string>> sent;
  for (auto& id : on_c) {
    ASSERT_TRUE(introduce(node("node-b"), id, pb::Behavior::KIND_EXTERNAL).ok());
    for (int i = 0; i < 3; ++i) {
      auto mid = "m-" + std::to_string(i);
      ASSERT_TRUE(send_until_acked(node("node-a"), on_a[0], id, mid));
      sent[id].push_back(mid);
    }
  }
  ASSERT_TRUE(drain(node("node-c"), "node-c", true).ok());
  // Kill node-c while one of its shards is marked moving.
  const auto moving = [&] { return etcd_.ctl("get --prefix /parley/shards/").find("\"moving_to\":\"node-") != std::string::npos; };
  for (int i = 0; i < 200 && !moving(); ++i)
    std::this_thread::sleep_for(10ms);
  ASSERT_TRUE(moving());
  kill_node("node-c");
  ASSERT_TRUE(moving()) << "the kill did not land in a move";
  // The restarted node does not serve the half-moved shard and moves it on.
  restarted_ = true;
  ASSERT_TRUE(restart_node("node-c"));
  for (int i = 0; i < 200 && moving(); ++i)
    drain_outputs(50ms);
  EXPECT_FALSE(moving());
  EXPECT_NE(node("node-c").proc.output().find("were moving when it stopped"), std::string::npos);
  // Then the hand-off is asked again and finishes.
  ASSERT_TRUE(drain(node("node-c"), "node-c", true).ok());
  EXPECT_EQ(node("node-c").proc.wait_exit(120s), 0) << node("node-c").proc.output();
  forget("node-c");
  ASSERT_EQ(read_map(), shard_count);
  EXPECT_EQ(owned("node-c"), 0u);
  for (auto& n : nodes_)
    EXPECT_TRUE(outbox_drained(*n)) << n->id;
  for (auto& id : on_c) {
    std::vector<std::string> got;
    for (auto& m : inbox(node("node-b"), id))
      got.push_back(m.id());
    EXPECT_EQ(got, sent[id]) << id << difference(got, sent[id]);
  }
}

// Scale-out: a node that joins a running network of two gets its share of
// the shards, with their data, from both, while a client keeps sending.
class Join : public HandOff {
protected:
  std::vector<std::string> node_names() override { return {"node-a", "node-b"}; }
};

TEST_F(Join, ANodeThatJoinsGetsItsShareWithTheData) {
  // Agents on both nodes, with messages.
  auto sender = ids_on("node-a", 1).at(0);
  ASSERT_TRUE(introduce(node("node-a"), sender, pb::Behavior::KIND_EXTERNAL).ok());
  std::vector<std::string> agents;
  for (int i = 0; agents.size() < 40; ++i) {
    auto id = "member-" + std::to_string(i);
    if (id == sender)
      continue;
    ASSERT_TRUE(introduce(node("node-b"), id, pb::Behavior::KIND_EXTERNAL).ok());
    agents.push_back(id);
  }
  std::map<std::string, std::vector<std::string>> sent;
  for (auto& to : agents) {
    ASSERT_TRUE(send_until_acked(node("node-a"), sender, to, "before"));
    sent[to].push_back("before");
  }
  std::atomic<bool> stop{false};
  std::atomic<bool> give_up{false}; // set when the test failed: the client ends
  std::atomic<int> unacked{0};
  std::map<std::string, std::vector<std::string>> during;
  // (At most 150 messages each, paced: an inbox holds 1,024, a read 1,000.)
  std::thread client([&] {
    for (int i = 0; !stop && i < 150 * static_cast<int>(agents.size()); ++i) {
      std::this_thread::sleep_for(2ms);
      auto& to = agents[static_cast<size_t>(i) % agents.size()];
      auto id = "during-" + std::to_string(i);
      if (send_until_acked(node("node-b"), sender, to, id, &give_up))
        during[to].push_back(id);
      else
        ++unacked;
    }
  });
  // node-c joins.
  nodes_.push_back(std::make_unique<node_process>(etcd_, "node-c", (dir_ / "node-c").string(), 2, args_of("node-c")));
  ASSERT_TRUE(nodes_.back()->ready()) << nodes_.back()->proc.output();
  for (int i = 0; i < 600 && !(read_map() == shard_count && owned("node-c") >= 341); ++i)
    drain_outputs(100ms);
  give_up = owned("node-c") < 341;
  stop = true;
  client.join();
  EXPECT_EQ(unacked.load(), 0);
  EXPECT_GE(owned("node-c"), 341u);
  EXPECT_LE(owned("node-c"), 342u);
  EXPECT_GE(owned("node-a"), 341u);
  EXPECT_GE(owned("node-b"), 341u);
  EXPECT_EQ(etcd_.ctl("get --prefix /parley/shards/").find("\"moving_to\":\"node"), std::string::npos);
  for (auto& [to, ids] : during)
    for (auto& id : ids)
      sent[to].push_back(id);
  // Every message once, in order, wherever its agent lives now (once the
  // outboxes are empty); and every agent is served by exactly its shard's
  // owner.
  for (auto& n : nodes_)
    EXPECT_TRUE(outbox_drained(*n)) << n->id;
  size_t on_c = 0;
  for (auto& to : agents) {
    auto owner = owner_of(to).first;
    on_c += owner == "node-c" ? 1 : 0;
    for (auto* via : {&node("node-a"), &node("node-c")}) {
      std::vector<std::string> got;
      for (auto& m : inbox(*via, to))
        got.push_back(m.id());
      EXPECT_EQ(got, sent[to]) << to << " (on " << owner << ") through " << via->id << difference(got, sent[to]);
    }
  }
  EXPECT_GT(on_c, 0u) << "some of the agents moved to node-c";
  size_t here = 0;
  for (auto* n : {&node("node-a"), &node("node-b"), &node("node-c")})
    here += local_agents(*n);
  EXPECT_EQ(here, agents.size() + 1) << "no agent is served by two nodes";
}

// A node lost for good (killed, its volume gone): an admin gives its shards
// to the others, empty; refused while the node is a member.
class RemoveLost : public HandOff {
protected:
  std::vector<std::string> args_of(const std::string&) override { return short_lease_args(); }

  grpc::Status remove(node_process& via, const std::string& node, bool lost, pb::RemoveNodeResponse* out) {
    grpc::ClientContext ctx;
    via.authorize(ctx);
    ctx.set_deadline(std::chrono::system_clock::now() + 30s);
    pb::RemoveNodeRequest req;
    req.set_node(node);
    req.set_lost(lost);
    return pb::Admin::NewStub(via.channel)->RemoveNode(&ctx, req, out);
  }
};

TEST_F(RemoveLost, ALostNodesShardsStartEmptyElsewhere) {
  auto id = ids_on("node-c", 1).at(0);
  ASSERT_TRUE(introduce(node("node-a"), id, pb::Behavior::KIND_EXTERNAL).ok());
  const auto c_shards = owned("node-c");
  pb::RemoveNodeResponse out;
  // Not while it is a member, not without --lost, not a node that owns nothing.
  EXPECT_EQ(remove(node("node-a"), "node-c", true, &out).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(remove(node("node-a"), "node-c", false, &out).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(remove(node("node-a"), "node-x", true, &out).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(owned("node-c"), c_shards);
  kill_node("node-c");
  auto s = remove(node("node-a"), "node-c", true, &out);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(out.shards(), c_shards);
  ASSERT_EQ(read_map(), shard_count);
  EXPECT_EQ(owned("node-c"), 0u);
  EXPECT_GE(owned("node-a"), 511u);
  EXPECT_GE(owned("node-b"), 511u);
  drain_outputs(300ms);
  EXPECT_NE(node("node-a").proc.output().find("removed lost node 'node-c'"), std::string::npos);
  // Its agent is gone with it; the id can be introduced again, on its new owner.
  pb::Manifest man;
  EXPECT_EQ(get_manifest(node("node-b"), id, &man).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_TRUE(introduce(node("node-b"), id, pb::Behavior::KIND_EXTERNAL).ok());
  EXPECT_TRUE(get_manifest(node("node-a"), id, &man).ok());
  forget("node-c");
}

} // namespace
} // namespace parley::cluster_test
