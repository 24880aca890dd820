// The Federation service as a peer meets it: a stale epoch or a shard that
// is not the request's is refused, a resend is answered from memory, a link
// needs a member's hello, and with a token key only nodes may link.

#include <gtest/gtest.h>

#include <fstream>

#include "parley/auth/token.hpp"

#include "cluster/cluster_fixture.hpp"

namespace parley::cluster_test {
namespace {

// Verifies the owner refuses a request naming a stale epoch or a shard that is not its target's, and answers a good one.
TEST_F(Federation, TheOwnerRefusesStaleEpochsAndForeignShards) {
  auto bob = ids_on("node-b", 1).at(0);
  ASSERT_TRUE(introduce(node("node-b"), bob, pb::Behavior::KIND_SILENT).ok());
  auto [owner, epoch] = owner_of(bob);
  ASSERT_EQ(owner, "node-b");
  ASSERT_GT(epoch, 0u);
  raw_link link(node("node-b").channel);
  pb::PeerFrame out;
  out.mutable_hello()->set_node("node-a");
  out.mutable_hello()->set_session(77);
  out.mutable_hello()->set_resume_from(1);
  auto add = [&](uint64_t seq, uint32_t shard, uint64_t ep) {
    auto* r = out.add_requests();
    r->set_seq(seq);
    r->set_caller("admin:node-a");
    r->set_shard(shard);
    r->set_epoch(ep);
    r->set_read_manifest(bob);
  };
  add(1, shard_of(bob), epoch - 1);                  // stale
  add(2, (shard_of(bob) + 1) % shard_count, epoch);  // not bob's shard
  add(3, shard_of(bob), epoch);                      // good
  ASSERT_TRUE(link.stream->Write(out));
  std::map<uint64_t, pb::PeerReply> replies;
  pb::PeerFrame in;
  while (replies.size() < 3 && link.stream->Read(&in))
    for (auto& r : in.replies())
      replies[r.seq()] = r;
  ASSERT_EQ(replies.size(), 3u);
  EXPECT_EQ(replies[1].error_code(), "failed_precondition");
  EXPECT_NE(replies[1].error_message().find("stale shard owner"), std::string::npos) << replies[1].error_message();
  // Shard + 1 may be owned by node-b too at another epoch: either refusal names the mismatch.
  EXPECT_FALSE(replies[2].error_code().empty());
  EXPECT_TRUE(replies[3].error_code().empty()) << replies[3].error_message();
  EXPECT_EQ(replies[3].manifest().id(), bob);
  // A resend of an answered request is answered again, not served twice.
  pb::PeerFrame resend;
  *resend.add_requests() = out.requests(2);
  ASSERT_TRUE(link.stream->Write(resend));
  ASSERT_TRUE(link.stream->Read(&in));
  ASSERT_EQ(in.replies_size(), 1);
  EXPECT_EQ(in.replies(0).seq(), 3u);
  EXPECT_EQ(in.answered_through(), 3u);
  link.stream->WritesDone();
}

// Verifies a room's post delivered twice to a member's node (as the room's node sends it again from its outbox after a crash, on a new link) is stored and delivered once (fails without the idempotency guard of room deliveries).
TEST_F(Federation, ARoomDeliverySentAgainTakesNoEffect) {
  auto bob = ids_on("node-b", 1).at(0);
  ASSERT_TRUE(introduce(node("node-b"), bob, pb::Behavior::KIND_EXTERNAL).ok());
  auto [owner, epoch] = owner_of(bob);
  ASSERT_EQ(owner, "node-b");
  const auto sent_at = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch()).count();
  auto delivery = [&, epoch = epoch](uint64_t seq) {
    pb::PeerRequest r;
    r.set_seq(seq);
    r.set_caller("admin:node-a");
    r.set_shard(shard_of(bob));
    r.set_epoch(epoch);
    auto* m = r.mutable_room_delivery()->mutable_message();
    m->set_id("post-1");
    m->set_from("agent-on-a");
    m->set_to_room(room_on("node-a"));
    m->set_content("once");
    m->set_sent_at(sent_at);
    r.mutable_room_delivery()->add_agents(bob);
    return r;
  };
  // Two links, as two sessions of node-a would open them: the second's
  // request is new to node-b's link, so only the store can tell.
  for (uint64_t session : {1, 2}) {
    raw_link link(node("node-b").channel);
    pb::PeerFrame out;
    out.mutable_hello()->set_node("node-a");
    out.mutable_hello()->set_session(session);
    out.mutable_hello()->set_resume_from(1);
    *out.add_requests() = delivery(1);
    ASSERT_TRUE(link.stream->Write(out));
    pb::PeerFrame in;
    ASSERT_TRUE(link.stream->Read(&in));
    ASSERT_EQ(in.replies_size(), 1);
    EXPECT_TRUE(in.replies(0).error_code().empty()) << in.replies(0).error_message();
    link.stream->WritesDone();
  }
  auto got = inbox(node("node-b"), bob);
  ASSERT_EQ(got.size(), 1u) << "the post once";
  EXPECT_EQ(got[0].id(), "post-1");
}

// Verifies a link that sends requests before its hello is refused, and so is a hello from a node that is not a member.
TEST_F(Federation, ALinkWithoutAMemberHelloIsRefused) {
  {
    raw_link link(node("node-a").channel);
    pb::PeerFrame out;
    out.add_requests()->set_seq(1);
    ASSERT_TRUE(link.stream->Write(out));
    pb::PeerFrame in;
    EXPECT_FALSE(link.stream->Read(&in));
    auto s = link.stream->Finish();
    EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << s.error_message();
  }
  {
    raw_link link(node("node-a").channel);
    pb::PeerFrame out;
    out.mutable_hello()->set_node("node-z");
    out.mutable_hello()->set_session(1);
    ASSERT_TRUE(link.stream->Write(out));
    pb::PeerFrame in;
    EXPECT_FALSE(link.stream->Read(&in));
    auto s = link.stream->Finish();
    EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << s.error_message();
    EXPECT_NE(s.error_message().find("node-z"), std::string::npos);
  }
}

// Nodes with a token key: they link with tokens they mint from it, and the
// Federation service refuses any principal but a node's.
class FederationWithTokens : public Federation {
protected:
  std::vector<std::string> extra_args() override {
    key_.secret = "federation-test-key-0123456789abcdefghijklmnopqrstuvwxyz-ABCDEFGH";
    auto file = dir_ / "token.key";
    std::ofstream(file) << key_.secret;
    return {"--token-key-file", file.string()};
  }
  std::string admin_token() override { return token(principal::admin("test")); }
  std::string token(const principal& who) {
    auth::token_claims c;
    c.who = who;
    c.issuer = "parley";
    c.audience = "parley";
    const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch()).count();
    c.issued_at = now;
    c.expires_at = now + 600;
    auto t = auth::issue_token(key_, c);
    EXPECT_TRUE(t) << to_string(t.error());
    return t ? *t : std::string{};
  }
  auth::token_key key_;
};

// Verifies nodes with a token key still carry calls between them (each presents a token it mints), and that an agent's or an operator's token cannot open a federation link.
TEST_F(FederationWithTokens, OnlyNodesMayLink) {
  auto [alice, bob] = one_id_on_each();
  ASSERT_TRUE(introduce(node("node-b"), alice, pb::Behavior::KIND_SILENT).ok());
  ASSERT_TRUE(introduce(node("node-a"), bob, pb::Behavior::KIND_EXTERNAL).ok());
  pb::SendResponse out;
  auto sent = send(node("node-a"), alice, bob, "m-1", "hello", &out);
  ASSERT_TRUE(sent.ok()) << sent.error_message();
  EXPECT_EQ(inbox(node("node-b"), bob).size(), 1u);
  for (auto who : {principal::agent(bob), principal::operator_("ops")}) {
    raw_link link(node("node-b").channel, token(who));
    pb::PeerFrame hello;
    hello.mutable_hello()->set_node("node-a");
    hello.mutable_hello()->set_session(5);
    (void) link.stream->Write(hello);
    pb::PeerFrame in;
    EXPECT_FALSE(link.stream->Read(&in));
    auto s = link.stream->Finish();
    EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << to_string(who) << ": " << s.error_message();
  }
  raw_link anonymous(node("node-b").channel);
  pb::PeerFrame in;
  EXPECT_FALSE(anonymous.stream->Read(&in));
  EXPECT_EQ(anonymous.stream->Finish().error_code(), grpc::StatusCode::UNAUTHENTICATED);
}


} // namespace
} // namespace parley::cluster_test
