// Chaos: three nodes under a steady load of direct messages between their
// agents, while one node after another is killed with SIGKILL and
// restarted on its store. A checker in the style of Jepsen's total-queue
// then compares what the clients were told with what the inboxes hold.
//
// PARLEY_CHAOS_CYCLES (default 20) sets the number of kills, and
// PARLEY_CHAOS_SEED the seed (printed, so that a failing run's choices of
// victims and recipients can be replayed).

#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <mutex>
#include <random>

#include "cluster/cluster_fixture.hpp"
#include "cluster/queue_checker.hpp"

namespace parley::cluster_test {
namespace {

int env_int(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::atoi(v) : fallback;
}

class Chaos : public Federation {
protected:
  std::vector<std::string> node_names() override { return {"node-a", "node-b", "node-c"}; }
  std::vector<std::string> extra_args() override { return short_lease_args(); }

  // The channels of the nodes that are up, which the clients pick from.
  void set_live(const std::string& id, std::shared_ptr<grpc::Channel> ch) {
    std::lock_guard guard{live_mtx_};
    if (ch)
      live_[id] = std::move(ch);
    else
      live_.erase(id);
  }
  std::shared_ptr<grpc::Channel> any_live(std::mt19937_64& rng) {
    std::lock_guard guard{live_mtx_};
    if (live_.empty())
      return nullptr;
    auto it = live_.begin();
    std::advance(it, static_cast<long>(rng() % live_.size()));
    return it->second;
  }

  std::mutex live_mtx_;
  std::map<std::string, std::shared_ptr<grpc::Channel>> live_;
};

// One client: an agent that sends to the recipients, one message at a
// time, each retried with its id through any node that is up until it is
// acknowledged (the API's contract for a send whose outcome is unknown).
struct client_log {
  std::vector<std::pair<std::string, int>> acknowledged; // (recipient, sequence), in order
  std::map<std::string, int> other_codes;                // failures a retry does not explain
};

// Verifies that under a steady load of direct messages between the agents of three nodes, with a node killed -9 and restarted on its store 20 times, no acknowledged message is lost, none is in an inbox twice, none appears that was never sent, and every sender's messages reach each recipient in the order they were acknowledged.
TEST_F(Chaos, NothingAcknowledgedIsLostOrDoubledAcrossKillCycles) {
  const int cycles = env_int("PARLEY_CHAOS_CYCLES", 20);
  const auto seed = static_cast<uint64_t>(env_int("PARLEY_CHAOS_SEED", static_cast<int>(std::random_device{}() & 0x7fffffff)));
  std::cout << "chaos: " << cycles << " kill cycles, PARLEY_CHAOS_SEED=" << seed << std::endl;
  std::mt19937_64 rng{seed};

  // Per node: one sending agent and three recipients (external: messages
  // wait in their inboxes until read).
  std::vector<std::string> senders, recipients;
  for (auto& n : nodes_) {
    auto ids = ids_on(n->id, 4);
    ASSERT_EQ(ids.size(), 4u);
    senders.push_back(ids[0]);
    ASSERT_TRUE(introduce(*n, ids[0], pb::Behavior::KIND_SILENT).ok());
    for (size_t i = 1; i < 4; ++i) {
      recipients.push_back(ids[i]);
      ASSERT_TRUE(introduce(*n, ids[i], pb::Behavior::KIND_EXTERNAL).ok());
    }
    set_live(n->id, n->channel);
  }

  queue_checker checker;
  std::atomic<bool> stop{false};
  constexpr int max_per_client = 2000; // 3 x 2000 / 9 recipients: well under an inbox page of 1000
  std::vector<client_log> logs(senders.size());
  std::vector<std::thread> clients;
  for (size_t c = 0; c < senders.size(); ++c)
    clients.emplace_back([&, c, client_seed = rng()] {
      std::mt19937_64 r{client_seed};
      auto& log = logs[c];
      for (int seq = 0; seq < max_per_client && !stop; ++seq) {
        const auto& to = recipients[r() % recipients.size()];
        const auto id = "c" + std::to_string(c) + "-" + std::to_string(seq);
        checker.attempted(id);
        // After the chaos every node is up: a minute is plenty.
        auto give_up = std::chrono::steady_clock::time_point::max();
        for (;;) {
          if (stop && give_up == std::chrono::steady_clock::time_point::max())
            give_up = std::chrono::steady_clock::now() + 60s;
          if (std::chrono::steady_clock::now() > give_up)
            break;
          auto ch = any_live(r);
          if (!ch) {
            std::this_thread::sleep_for(50ms);
            continue;
          }
          auto stub = pb::Messages::NewStub(ch);
          grpc::ClientContext ctx;
          ctx.set_deadline(std::chrono::system_clock::now() + 2s);
          pb::SendRequest req;
          req.mutable_message()->set_from(senders[c]);
          req.mutable_message()->set_to_agent(to);
          req.mutable_message()->set_id(id);
          req.mutable_message()->set_content("chaos " + id);
          pb::SendResponse out;
          auto s = stub->Send(&ctx, req, &out);
          if (s.ok()) {
            checker.acknowledged(id);
            log.acknowledged.emplace_back(to, seq);
            break;
          }
          // A node gone or slow to answer, or its outbox full: unknown
          // outcome, retry. Anything else is a fault of its own.
          auto code = s.error_code();
          if (code != grpc::StatusCode::UNAVAILABLE && code != grpc::StatusCode::DEADLINE_EXCEEDED
              && code != grpc::StatusCode::RESOURCE_EXHAUSTED && code != grpc::StatusCode::CANCELLED)
            ++log.other_codes[std::to_string(code) + " " + s.error_message()];
          std::this_thread::sleep_for(50ms);
        }
        std::this_thread::sleep_for(20ms);
      }
    });

  // The chaos: kill a node, wait until etcd forgot it, restart it on its
  // store, let the load run on all three for a moment.
  size_t acknowledged_before = 0;
  int stalled_cycles = 0;
  for (int i = 0; i < cycles; ++i) {
    drain_outputs(600ms);
    const auto victim = nodes_[rng() % nodes_.size()]->id;
    set_live(victim, nullptr);
    kill_node(victim);
    bool up = restart_node(victim);
    ASSERT_TRUE(up) << "cycle " << i << ": " << victim << " did not come back:\n" << node(victim).proc.output();
    set_live(victim, node(victim).channel);
    auto now_acknowledged = checker.check({}).acknowledged;
    stalled_cycles += now_acknowledged == acknowledged_before ? 1 : 0;
    acknowledged_before = now_acknowledged;
    std::cout << "chaos: cycle " << i + 1 << " killed " << victim << "; acknowledged so far " << now_acknowledged
              << std::endl;
  }
  drain_outputs(600ms);
  stop = true;
  for (auto& t : clients)
    t.join();

  // Messages acknowledged SENT may still be in an outbox: let them land.
  for (auto& n : nodes_)
    EXPECT_TRUE(outbox_drained(*n)) << n->id << "'s outbox still holds messages";

  // What the inboxes hold, read through any node.
  std::vector<std::string> read;
  std::map<std::string, std::vector<std::string>> by_recipient;
  for (auto& to : recipients) {
    auto got = inbox(*nodes_[rng() % nodes_.size()], to);
    for (auto& m : got) {
      read.push_back(m.id());
      by_recipient[to].push_back(m.id());
    }
  }
  auto report = checker.check(read);
  std::cout << "chaos: " << report.text() << std::endl;
  EXPECT_EQ(report.lost, 0u) << report.text();
  EXPECT_EQ(report.duplicated, 0u) << report.text();
  EXPECT_EQ(report.unexpected, 0u) << report.text();
  EXPECT_EQ(report.unacknowledged, 0u) << "every send was acknowledged once the nodes were back: " << report.text();
  EXPECT_GT(report.acknowledged, static_cast<size_t>(10 * cycles)) << "the load ran through the chaos";
  EXPECT_LT(stalled_cycles, cycles) << "nothing was acknowledged during the chaos";

  // Each sender's messages reach each recipient in the order acknowledged.
  for (size_t c = 0; c < logs.size(); ++c) {
    EXPECT_TRUE(logs[c].other_codes.empty()) << "client " << c << " got " << logs[c].other_codes.begin()->first;
    std::map<std::string, std::vector<std::string>> expected;
    for (auto& [to, seq] : logs[c].acknowledged)
      expected[to].push_back("c" + std::to_string(c) + "-" + std::to_string(seq));
    const auto prefix = "c" + std::to_string(c) + "-";
    for (auto& [to, ids] : expected) {
      std::vector<std::string> got;
      for (auto& id : by_recipient[to])
        if (id.rfind(prefix, 0) == 0)
          got.push_back(id);
      EXPECT_EQ(got, ids) << "client " << c << " to " << to << ": in the order acknowledged";
    }
  }
}

} // namespace
} // namespace parley::cluster_test
