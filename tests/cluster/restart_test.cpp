// Nodes killed and restarted on their stores: sends to an agent of a node
// that is down wait in the sender node's durable outbox, across a kill -9 of
// either node, and land once and in order; a node whose agent's shard was
// given away meanwhile does not serve it.

#include <gtest/gtest.h>

#include "cluster/cluster_fixture.hpp"

namespace parley::cluster_test {
namespace {

// A node that can be killed and restarted on its store: short leases, so
// that its name is free again soon after a kill -9.
class FederationRestarts : public Federation {
protected:
  std::vector<std::string> extra_args() override { return short_lease_args(); }
};

// Verifies sends from an agent of one node to an agent of another whose node is killed -9: they are acknowledged SENT from the sender node's durable outbox while the owner is down, and after its restart each lands exactly once and in order, with no retry by the client.
TEST_F(FederationRestarts, SendsToAKilledOwnerWaitInTheOutboxAndLandOnce) {
  auto [alice, bob] = one_id_on_each();
  ASSERT_TRUE(introduce(node("node-a"), alice, pb::Behavior::KIND_SILENT).ok());
  ASSERT_TRUE(introduce(node("node-a"), bob, pb::Behavior::KIND_EXTERNAL).ok());
  auto send_one = [&](int i) {
    pb::SendResponse out;
    auto s = send(node("node-a"), alice, bob, "m-" + std::to_string(i), "n" + std::to_string(i), &out, 10s);
    EXPECT_TRUE(s.ok()) << i << ": " << s.error_code() << " " << s.error_message();
    return out.status();
  };
  for (int i = 0; i < 20; ++i)
    EXPECT_EQ(send_one(i), pb::MESSAGE_STATUS_DELIVERED) << "the owner is up: it answers";
  kill_node("node-b");
  for (int i = 20; i < 30; ++i)
    EXPECT_EQ(send_one(i), pb::MESSAGE_STATUS_SENT) << "the owner is down: the outbox answers";
  EXPECT_EQ(info(node("node-a")).outbox_pending(), 10u);
  ASSERT_TRUE(restart_node("node-b")) << node("node-b").proc.output();
  for (int i = 30; i < 40; ++i)
    send_one(i);
  EXPECT_TRUE(outbox_drained(node("node-a")));
  auto got = inbox_of_size(node("node-b"), bob, 40);
  ASSERT_EQ(got.size(), 40u) << "acknowledged = delivered once";
  for (size_t i = 0; i < got.size(); ++i)
    EXPECT_EQ(got[i].id(), "m-" + std::to_string(i)) << "in order";
}

// Verifies that what a node acknowledged SENT survives a kill -9 of that node: the owner is down, the sender's node is killed and restarted on its store, the owner comes back, and every message lands once, in order (fails when the outbox is not written before the answer).
TEST_F(FederationRestarts, AnAcknowledgedSendSurvivesACrashOfTheSendersNode) {
  auto [alice, bob] = one_id_on_each();
  ASSERT_TRUE(introduce(node("node-a"), alice, pb::Behavior::KIND_SILENT).ok());
  ASSERT_TRUE(introduce(node("node-a"), bob, pb::Behavior::KIND_EXTERNAL).ok());
  std::vector<std::string> sent;
  auto send_one = [&](const std::string& id) {
    pb::SendResponse out;
    auto s = send(node("node-a"), alice, bob, id, "hello " + id, &out, 10s);
    EXPECT_TRUE(s.ok()) << id << ": " << s.error_code() << " " << s.error_message();
    if (s.ok())
      sent.push_back(id);
    return out.status();
  };
  for (int i = 0; i < 5; ++i)
    send_one("before-" + std::to_string(i));
  kill_node("node-b");
  for (int i = 0; i < 15; ++i)
    EXPECT_EQ(send_one("queued-" + std::to_string(i)), pb::MESSAGE_STATUS_SENT);
  kill_node("node-a");
  ASSERT_TRUE(restart_node("node-a")) << node("node-a").proc.output();
  EXPECT_EQ(info(node("node-a")).outbox_pending(), 15u) << "the outbox came back from the store";
  ASSERT_TRUE(restart_node("node-b")) << node("node-b").proc.output();
  EXPECT_TRUE(outbox_drained(node("node-a")));
  EXPECT_EQ(inbox_ids(node("node-b"), bob, sent.size()), sent) << "every acknowledged message once, in the order sent";
}

// Verifies a room's posts for members on a node that is down wait in the room node's durable outbox, survive a kill -9 of the room's node too, and reach each member there once, in order, after both restart.
TEST_F(FederationRestarts, RoomPostsForMembersOfADownNodeSurviveACrashOfTheRoomsNode) {
  auto on_a = ids_on("node-a", 1);
  auto on_b = ids_on("node-b", 2);
  const auto alice = on_a.at(0), bob = on_b.at(0), carol = on_b.at(1);
  ASSERT_TRUE(introduce(node("node-a"), alice, pb::Behavior::KIND_SILENT).ok());
  ASSERT_TRUE(introduce(node("node-a"), bob, pb::Behavior::KIND_EXTERNAL).ok());
  ASSERT_TRUE(introduce(node("node-a"), carol, pb::Behavior::KIND_EXTERNAL).ok());
  const auto room = room_on("node-a");
  pb::Room created;
  ASSERT_TRUE(create_group(node("node-a"), alice, room, pb::SPEAKER_POLICY_NONE, false, &created).ok());
  ASSERT_TRUE(join(node("node-a"), room, bob).ok());
  ASSERT_TRUE(join(node("node-a"), room, carol).ok());
  std::vector<std::string> posted;
  auto post_one = [&](const std::string& id) {
    auto s = post(node("node-a"), alice, room, id, "post " + id);
    EXPECT_TRUE(s.ok()) << id << ": " << s.error_message();
    if (s.ok())
      posted.push_back(id);
  };
  post_one("p-0");
  ASSERT_TRUE(outbox_drained(node("node-a"))) << "node-b took p-0";
  kill_node("node-b");
  for (int i = 1; i <= 5; ++i)
    post_one("p-" + std::to_string(i));
  EXPECT_EQ(info(node("node-a")).outbox_pending(), 5u) << "one entry per post: both members are on node-b";
  kill_node("node-a");
  ASSERT_TRUE(restart_node("node-a")) << node("node-a").proc.output();
  ASSERT_TRUE(restart_node("node-b")) << node("node-b").proc.output();
  EXPECT_TRUE(outbox_drained(node("node-a")));
  for (auto& member : {bob, carol}) {
    EXPECT_EQ(inbox_ids(node("node-b"), member, posted.size()), posted) << member << ": every post once, in order";
  }
}

// Verifies a node restarted on a store that holds an agent of a shard another node owns now does not serve it: calls about it go to the owner.
TEST_F(FederationRestarts, AStoredAgentOfAShardOwnedElsewhereIsNotServed) {
  auto bob = ids_on("node-b", 1).at(0);
  ASSERT_TRUE(introduce(node("node-b"), bob, pb::Behavior::KIND_SILENT).ok());
  auto& b = node("node-b");
  b.channel.reset();
  b.proc.signal(SIGTERM);
  ASSERT_EQ(b.proc.wait_exit(20s), 0) << b.proc.output();
  // The shard goes to node-a, empty (what `parley node remove --lost` will do).
  char key[64];
  std::snprintf(key, sizeof key, "/parley/shards/%04u", static_cast<unsigned>(shard_of(bob)));
  auto put = etcd_.ctl(std::string{"put "} + key + " '{\"node\":\"node-a\",\"moving_to\":\"\"}'");
  ASSERT_NE(put.find("OK"), std::string::npos) << put;
  ASSERT_TRUE(restart_node("node-b")) << node("node-b").proc.output();
  EXPECT_NE(node("node-b").proc.output().find("1 stored agents and rooms are in shards other nodes own now"),
            std::string::npos)
    << node("node-b").proc.output();
  EXPECT_EQ(local_agents(node("node-b")), 0u);
  for (auto* via : {&node("node-a"), &node("node-b")}) {
    pb::Manifest m;
    auto s = get_manifest(*via, bob, &m);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND) << via->id << ": " << s.error_message();
  }
}


} // namespace
} // namespace parley::cluster_test
