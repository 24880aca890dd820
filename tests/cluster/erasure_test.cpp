// Erasure across a network when a node that keeps some of the agent's data
// is down: the erasure says which node it could not reach (UNAVAILABLE)
// rather than claiming to be done, and erasing again once that node is back
// finishes it there. (The case with every node up: rooms_test.cpp.)

#include "cluster/cluster_fixture.hpp"

namespace parley::cluster_test {
namespace {

class Erasure : public Federation {
protected:
  // Short leases (a killed node's name is soon free) and a short call
  // timeout (a node that is down fails a call soon).
  std::vector<std::string> extra_args() override {
    auto file = dir_ / "erasure.yaml";
    std::ofstream(file) << "cluster:\n  lease_ttl_ms: 2000\n  keepalive_ms: 500\nnode:\n  call_timeout_ms: 1500\n";
    return {"--config", file.string()};
  }
};

// Verifies an erasure while the node keeping the agent's sent message is down is UNAVAILABLE naming that node, and
// the same erasure once the node is back erases the message there too.
TEST_F(Erasure, ANodeThatIsDownIsNamedAndErasingAgainFinishes) {
  auto [x, y] = one_id_on_each();
  for (auto& id : {x, y})
    ASSERT_TRUE(introduce(node("node-a"), id, pb::Behavior::KIND_EXTERNAL).ok()) << id;
  pb::SendResponse sent;
  ASSERT_TRUE(send(node("node-a"), x, y, "s1", "x's secret", &sent).ok()); // kept by node-b

  kill_node("node-b");
  pb::Erasure done;
  auto s = erase(node("node-a"), x, &done);
  ASSERT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
  EXPECT_NE(s.error_message().find("node-b"), std::string::npos) << s.error_message();
  EXPECT_NE(s.error_message().find("erase again"), std::string::npos) << s.error_message();

  ASSERT_TRUE(restart_node("node-b"));
  for (int i = 0; i < 50 && !(s = erase(node("node-a"), x, &done)).ok(); ++i)
    drain_outputs(100ms); // until node-a reaches node-b again
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(done.agent(), x);

  grpc::ClientContext ctx;
  node("node-b").authorize(ctx);
  pb::HistoryRequest req;
  req.mutable_pair()->set_a(x);
  req.mutable_pair()->set_b(y);
  pb::HistoryResponse page;
  ASSERT_TRUE(pb::Rooms::NewStub(node("node-b").channel)->History(&ctx, req, &page).ok());
  ASSERT_EQ(page.messages_size(), 1);
  EXPECT_TRUE(page.messages(0).erased());
  EXPECT_EQ(page.messages(0).content(), "");
}

} // namespace
} // namespace parley::cluster_test
