// A node paused (SIGSTOP) past its lease: the other node keeps serving its
// own shards, sends to the paused node wait in the durable outbox up to
// cluster.peer_outbox_limit (answered SENT), then get RESOURCE_EXHAUSTED
// with a retry hint; after SIGCONT the paused node finds its lease gone and
// stops; restarted on its store (a new incarnation), it takes the backlog
// and the retries, each once.

#include <gtest/gtest.h>

#include <csignal>

#include "cluster/cluster_fixture.hpp"

namespace parley::cluster_test {
namespace {

constexpr int outbox_limit = 16;

class Pause : public Federation {
protected:
  std::vector<std::string> extra_args() override {
    auto file = dir_ / "pause.yaml";
    std::ofstream(file) << "cluster:\n  lease_ttl_ms: 2000\n  keepalive_ms: 500\n  peer_outbox_limit: "
                        << outbox_limit << "\n";
    return {"--config", file.string()};
  }

  // A send with its status and the retry hint it carried (if any).
  std::pair<grpc::Status, std::string> send_with_hint(node_process& via, const std::string& from,
                                                      const std::string& to, const std::string& id,
                                                      std::chrono::milliseconds deadline) {
    auto stub = pb::Messages::NewStub(via.channel);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + deadline);
    pb::SendRequest req;
    req.mutable_message()->set_from(from);
    req.mutable_message()->set_to_agent(to);
    req.mutable_message()->set_id(id);
    req.mutable_message()->set_content("text of " + id);
    pb::SendResponse out;
    auto s = stub->Send(&ctx, req, &out);
    std::string hint;
    auto& trailers = ctx.GetServerTrailingMetadata();
    if (auto it = trailers.find("retry-after-ms"); it != trailers.end())
      hint.assign(it->second.data(), it->second.size());
    return {s, hint};
  }
};

// Verifies that while node-b is paused past its lease, node-a serves its own agents, holds at most the outbox limit of requests for node-b and refuses the rest at once with RESOURCE_EXHAUSTED and a retry hint; that node-b stops (exit 3) after SIGCONT; and that, restarted, it takes every message once and in order.
TEST_F(Pause, APausedNodeGetsBoundedBackpressureAndCatchesUpAfterItsRestart) {
  const auto [alice, carol, bob] = introduce_alice_carol_bob();
  ASSERT_FALSE(HasFailure());
  auto& a = node("node-a");
  std::vector<std::string> to_bob;
  for (int i = 0; i < 3; ++i) {
    to_bob.push_back("before-" + std::to_string(i));
    ASSERT_TRUE(send_with_hint(a, alice, bob, to_bob.back(), 10s).first.ok());
  }

  // Paused past its lease: etcd forgets it.
  auto& b = node("node-b");
  b.proc.signal(SIGSTOP);
  bool forgotten = false;
  for (int w = 0; w < 100 && !forgotten; ++w) {
    forgotten = etcd_.ctl("get /parley/members/node-b --keys-only").find("node-b") == std::string::npos;
    drain_outputs(100ms);
  }
  ASSERT_TRUE(forgotten) << "node-b's lease did not expire while it was paused";

  // node-a serves its own agents meanwhile.
  for (int i = 0; i < 5; ++i) {
    auto [s, hint] = send_with_hint(a, alice, carol, "local-" + std::to_string(i), 5s);
    EXPECT_TRUE(s.ok()) << i << ": " << s.error_message();
  }

  // Sends to bob: the first wait in node-a's durable outbox for node-b
  // and are answered SENT; beyond the limit they are refused at once, with
  // a hint.
  int waited = 0, refused = 0;
  std::vector<std::string> refused_ids;
  for (int i = 0; i < outbox_limit + 12; ++i) {
    to_bob.push_back("paused-" + std::to_string(i));
    auto t0 = std::chrono::steady_clock::now();
    auto [s, hint] = send_with_hint(a, alice, bob, to_bob.back(), 10s);
    auto took = std::chrono::steady_clock::now() - t0;
    if (s.ok()) {
      ++waited;
    } else {
      refused_ids.push_back(to_bob.back());
      ASSERT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << i << ": " << s.error_message();
      EXPECT_FALSE(hint.empty()) << "a refusal carries retry-after-ms";
      EXPECT_LT(took, 700ms) << "a full outbox refuses at once";
      ++refused;
    }
  }
  EXPECT_EQ(waited, outbox_limit) << "the outbox holds its limit, no more";
  EXPECT_EQ(refused, 12);

  // Woken, node-b finds its lease gone and stops rather than serve on.
  b.proc.signal(SIGCONT);
  EXPECT_EQ(b.proc.wait_exit(20s), 3) << b.proc.output();
  EXPECT_NE(b.proc.output().find("lost its membership"), std::string::npos) << b.proc.output();
  ASSERT_TRUE(restart_node("node-b")) << node("node-b").proc.output();

  // The backlog flows on its own; the client retries only what was
  // refused, in order, until acknowledged.
  for (auto& id : refused_ids) {
    bool acknowledged = false;
    for (int attempt = 0; attempt < 100 && !acknowledged; ++attempt) {
      auto [s, hint] = send_with_hint(a, alice, bob, id, 2s);
      acknowledged = s.ok();
      if (!acknowledged)
        drain_outputs(100ms);
    }
    ASSERT_TRUE(acknowledged) << id << " was never acknowledged";
  }
  EXPECT_TRUE(outbox_drained(a));
  EXPECT_EQ(inbox_ids(node("node-b"), bob, to_bob.size()), to_bob) << "each once, in the order sent";
  EXPECT_EQ(inbox(a, carol).size(), 5u);
}

} // namespace
} // namespace parley::cluster_test
