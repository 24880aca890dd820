// Agent links in a network: a link is served by the node that serves its
// agent. Another node refuses to open it with UNAVAILABLE and trailers that
// name that node and its address (a redirect), and the link opened there
// gets the agent's messages, whichever node they were sent through.

#include <gtest/gtest.h>

#include "cluster/cluster_fixture.hpp"

namespace parley::cluster_test {
namespace {

struct link_attempt {
  grpc::ClientContext ctx;
  std::unique_ptr<grpc::ClientReaderWriter<pb::LinkClient, pb::LinkServer>> stream;

  link_attempt(const std::shared_ptr<grpc::Channel>& ch, const std::string& agent) {
    ctx.set_deadline(std::chrono::system_clock::now() + 10s);
    stream = pb::AgentLink::NewStub(ch)->Link(&ctx);
    pb::LinkClient open;
    open.mutable_open()->set_agent(agent);
    open.mutable_open()->set_credit(8);
    stream->Write(open);
  }

  std::string trailer(const std::string& key) {
    auto& t = ctx.GetServerTrailingMetadata();
    auto it = t.find(key);
    return it == t.end() ? std::string{} : std::string(it->second.data(), it->second.size());
  }
};

// Verifies a link opened through a node that does not serve the agent ends with UNAVAILABLE naming the serving node, with trailers parley-node and parley-node-address; the link opened at that address is ready and gets a message sent through the first node.
TEST_F(Federation, AnAgentLinkIsRedirectedToTheAgentsNode) {
  auto [alice, bob] = one_id_on_each();
  ASSERT_TRUE(introduce(node("node-a"), alice, pb::Behavior::KIND_SILENT).ok());
  ASSERT_TRUE(introduce(node("node-a"), bob, pb::Behavior::KIND_EXTERNAL).ok());

  link_attempt wrong{node("node-a").channel, bob};
  pb::LinkServer got;
  EXPECT_FALSE(wrong.stream->Read(&got)) << "node-a served a link of node-b's agent";
  auto s = wrong.stream->Finish();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
  EXPECT_NE(s.error_message().find("served by node 'node-b'"), std::string::npos) << s.error_message();
  EXPECT_EQ(wrong.trailer("parley-node"), "node-b");
  const auto address = wrong.trailer("parley-node-address");
  EXPECT_EQ(address, node("node-b").address);

  // The client follows the redirect.
  auto there = grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
  link_attempt right{there, bob};
  ASSERT_TRUE(right.stream->Read(&got)) << right.stream->Finish().error_message();
  ASSERT_TRUE(got.has_ready());
  EXPECT_EQ(got.ready().agent(), bob);
  pb::SendResponse sent;
  ASSERT_TRUE(send(node("node-a"), alice, bob, "over-there", "hello", &sent).ok());
  ASSERT_TRUE(right.stream->Read(&got));
  ASSERT_TRUE(got.has_delivery()) << got.DebugString();
  EXPECT_EQ(got.delivery().id(), "over-there");
  right.stream->WritesDone();
  right.ctx.TryCancel();
  (void) right.stream->Finish();

  // A link of an agent that exists nowhere is refused where it would live.
  auto nobody = ids_on("node-b", 2).at(1);
  link_attempt missing{there, nobody};
  EXPECT_FALSE(missing.stream->Read(&got));
  EXPECT_EQ(missing.stream->Finish().error_code(), grpc::StatusCode::NOT_FOUND);
}

} // namespace
} // namespace parley::cluster_test
