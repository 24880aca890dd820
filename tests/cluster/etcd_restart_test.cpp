// etcd killed (SIGKILL) and restarted while a node hands its shards off:
// the moves under way when it went wait and go on once it is back, and the
// hand-off ends with every shard owned once and every acknowledged message
// in its inbox once, in order.

#include <gtest/gtest.h>

#include <thread>

#include "cluster/hand_off_fixture.hpp"

namespace parley::cluster_test {
namespace {

class EtcdRestartMidDrain : public HandOff {
protected:
  // Each move of node-c pauses, so the hand-off lasts long enough for the
  // outage to land in it.
  std::vector<std::string> args_of(const std::string& id) override {
    if (id != "node-c")
      return {};
    auto file = dir_ / "pace.yaml";
    std::ofstream(file) << "cluster:\n  move_pause_ms: 20\n";
    return {"--config", file.string()};
  }
};

// Verifies a hand-off survives etcd being killed -9 and restarted in the middle of it: it finishes, node-c leaves owning nothing, every shard has one owner, and the messages a client sent throughout are each in their inbox once, in order.
TEST_F(EtcdRestartMidDrain, AHandOffFinishesAcrossAnEtcdRestart) {
  auto sender = ids_on("node-a", 1).at(0);
  auto on_c = ids_on("node-c", 6);
  ASSERT_TRUE(introduce(node("node-a"), sender, pb::Behavior::KIND_SILENT).ok());
  for (auto& id : on_c)
    ASSERT_TRUE(introduce(node("node-b"), id, pb::Behavior::KIND_EXTERNAL).ok());

  // A client sends to node-c's agents all along, each message retried with
  // its id until acknowledged.
  std::map<std::string, std::vector<std::string>> acked;
  std::atomic<bool> stop{false}, give_up{false};
  std::thread client([&] {
    for (int i = 0; !stop; ++i) {
      const auto& to = on_c[static_cast<size_t>(i) % on_c.size()];
      const auto id = "m-" + std::to_string(i);
      if (!send_until_acked(node("node-a"), sender, to, id, &give_up))
        return;
      acked[to].push_back(id);
      std::this_thread::sleep_for(20ms);
    }
  });

  ASSERT_TRUE(drain(node("node-c"), "node-c", true).ok());
  // Some shards moved, most have not: etcd goes away for three seconds.
  for (int i = 0; i < 400 && info(node("node-c")).hand_off().moved() < 20; ++i)
    std::this_thread::sleep_for(25ms);
  const auto moved_before = info(node("node-c")).hand_off().moved();
  EXPECT_GE(moved_before, 20u);
  EXPECT_GT(info(node("node-c")).hand_off().left(), 100u) << "the outage must land in the hand-off";
  etcd_.kill();
  drain_outputs(3s);
  etcd_.kill_and_restart();
  ASSERT_TRUE(etcd_.running());

  EXPECT_EQ(node("node-c").proc.wait_exit(180s), 0) << node("node-c").proc.output();
  forget("node-c");
  stop = true;
  give_up = true;
  client.join();
  ASSERT_EQ(read_map(), shard_count);
  EXPECT_EQ(owned("node-c"), 0u);
  EXPECT_TRUE(outbox_drained(node("node-a")));
  size_t total = 0;
  for (auto& id : on_c) {
    std::vector<std::string> got;
    for (auto& m : inbox(node("node-b"), id))
      got.push_back(m.id());
    EXPECT_EQ(got, acked[id]) << id << difference(got, acked[id]);
    total += acked[id].size();
  }
  EXPECT_GT(total, 20u) << "the client sent through the hand-off";
}

} // namespace
} // namespace parley::cluster_test
