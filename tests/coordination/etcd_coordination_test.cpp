// The `etcd` backend against a real etcd (a throwaway process per test):
// membership under leases, the shard map by compare-and-swap, one
// coordinator, and what happens when leases end or etcd restarts.

#include <atomic>
#include <functional>
#include <sstream>
#include <map>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>

#include "parley/coordination/coordination.hpp"
#include "parley/coordination/shard_planner.hpp"
#include "support/etcd_process.hpp"
#include "support/tcp_proxy.hpp"

namespace parley::coordination {
namespace {

using namespace std::chrono_literals;

bool eventually(const std::function<bool()>& pred, std::chrono::milliseconds timeout = 5s) {
  auto until = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < until) {
    if (pred())
      return true;
    std::this_thread::sleep_for(10ms);
  }
  return pred();
}

std::vector<std::string> names(const std::vector<member>& ms) {
  std::vector<std::string> out;
  for (auto& m : ms)
    out.push_back(m.node);
  return out;
}

// Records the changes a backend reports.
struct recorder {
  std::mutex mtx;
  std::vector<change> seen;
  std::function<void(const change&)> sink() {
    return [this](const change& c) {
      std::lock_guard guard{mtx};
      seen.push_back(c);
    };
  }
  bool has(change::kind k, const std::string& node) {
    std::lock_guard guard{mtx};
    for (auto& c : seen)
      if (c.what == k && c.who.node == node)
        return true;
    return false;
  }
};

class EtcdCoordination : public ::testing::Test {
protected:
  void SetUp() override { ASSERT_TRUE(etcd_.running()) << "etcd did not start (is etcd-server installed?)"; }

  etcd_options options(std::chrono::milliseconds ttl = 2s) const {
    etcd_options o;
    o.endpoints = {etcd_.endpoint()};
    o.prefix = "/parley-test";
    o.lease_ttl = ttl;
    o.keepalive_interval = ttl / 4;
    o.call_timeout = 2s;
    return o;
  }

  std::unique_ptr<coordination> connect(std::chrono::milliseconds ttl = 2s) {
    auto c = connect_etcd(options(ttl));
    EXPECT_TRUE(c) << (c ? "" : to_string(c.error()));
    return c ? std::move(*c) : nullptr;
  }

  static member node(const std::string& name, uint64_t incarnation = 1) {
    return member{name, "127.0.0.1:" + std::to_string(7000 + name.size()), incarnation, member_state::joining};
  }

  test::etcd_process etcd_;
};

// Verifies join registers a node that every connection then sees, and a second process with the same name is refused.
TEST_F(EtcdCoordination, JoinRegistersAndASecondHolderOfTheNameIsRefused) {
  auto a = connect();
  auto b = connect();
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(a->join(node("alpha")));
  EXPECT_TRUE(a->registered());

  auto twin = b->join(node("alpha", 2));
  ASSERT_FALSE(twin);
  EXPECT_EQ(twin.error().code, errc::already_exists);
  EXPECT_NE(twin.error().message.find("incarnation 1"), std::string::npos) << twin.error().message;
  EXPECT_FALSE(b->registered());

  ASSERT_TRUE(b->join(node("beta")));
  ASSERT_TRUE(b->set_state(member_state::up));
  for (auto* c : {a.get(), b.get()})
    EXPECT_TRUE(eventually([&] { return names(c->members()) == std::vector<std::string>{"alpha", "beta"}; }));
  EXPECT_TRUE(eventually([&] {
    auto ms = a->members();
    return ms.size() == 2 && ms[1].state == member_state::up;
  }));
  // What an operator sees with etcdctl.
  EXPECT_NE(etcd_.ctl("get /parley-test/members/beta --print-value-only").find("\"state\":\"up\""),
            std::string::npos);
}

// Verifies leave removes the member at once and the others are told.
TEST_F(EtcdCoordination, LeaveRemovesTheMemberAtOnce) {
  auto a = connect(10s);
  auto b = connect(10s);
  recorder seen;
  b->subscribe(seen.sink());
  ASSERT_TRUE(a->join(node("alpha")));
  EXPECT_TRUE(eventually([&] { return seen.has(change::kind::member_joined, "alpha"); }));
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(a->leave());
  EXPECT_FALSE(a->registered());
  EXPECT_TRUE(eventually([&] { return seen.has(change::kind::member_left, "alpha"); }, 2s));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s) << "a leave must not wait for the 10 s lease";
  EXPECT_TRUE(b->members().empty());
  // The name is free again.
  ASSERT_TRUE(b->join(node("alpha", 2)));
}

// Verifies a node that stops renewing its lease disappears after about one TTL, not before.
TEST_F(EtcdCoordination, AnUnrenewedLeaseExpiresAfterItsTtl) {
  auto watcher = connect();
  recorder seen;
  watcher->subscribe(seen.sink());
  {
    auto a = connect();
    ASSERT_TRUE(a->join(node("alpha")));
    ASSERT_TRUE(eventually([&] { return seen.has(change::kind::member_joined, "alpha"); }));
    // Gone without leave(): the keepalive stops, the lease stays.
  }
  const auto t0 = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(1s);
  EXPECT_EQ(names(watcher->members()), std::vector<std::string>{"alpha"}) << "expired before its TTL";
  ASSERT_TRUE(eventually([&] { return seen.has(change::kind::member_left, "alpha"); }, 5s));
  const auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_GE(took, 1s);
  EXPECT_LE(took, 4s) << "a 2 s lease took " << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
                      << " ms to expire";
}

// Verifies a node whose lease is revoked behind its back learns it: it is told lease_lost and is no longer registered.
TEST_F(EtcdCoordination, ALostLeaseIsReportedToTheNode) {
  auto a = connect();
  recorder mine;
  a->subscribe(mine.sink());
  ASSERT_TRUE(a->join(node("alpha")));
  ASSERT_TRUE(a->claim_coordinator().value());
  // Revoke every lease there is, as an operator (or an expiry during a pause) would.
  auto leases = etcd_.ctl("lease list");
  std::istringstream in(leases);
  std::string word;
  int revoked = 0;
  while (in >> word)
    if (word.find_first_not_of("0123456789abcdef") == std::string::npos && word.size() >= 8) {
      etcd_.ctl("lease revoke " + word);
      ++revoked;
    }
  ASSERT_GE(revoked, 1) << leases;
  EXPECT_TRUE(eventually([&] { return mine.has(change::kind::lease_lost, "alpha"); }, 3s));
  EXPECT_FALSE(a->registered());
  EXPECT_TRUE(eventually([&] { return a->members().empty(); }));
  EXPECT_TRUE(eventually([&] { return a->coordinator().empty(); }));
  auto refused = a->set_state(member_state::up);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, errc::failed_precondition);
  // It may join again, as a new incarnation.
  ASSERT_TRUE(a->join(node("alpha", 2)));
  EXPECT_TRUE(eventually([&] {
    auto ms = a->members();
    return ms.size() == 1 && ms[0].incarnation == 2;
  }));
}

// Verifies the shard map changes only by compare-and-swap on the epoch, and every connection sees the change.
TEST_F(EtcdCoordination, ShardOwnersChangeOnlyFromTheEpochRead) {
  auto a = connect();
  auto b = connect();
  EXPECT_EQ(a->owner(5), shard_owner{});
  auto first = a->assign(5, 0, {"alpha", 0, {}});
  ASSERT_TRUE(first) << to_string(first.error());
  EXPECT_GT(*first, 0u);
  EXPECT_EQ(a->owner(5), (shard_owner{"alpha", *first, {}}));

  auto stale = b->assign(5, 0, {"beta", 0, {}});
  ASSERT_FALSE(stale);
  EXPECT_EQ(stale.error().code, errc::failed_precondition);
  EXPECT_NE(stale.error().message.find("owned by 'alpha' at epoch " + std::to_string(*first)), std::string::npos)
    << stale.error().message;

  auto moving = b->assign(5, *first, {"alpha", 0, "beta"});
  ASSERT_TRUE(moving);
  EXPECT_GT(*moving, *first);
  EXPECT_TRUE(eventually([&] { return a->owner(5) == shard_owner{"alpha", *moving, "beta"}; }));
  auto old_epoch = a->assign(5, *first, {"gamma", 0, {}});
  ASSERT_FALSE(old_epoch);
  EXPECT_EQ(old_epoch.error().code, errc::failed_precondition);

  auto bad = a->assign(4096, 0, {"alpha", 0, {}});
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, errc::invalid_argument);
  EXPECT_EQ(a->owner(6), shard_owner{}) << "other shards untouched";
}

// Verifies two nodes racing to move the same shard from the same epoch: exactly one wins, every round.
TEST_F(EtcdCoordination, RacingAssignmentsHaveOneWinner) {
  auto a = connect();
  auto b = connect();
  auto epoch = a->assign(9, 0, {"start", 0, {}});
  ASSERT_TRUE(epoch);
  for (int round = 0; round < 20; ++round) {
    std::atomic<int> wins{0};
    uint64_t next = 0;
    std::mutex mtx;
    auto race = [&](coordination* c, const std::string& who) {
      auto r = c->assign(9, *epoch, {who, 0, {}});
      if (r) {
        ++wins;
        std::lock_guard guard{mtx};
        next = *r;
      } else {
        EXPECT_EQ(r.error().code, errc::failed_precondition);
      }
    };
    std::thread t1(race, a.get(), "alpha"), t2(race, b.get(), "beta");
    t1.join();
    t2.join();
    ASSERT_EQ(wins.load(), 1) << "round " << round;
    epoch = next;
  }
}

// Verifies one coordinator at a time, and that it passes on when the holder leaves.
TEST_F(EtcdCoordination, OneCoordinatorAtATime) {
  auto a = connect();
  auto b = connect();
  auto not_joined = a->claim_coordinator();
  ASSERT_FALSE(not_joined);
  EXPECT_EQ(not_joined.error().code, errc::failed_precondition);
  ASSERT_TRUE(a->join(node("alpha")));
  ASSERT_TRUE(b->join(node("beta")));
  EXPECT_TRUE(a->claim_coordinator().value());
  EXPECT_FALSE(b->claim_coordinator().value());
  EXPECT_EQ(b->coordinator(), "alpha");
  ASSERT_TRUE(a->leave());
  EXPECT_TRUE(eventually([&] { return b->coordinator().empty(); }));
  EXPECT_TRUE(b->claim_coordinator().value());
  EXPECT_TRUE(eventually([&] { return a->coordinator() == "beta"; }));
}

// Verifies an etcd killed and restarted on its data keeps the network: the node stays registered and the caches follow new changes.
TEST_F(EtcdCoordination, SurvivesAnEtcdRestart) {
  auto a = connect(5s);
  auto b = connect(5s);
  ASSERT_TRUE(a->join(node("alpha")));
  auto e = a->assign(1, 0, {"alpha", 0, {}});
  ASSERT_TRUE(e);
  etcd_.kill_and_restart();
  ASSERT_TRUE(etcd_.running());
  // The keepalive reconnects: still registered a full TTL later.
  std::this_thread::sleep_for(6s);
  EXPECT_TRUE(a->registered());
  auto moved = a->assign(1, *e, {"beta", 0, {}});
  ASSERT_TRUE(moved) << to_string(moved.error());
  EXPECT_TRUE(eventually([&] { return b->owner(1).node == "beta"; }));
  EXPECT_EQ(names(b->members()), std::vector<std::string>{"alpha"});
}

// Verifies a watch cut off while etcd compacted past it reads everything again and reports what changed meanwhile.
TEST_F(EtcdCoordination, AWatchBehindACompactionReadsEverythingAgain) {
  test::tcp_proxy proxy(etcd_.client_port());
  auto o = options(10s);
  o.endpoints = {proxy.endpoint()};
  auto watched = connect_etcd(o);
  ASSERT_TRUE(watched) << to_string(watched.error());
  auto& watcher = *watched;
  recorder seen;
  watcher->subscribe(seen.sink());
  auto writer = connect();
  auto e1 = writer->assign(1, 0, {"alpha", 0, {}});
  ASSERT_TRUE(e1);
  ASSERT_TRUE(eventually([&] { return watcher->owner(1).node == "alpha"; }));

  proxy.cut();
  ASSERT_TRUE(writer->assign(1, *e1, {"beta", 0, {}}));
  auto e3 = writer->assign(2, 0, {"gamma", 0, {}});
  ASSERT_TRUE(e3);
  auto compacted = etcd_.ctl("compact " + std::to_string(*e3));
  ASSERT_NE(compacted.find("compacted revision"), std::string::npos) << compacted;
  proxy.heal();

  EXPECT_TRUE(eventually([&] { return watcher->owner(1).node == "beta" && watcher->owner(2).node == "gamma"; },
                         15s));
  // The cache changes before the subscribers hear of it (same watch
  // thread, right after): wait for the reports too.
  auto shard_changes = [&] {
    std::lock_guard guard{seen.mtx};
    int n = 0;
    for (auto& c : seen.seen)
      if (c.what == change::kind::shard_changed && (c.shard == 1 || c.shard == 2))
        ++n;
    return n;
  };
  EXPECT_TRUE(eventually([&] { return shard_changes() >= 3; }, 15s))
    << shard_changes() << " reported; want alpha on 1, then beta on 1 and gamma on 2 after the re-read";
}

// Verifies the coordinator gives every unowned shard to an up member, evenly, in bounded rounds, and leaves a departed node's shards alone.
TEST_F(EtcdCoordination, TheCoordinatorAssignsUnownedShards) {
  std::vector<std::unique_ptr<coordination>> nodes;
  for (auto name : {"alpha", "beta", "gamma"}) {
    nodes.push_back(connect(5s));
    ASSERT_TRUE(nodes.back()->join(node(name)));
    ASSERT_TRUE(nodes.back()->set_state(member_state::up));
  }
  auto& boss = *nodes[0];
  ASSERT_TRUE(boss.claim_coordinator().value());
  ASSERT_TRUE(eventually([&] { return boss.members().size() == 3; }));
  size_t total = 0;
  for (int round = 0; round < 10 && total < shard_count; ++round) {
    auto n = assign_unassigned(boss, 256);
    ASSERT_TRUE(n) << to_string(n.error());
    EXPECT_LE(*n, 256u);
    total += *n;
  }
  EXPECT_EQ(total, shard_count);
  // Every node sees the same map, spread evenly.
  for (auto& c : nodes)
    EXPECT_TRUE(eventually([&] {
      std::map<std::string, size_t> count;
      for (shard_id s = 0; s < shard_count; ++s)
        ++count[c->owner(s).node];
      return count["alpha"] == 342 && count["beta"] == 341 && count["gamma"] == 341;
    }));
  // gamma leaves (as if it were down): its shards stay its own.
  const auto owned_by_gamma = nodes[2]->owner(2);
  ASSERT_EQ(owned_by_gamma.node, "gamma");
  ASSERT_TRUE(nodes[2]->leave());
  ASSERT_TRUE(eventually([&] { return boss.members().size() == 2; }));
  auto again = assign_unassigned(boss, 256);
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, 0u);
  EXPECT_EQ(boss.owner(2), owned_by_gamma);
}

// Verifies a connection to where no etcd listens fails plainly and in time, and bad options are refused.
TEST_F(EtcdCoordination, BadEndpointsAndOptionsAreRefused) {
  auto o = options();
  o.endpoints = {"127.0.0.1:" + std::to_string(test::free_port())};
  o.call_timeout = 500ms;
  const auto t0 = std::chrono::steady_clock::now();
  auto none = connect_etcd(o);
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code, errc::unavailable);
  EXPECT_NE(none.error().message.find(o.endpoints[0]), std::string::npos) << none.error().message;
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 3s);

  o = options();
  o.endpoints.clear();
  EXPECT_EQ(connect_etcd(o).error().code, errc::invalid_argument);
  o = options();
  o.keepalive_interval = o.lease_ttl;
  EXPECT_EQ(connect_etcd(o).error().code, errc::invalid_argument);
  // Several endpoints: numeric addresses only (gRPC's ipv4 resolver).
  o = options();
  o.endpoints = {"etcd-0.etcd:2379", "etcd-1.etcd:2379"};
  auto names = connect_etcd(o);
  ASSERT_FALSE(names);
  EXPECT_EQ(names.error().code, errc::invalid_argument);
  EXPECT_NE(names.error().message.find("etcd-0.etcd:2379"), std::string::npos) << names.error().message;
}

} // namespace
} // namespace parley::coordination
