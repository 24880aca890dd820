// Requests and replies between nodes survive the wire with every field a
// node sets (the hop count above all), and a malformed request from a peer
// is refused with a sentence naming what is wrong.

#include <gtest/gtest.h>

#include "federation/peer_codec.hpp"

namespace parley::federation {
namespace {

remote_request direct_message() {
  remote_request r;
  r.what = remote_request::kind::deliver_direct;
  r.caller = principal::admin("node-a");
  r.shard = 17;
  r.epoch = 42;
  r.msg.id = "m-1";
  r.msg.from = "alice";
  r.msg.to = address::agent("bob");
  r.msg.content = "hello";
  r.msg.sent_at = 1234;
  r.msg.hops = 7;
  r.msg.reply_to = "m-0";
  return r;
}

// Verifies a direct message keeps its hop count, time, caller, shard and epoch across the wire.
TEST(PeerCodec, ADirectMessageKeepsWhatTheNodeSet) {
  pb::PeerRequest wire;
  to_pb(direct_message(), wire);
  auto back = from_pb(wire);
  ASSERT_TRUE(back) << to_string(back.error());
  EXPECT_EQ(back->what, remote_request::kind::deliver_direct);
  EXPECT_EQ(back->caller, principal::admin("node-a"));
  EXPECT_EQ(back->shard, 17);
  EXPECT_EQ(back->epoch, 42u);
  EXPECT_EQ(back->msg.hops, 7u);
  EXPECT_EQ(back->msg.sent_at, 1234);
  EXPECT_EQ(back->msg.reply_to, "m-0");
  EXPECT_EQ(back->msg.to, address::agent("bob"));
}

// Verifies an introduction keeps the manifest and the behaviour.
TEST(PeerCodec, AnIntroductionKeepsItsBehaviour) {
  remote_request r;
  r.what = remote_request::kind::introduce;
  r.caller = principal::operator_("ops");
  r.man.id = "carol";
  r.man.display_name = "Carol";
  r.behavior.k = behavior_spec::kind::scripted;
  r.behavior.script = {{"ping", "pong"}};
  pb::PeerRequest wire;
  to_pb(r, wire);
  auto back = from_pb(wire);
  ASSERT_TRUE(back) << to_string(back.error());
  EXPECT_EQ(back->what, remote_request::kind::introduce);
  EXPECT_EQ(back->man.id, "carol");
  EXPECT_EQ(back->man.display_name, "Carol");
  EXPECT_EQ(back->behavior.k, behavior_spec::kind::scripted);
  EXPECT_EQ(back->behavior.script.at("ping"), "pong");
}

// Verifies an inbox read keeps its agent and limit, and its answer the entries with their delivery numbers.
TEST(PeerCodec, AnInboxReadKeepsItsEntries) {
  remote_request r;
  r.what = remote_request::kind::read_inbox;
  r.caller = principal::agent("bob");
  r.id = "bob";
  r.limit = 25;
  pb::PeerRequest wire;
  to_pb(r, wire);
  auto back = from_pb(wire);
  ASSERT_TRUE(back) << to_string(back.error());
  EXPECT_EQ(back->what, remote_request::kind::read_inbox);
  EXPECT_EQ(back->id, "bob");
  EXPECT_EQ(back->limit, 25u);
  EXPECT_EQ(back->caller, principal::agent("bob"));

  remote_reply out;
  out.messages.push_back(direct_message().msg);
  out.messages.back().delivery = 77;
  pb::PeerReply reply;
  to_pb(expected<remote_reply>{out}, reply);
  auto got = from_pb(reply);
  ASSERT_TRUE(got) << to_string(got.error());
  ASSERT_EQ(got->messages.size(), 1u);
  EXPECT_EQ(got->messages[0].delivery, 77u);
  EXPECT_EQ(got->messages[0].content, "hello");
}

// Verifies a request with a bad caller, a shard out of range or no body is refused as invalid_argument, naming the problem.
TEST(PeerCodec, MalformedRequestsAreRefused) {
  pb::PeerRequest wire;
  to_pb(direct_message(), wire);
  wire.set_seq(9);
  auto bad_caller = wire;
  bad_caller.set_caller("wizard:merlin");
  auto r = from_pb(bad_caller);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, errc::invalid_argument);
  EXPECT_NE(r.error().message.find("request 9: caller"), std::string::npos) << r.error().message;

  auto bad_shard = wire;
  bad_shard.set_shard(shard_count);
  r = from_pb(bad_shard);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("shard 1024 is out of range"), std::string::npos) << r.error().message;

  auto no_body = wire;
  no_body.clear_deliver_direct();
  r = from_pb(no_body);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("has no body"), std::string::npos) << r.error().message;

  auto no_recipient = wire;
  no_recipient.mutable_deliver_direct()->clear_to_agent();
  r = from_pb(no_recipient);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, errc::invalid_argument);
}

// Verifies a refusal crosses as the same kind and sentence, and a reply keeps its status and message.
TEST(PeerCodec, RepliesKeepTheirOutcome) {
  pb::PeerReply wire;
  to_pb(expected<remote_reply>{unexpected{errc::overloaded, "inbox of 'bob' is full"}}, wire);
  auto back = from_pb(wire);
  ASSERT_FALSE(back);
  EXPECT_EQ(back.error(), (error{errc::overloaded, "inbox of 'bob' is full"}));

  remote_reply ok;
  ok.status = message_status::delivered;
  ok.sent_at = 99;
  ok.msg = direct_message().msg;
  pb::PeerReply wire2;
  to_pb(expected<remote_reply>{ok}, wire2);
  auto back2 = from_pb(wire2);
  ASSERT_TRUE(back2) << to_string(back2.error());
  EXPECT_EQ(back2->status, message_status::delivered);
  EXPECT_EQ(back2->sent_at, 99);
  EXPECT_EQ(back2->msg.id, "m-1");
  EXPECT_EQ(back2->msg.hops, 7u);
}

} // namespace
} // namespace parley::federation
