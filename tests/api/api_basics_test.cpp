// The API over a real server on 127.0.0.1 (port 0): a first good path and
// the health service.

#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>

#include "parley/api/server.hpp"
#include "parley/v1/api.grpc.pb.h"
#include "support/node_fixture.hpp"

namespace parley {
namespace {

namespace pb = parley::v1;

TEST(ApiBasics, IntroduceSendAndRead) {
  node_config cfg;
  auto n = test_support::start_ok(cfg);
  ASSERT_TRUE(n);
  api::server_options opt;
  opt.listen = "127.0.0.1:0";
  auto srv = api::server::start(*n, opt);
  ASSERT_TRUE(srv) << to_string(srv.error());
  auto ch = grpc::CreateChannel((*srv)->address(), grpc::InsecureChannelCredentials());
  auto agents = pb::Agents::NewStub(ch);
  auto messages = pb::Messages::NewStub(ch);
  for (auto id : {"a", "b"}) {
    grpc::ClientContext ctx;
    pb::IntroduceRequest req;
    req.mutable_manifest()->set_id(id);
    req.mutable_behavior()->set_kind(pb::Behavior::KIND_ECHO);
    pb::Manifest out;
    auto s = agents->Introduce(&ctx, req, &out);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(out.id(), id);
    EXPECT_EQ(out.status(), pb::AGENT_STATUS_ACTIVE);
  }
  grpc::ClientContext ctx;
  pb::SendRequest req;
  req.mutable_message()->set_from("a");
  req.mutable_message()->set_to_agent("b");
  req.mutable_message()->set_content("hi");
  pb::SendResponse out;
  auto s = messages->Send(&ctx, req, &out);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(out.status(), pb::MESSAGE_STATUS_DELIVERED);
  EXPECT_FALSE(out.id().empty());

  grpc::ClientContext bad_ctx;
  pb::SendRequest bad;
  bad.mutable_message()->set_from("a");
  pb::SendResponse ignored;
  auto bs = messages->Send(&bad_ctx, bad, &ignored);
  EXPECT_EQ(bs.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(bs.error_message().find("message.to"), std::string::npos);
}

} // namespace
} // namespace parley
