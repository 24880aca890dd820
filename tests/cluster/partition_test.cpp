// A network partition: node-a and node-b in network namespaces of their own,
// joined by veth pairs to a bridge that also carries etcd and the test.
// node-b's link to the bridge goes down and comes back: meanwhile node-a
// keeps serving and answers sends to node-b's agent from its durable
// outbox; after the heal the backlog arrives, each message once, in order.
// Skipped where network namespaces cannot be made (not root, no `ip`).
// Traffic stays on the test's own namespaces and loopback.

#include <gtest/gtest.h>

#include <cstdlib>
#include <unistd.h>

#include "cluster/cluster_fixture.hpp"

namespace parley::cluster_test {
namespace {

bool sh(const std::string& cmd) {
  return std::system((cmd + " >/dev/null 2>&1").c_str()) == 0;
}

class Partition : public Federation {
protected:
  void SetUp() override {
    if (::geteuid() != 0 || !sh("/usr/sbin/ip netns list"))
      GTEST_SKIP() << "network namespaces need root and iproute2";
    // Interface names are at most 15 characters.
    const auto tag = std::to_string(::getpid() % 100000);
    const auto net = "10.213." + std::to_string(20 + ::getpid() % 200) + ".";
    bridge_ = "plb" + tag;
    bridge_ip_ = net + "1";
    for (auto [id, last] : {std::pair{"node-a", "11"}, std::pair{"node-b", "12"}}) {
      const std::string x = id == std::string{"node-a"} ? "a" : "b";
      spots_[id] = {"pl" + x + tag, "pv" + x + tag, net + last};
    }
    bool made = sh("/usr/sbin/ip link add " + bridge_ + " type bridge")
                && sh("/usr/sbin/ip addr add " + bridge_ip_ + "/24 dev " + bridge_)
                && sh("/usr/sbin/ip link set " + bridge_ + " up");
    for (auto& [id, s] : spots_) {
      made = made && sh("/usr/sbin/ip netns add " + s.netns)
             && sh("/usr/sbin/ip link add " + s.veth + " type veth peer name " + s.veth + "p")
             && sh("/usr/sbin/ip link set " + s.veth + "p netns " + s.netns)
             && sh("/usr/sbin/ip link set " + s.veth + " master " + bridge_)
             && sh("/usr/sbin/ip link set " + s.veth + " up")
             && sh("/usr/sbin/ip netns exec " + s.netns + " /usr/sbin/ip addr add " + s.ip + "/24 dev " + s.veth + "p")
             && sh("/usr/sbin/ip netns exec " + s.netns + " /usr/sbin/ip link set " + s.veth + "p up")
             && sh("/usr/sbin/ip netns exec " + s.netns + " /usr/sbin/ip link set lo up");
    }
    if (!made) {
      clean();
      GTEST_SKIP() << "network namespaces, veth pairs or a bridge cannot be made here";
    }
    etcd_.listen_also(bridge_ip_);
    Federation::SetUp();
  }

  void TearDown() override {
    Federation::TearDown();
    clean();
  }

  void clean() {
    for (auto& [id, s] : spots_) {
      sh("/usr/sbin/ip link del " + s.veth);
      sh("/usr/sbin/ip netns del " + s.netns);
    }
    if (!bridge_.empty())
      sh("/usr/sbin/ip link del " + bridge_);
  }

  node_placement placement_of(const std::string& id) override {
    auto& s = spots_.at(id);
    return {s.netns, s.ip, bridge_ip_ + ":" + std::to_string(etcd_.client_port())};
  }
  // Plaintext on the bridge: a development node, in the test's namespaces.
  std::vector<std::string> extra_args() override { return {"--insecure"}; }

  void cut(const std::string& id) { ASSERT_TRUE(sh("/usr/sbin/ip link set " + spots_.at(id).veth + " down")); }
  void heal(const std::string& id) { ASSERT_TRUE(sh("/usr/sbin/ip link set " + spots_.at(id).veth + " up")); }

  struct spot {
    std::string netns, veth, ip;
  };
  std::map<std::string, spot> spots_;
  std::string bridge_, bridge_ip_;
};

// Verifies that while node-b is cut off from the network for a few seconds (less than its lease), node-a serves its own agents and answers sends to node-b's agent SENT from its durable outbox, and that after the heal node-b's agent has every message once, in the order sent, with no retry by the client.
TEST_F(Partition, ACutOffNodeGetsItsBacklogOnceAfterTheHeal) {
  const auto [alice, carol, bob] = introduce_alice_carol_bob();
  ASSERT_FALSE(HasFailure());
  auto& a = node("node-a");
  std::vector<std::string> sent;
  auto send_one = [&](const std::string& to, const std::string& id) {
    pb::SendResponse out;
    auto s = send(a, alice, to, id, "text of " + id, &out, 10s);
    EXPECT_TRUE(s.ok()) << id << ": " << s.error_code() << " " << s.error_message();
    return out.status();
  };
  for (int i = 0; i < 3; ++i) {
    sent.push_back("before-" + std::to_string(i));
    EXPECT_EQ(send_one(bob, sent.back()), pb::MESSAGE_STATUS_DELIVERED);
  }

  cut("node-b");
  for (int i = 0; i < 6; ++i) {
    sent.push_back("cut-" + std::to_string(i));
    EXPECT_EQ(send_one(bob, sent.back()), pb::MESSAGE_STATUS_SENT) << "node-b is out of reach";
  }
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(send_one(carol, "local-" + std::to_string(i)), pb::MESSAGE_STATUS_DELIVERED)
      << "node-a serves its own agents";
  EXPECT_EQ(info(a).outbox_pending(), 6u);
  heal("node-b");

  EXPECT_TRUE(outbox_drained(a)) << "the backlog did not reach node-b";
  EXPECT_EQ(inbox_ids(node("node-b"), bob, sent.size()), sent) << "each once, in the order sent";
  EXPECT_EQ(inbox(a, carol).size(), 3u);
}

} // namespace
} // namespace parley::cluster_test
