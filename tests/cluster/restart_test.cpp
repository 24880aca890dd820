// Nodes killed and restarted on their stores: sends retried across a kill -9
// of the recipient's node land once and in order; a node whose agent's shard
// was given away meanwhile does not serve it.

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

// Verifies sends from an agent of one node to an agent of another, made while the recipient's node is killed -9 and retried with their ids after its restart, each land exactly once and in order: none acknowledged is lost, none doubled.
TEST_F(FederationRestarts, NothingAcknowledgedIsLostWhenTheOwnerIsKilled) {
  auto [alice, bob] = one_id_on_each();
  ASSERT_TRUE(introduce(node("node-a"), alice, pb::Behavior::KIND_SILENT).ok());
  ASSERT_TRUE(introduce(node("node-a"), bob, pb::Behavior::KIND_EXTERNAL).ok());
  auto attempt = [&](int i, std::chrono::milliseconds deadline) {
    pb::SendResponse out;
    auto s = send(node("node-a"), alice, bob, "m-" + std::to_string(i), "n" + std::to_string(i), &out, deadline);
    if (!s.ok()) {
      EXPECT_TRUE(s.error_code() == grpc::StatusCode::UNAVAILABLE || s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED)
        << s.error_code() << " " << s.error_message();
    }
    return s.ok();
  };
  // The client's loop: the same id until it is acknowledged.
  auto until_acknowledged = [&](int i) {
    for (int a = 0; a < 100; ++a) {
      if (attempt(i, 2s))
        return true;
      std::this_thread::sleep_for(100ms);
    }
    return false;
  };
  for (int i = 0; i < 20; ++i)
    ASSERT_TRUE(until_acknowledged(i)) << i;
  // kill -9: the next sends cannot be acknowledged; they wait at node-a.
  kill_node("node-b");
  int refused = 0;
  for (int i = 20; i < 30; ++i)
    refused += attempt(i, 300ms) ? 0 : 1;
  EXPECT_EQ(refused, 10) << "nothing is acknowledged while the owner is down";
  // Restarted on its store once its lease is gone (a new incarnation).
  ASSERT_TRUE(restart_node("node-b")) << node("node-b").proc.output();
  for (int i = 20; i < 40; ++i)
    ASSERT_TRUE(until_acknowledged(i)) << "message " << i << " was never acknowledged";
  auto got = inbox(node("node-b"), bob);
  ASSERT_EQ(got.size(), 40u) << "acknowledged = delivered once";
  for (size_t i = 0; i < got.size(); ++i)
    EXPECT_EQ(got[i].id(), "m-" + std::to_string(i)) << "in order";
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
