// parleyd in a network coordinated by a real etcd: nodes join when they
// serve and leave at once when they stop; a second process under a running
// node's name is refused; a node whose lease is revoked stops (exit 3) so
// that its restart joins as a new incarnation.

#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "support/etcd_process.hpp"
#include "support/temp_dir.hpp"
#include "support/process.hpp"

namespace parley {
namespace {

using namespace std::chrono_literals;

const std::string parleyd = PARLEYD_PATH;

test::child_process start_node(const test::etcd_process& etcd, const std::string& id) {
  return test::child_process{{parleyd, "--node-id", id, "--listen", "127.0.0.1:0", "--agents", "4",
                              "--etcd", etcd.endpoint(), "--log-level", "info"}};
}

// How many shard keys etcd holds.
size_t shards_owned(const test::etcd_process& etcd) {
  auto keys = etcd.ctl("get --prefix /parley/shards/ --keys-only");
  size_t n = 0;
  for (size_t at = keys.find("/parley/shards/"); at != std::string::npos; at = keys.find("/parley/shards/", at + 1))
    ++n;
  return n;
}

std::string members(const test::etcd_process& etcd) {
  return etcd.ctl("get --prefix /parley/members/ --keys-only");
}

// Verifies two nodes join one network, a twin of a running node is refused, and a stopped node leaves at once.
TEST(ParleydCluster, NodesJoinAndLeaveAndTwinsAreRefused) {
  test::etcd_process etcd;
  ASSERT_TRUE(etcd.running());
  auto a = start_node(etcd, "node-a");
  ASSERT_TRUE(a.wait_for_output("is a member of the network", 20s)) << a.output();
  auto b = start_node(etcd, "node-b");
  ASSERT_TRUE(b.wait_for_output("is a member of the network", 20s)) << b.output();
  EXPECT_TRUE(a.wait_for_output("node 'node-b' joined the network", 10s)) << a.output();
  auto both = members(etcd);
  EXPECT_NE(both.find("/parley/members/node-a"), std::string::npos) << both;
  EXPECT_NE(both.find("/parley/members/node-b"), std::string::npos) << both;
  EXPECT_NE(etcd.ctl("get /parley/members/node-a --print-value-only").find("\"state\":\"up\""), std::string::npos);

  // The first node coordinates and hands out all 1024 shards.
  EXPECT_TRUE(a.wait_for_output("this node is the network's coordinator", 10s)) << a.output();
  EXPECT_TRUE(a.wait_for_output("coordinator: assigned", 10s)) << a.output();
  for (int i = 0; i < 100 && shards_owned(etcd) < 1024; ++i)
    std::this_thread::sleep_for(100ms);
  EXPECT_EQ(shards_owned(etcd), 1024u);

  auto twin = start_node(etcd, "node-a");
  EXPECT_EQ(twin.wait_exit(20s), 1) << twin.output();
  EXPECT_NE(twin.output().find("already a member of the network"), std::string::npos) << twin.output();

  b.signal(SIGTERM);
  EXPECT_EQ(b.wait_exit(15s), 0) << b.output();
  EXPECT_EQ(members(etcd).find("node-b"), std::string::npos) << "a drained node leaves at once";
  EXPECT_TRUE(a.wait_for_output("node 'node-b' left the network", 5s)) << a.output();
  a.signal(SIGTERM);
  EXPECT_EQ(a.wait_exit(15s), 0) << a.output();
}

// Verifies a node whose lease ends behind its back stops with exit code 3.
TEST(ParleydCluster, ANodeThatLosesItsLeaseStops) {
  test::etcd_process etcd;
  ASSERT_TRUE(etcd.running());
  auto a = start_node(etcd, "node-a");
  ASSERT_TRUE(a.wait_for_output("is a member of the network", 20s)) << a.output();
  std::istringstream leases(etcd.ctl("lease list"));
  std::string word;
  int revoked = 0;
  while (leases >> word)
    if (word.size() >= 8 && word.find_first_not_of("0123456789abcdef") == std::string::npos) {
      etcd.ctl("lease revoke " + word);
      ++revoked;
    }
  ASSERT_EQ(revoked, 1);
  EXPECT_EQ(a.wait_exit(20s), 3) << a.output();
  EXPECT_NE(a.output().find("lost its membership"), std::string::npos) << a.output();
}

// Verifies a misconfigured cluster section is refused at start with a message naming the setting.
TEST(ParleydCluster, BadClusterSettingsAreRefused) {
  test::child_process no_etcd{{parleyd, "--listen", "127.0.0.1:0", "--etcd", "127.0.0.1:" + std::to_string(test::free_port())}};
  EXPECT_EQ(no_etcd.wait_exit(30s), 1) << no_etcd.output();
  EXPECT_NE(no_etcd.output().find("cannot join the network: unavailable"), std::string::npos) << no_etcd.output();
  // An outbox that could hold nothing is refused before anything starts.
  test::temp_dir dir;
  std::ofstream{dir.sub("outbox.yaml")} << "cluster:\n  peer_outbox_limit: 0\n";
  test::child_process no_outbox{{parleyd, "--config", dir.sub("outbox.yaml"), "--listen", "127.0.0.1:0"}};
  EXPECT_EQ(no_outbox.wait_exit(10s), 2) << no_outbox.output();
  EXPECT_NE(no_outbox.output().find("cluster.peer_outbox_limit must be at least 1"), std::string::npos)
    << no_outbox.output();
}

} // namespace
} // namespace parley
