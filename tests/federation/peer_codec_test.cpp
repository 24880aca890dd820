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

// Verifies a pair's history read keeps its query, and that the read of the half a node keeps (flag, for a pair
// split over two nodes) stays told apart from a read of the whole pair.
TEST(PeerCodec, HistoryReadsKeepWhichHalfTheyAsk) {
  for (bool kept_half : {false, true}) {
    remote_request r;
    r.what = remote_request::kind::read_history;
    r.caller = principal::agent("alice");
    r.agents = {"alice", "bob"};
    r.flag = kept_half;
    r.query.direction = history_query::order::oldest_first;
    r.query.since = 5;
    r.query.limit = 3;
    r.query.cursor = "abcd";
    pb::PeerRequest wire;
    to_pb(r, wire);
    EXPECT_EQ(wire.has_kept_history(), kept_half);
    auto back = from_pb(wire);
    ASSERT_TRUE(back) << to_string(back.error());
    EXPECT_EQ(back->what, remote_request::kind::read_history);
    EXPECT_EQ(back->flag, kept_half);
    EXPECT_EQ(back->agents, (std::vector<agent_id>{"alice", "bob"}));
    EXPECT_EQ(back->query.direction, history_query::order::oldest_first);
    EXPECT_EQ(back->query.since, 5);
    EXPECT_EQ(back->query.limit, 3u);
    EXPECT_EQ(back->query.cursor, "abcd");
  }
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

// Verifies room calls keep what each op uses: a group room's spec with its rules and access, an invitation's role,
// a notice's turn, a post's outcome flag, a delivery's members.
TEST(PeerCodec, RoomCallsKeepTheirFields) {
  remote_request create;
  create.what = remote_request::kind::room_call;
  create.op = remote_request::room_op::create_group;
  create.caller = principal::agent("alice");
  create.room = "hall";
  create.by = "alice";
  create.spec.id = "hall";
  create.spec.topic = "plans";
  create.spec.rules.policy = speaker_policy::round_robin;
  create.spec.rules.max_rounds = 3;
  create.spec.access = room_access::invite_only;
  pb::PeerRequest wire;
  to_pb(create, wire);
  auto back = from_pb(wire);
  ASSERT_TRUE(back) << to_string(back.error());
  EXPECT_EQ(back->what, remote_request::kind::room_call);
  EXPECT_EQ(back->op, remote_request::room_op::create_group);
  EXPECT_EQ(back->room, "hall");
  EXPECT_EQ(back->by, "alice");
  EXPECT_EQ(back->spec.topic, "plans");
  EXPECT_EQ(back->spec.rules.policy, speaker_policy::round_robin);
  EXPECT_EQ(back->spec.rules.max_rounds, 3u);
  EXPECT_EQ(back->spec.access, room_access::invite_only);
  EXPECT_EQ(target_of(*back), "hall");

  remote_request notice;
  notice.what = remote_request::kind::room_call;
  notice.op = remote_request::room_op::invited;
  notice.caller = principal::admin("node-a");
  notice.room = "hall";
  notice.id = "bob";
  notice.by = "alice";
  notice.role = room_role::admin;
  pb::PeerRequest wire2;
  to_pb(notice, wire2);
  back = from_pb(wire2);
  ASSERT_TRUE(back) << to_string(back.error());
  EXPECT_EQ(back->op, remote_request::room_op::invited);
  EXPECT_EQ(back->role, room_role::admin);
  EXPECT_EQ(back->by, "alice");
  EXPECT_EQ(target_of(*back), "bob") << "a notice goes to the member's node";

  remote_request post = direct_message();
  post.what = remote_request::kind::room_post;
  post.msg.to = address::room("hall");
  post.flag = true;
  pb::PeerRequest wire3;
  to_pb(post, wire3);
  back = from_pb(wire3);
  ASSERT_TRUE(back) << to_string(back.error());
  EXPECT_TRUE(back->flag);
  EXPECT_EQ(back->msg.hops, 7u);
  EXPECT_EQ(target_of(*back), "hall");

  remote_request delivery = post;
  delivery.what = remote_request::kind::room_delivery;
  delivery.agents = {"bob", "carol"};
  pb::PeerRequest wire4;
  to_pb(delivery, wire4);
  back = from_pb(wire4);
  ASSERT_TRUE(back) << to_string(back.error());
  EXPECT_EQ(back->agents, (std::vector<agent_id>{"bob", "carol"}));
  EXPECT_EQ(target_of(*back), "bob");

  pb::PeerRequest bad;
  bad.set_caller("admin:node-a");
  bad.mutable_room_call()->set_op(static_cast<pb::RoomOp>(99));
  auto refused = from_pb(bad);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, errc::invalid_argument);
}

// Verifies a reply keeps a room (a direct room's pair from its members), a turn state, the members a node does not
// serve, and the fields of a manifest only a node sets (its rooms above all).
TEST(PeerCodec, RoomRepliesAndManifestsKeepWhatTheNodeSet) {
  remote_reply ok;
  ok.found_room.id = "dm-1";
  ok.found_room.kind = room_kind::direct;
  ok.found_room.members = {{"zed", room_role::member, 5}, {"amy", room_role::member, 6}};
  ok.found_room.open = false;
  ok.turns.current = turn_grant{"amy", 4, 10, 20, 2};
  ok.turns.waiting = {{"zed", 0}};
  ok.turns.turns_granted = 4;
  ok.agents = {"gone"};
  ok.man.id = "amy";
  ok.man.rooms = {"dm-1", "hall"};
  ok.man.focus = "dm-1";
  ok.man.last_updated = 77;
  pb::PeerReply wire;
  to_pb(expected<remote_reply>{ok}, wire);
  auto back = from_pb(wire);
  ASSERT_TRUE(back) << to_string(back.error());
  EXPECT_EQ(back->found_room.id, "dm-1");
  EXPECT_EQ(back->found_room.kind, room_kind::direct);
  EXPECT_EQ(back->found_room.pair, (std::vector<agent_id>{"amy", "zed"}));
  EXPECT_FALSE(back->found_room.open);
  ASSERT_TRUE(back->turns.current);
  EXPECT_EQ(back->turns.current->speaker, "amy");
  EXPECT_EQ(back->turns.current->turn, 4u);
  ASSERT_EQ(back->turns.waiting.size(), 1u);
  EXPECT_EQ(back->turns.waiting[0].who, "zed");
  EXPECT_EQ(back->agents, (std::vector<agent_id>{"gone"}));
  EXPECT_EQ(back->man.rooms, (std::vector<room_id>{"dm-1", "hall"}));
  EXPECT_EQ(back->man.focus, "dm-1");
  EXPECT_EQ(back->man.last_updated, 77);
}

// Verifies an events poll keeps its start, size, wait and filters, an
// unknown topic mask is refused, and its reply keeps the events (with the
// node that holds them) and the next offset.
TEST(PeerCodec, AnEventsPollKeepsItsFieldsAndItsEvents) {
  remote_request r;
  r.what = remote_request::kind::events_since;
  r.caller = principal::agent("alice");
  r.offset = 0;
  r.flag = true;
  r.limit = 256;
  r.wait_ms = 1000;
  r.topics = mask_of(topic::message) | mask_of(topic::room);
  r.id = "alice";
  r.room = "lounge";
  pb::PeerRequest wire;
  to_pb(r, wire);
  auto back = from_pb(wire);
  ASSERT_TRUE(back) << to_string(back.error());
  EXPECT_EQ(back->what, remote_request::kind::events_since);
  EXPECT_EQ(back->caller, r.caller);
  EXPECT_TRUE(back->flag);
  EXPECT_EQ(back->limit, 256u);
  EXPECT_EQ(back->wait_ms, 1000u);
  EXPECT_EQ(back->topics, r.topics);
  EXPECT_EQ(back->id, "alice");
  EXPECT_EQ(back->room, "lounge");

  auto unknown = wire;
  unknown.mutable_events()->set_topics(1u << topic_count);
  auto refused = from_pb(unknown);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, errc::invalid_argument);
  auto all = wire;
  all.mutable_events()->set_topics(0);
  EXPECT_EQ(from_pb(all)->topics, all_topics);

  remote_reply ok;
  ok.events.push_back(event{41, event_kind::message_delivered, 7, "alice", "", "bob/m-1", "node-c"});
  ok.events.push_back(event{43, event_kind::member_joined, 8, "alice", "lounge", "member", ""});
  ok.next_offset = 45;
  pb::PeerReply reply;
  to_pb(expected<remote_reply>{ok}, reply);
  auto got = from_pb(reply);
  ASSERT_TRUE(got) << to_string(got.error());
  EXPECT_EQ(got->events, ok.events);
  EXPECT_EQ(got->next_offset, 45u);
  reply.mutable_events(0)->set_kind("gossip");
  EXPECT_FALSE(from_pb(reply));
}

// Verifies an erasure, a tombstone read and a scrub cross as themselves, and a reply keeps the erasure's record.
TEST(PeerCodec, ErasuresKeepTheirKindAndRecord) {
  for (auto [what, flag] : {std::pair{remote_request::kind::erase, false}, std::pair{remote_request::kind::erase, true},
                            std::pair{remote_request::kind::scrub_agent, false}}) {
    remote_request r;
    r.what = what;
    r.flag = flag;
    r.caller = principal::admin("ops");
    r.id = "alice";
    pb::PeerRequest wire;
    to_pb(r, wire);
    auto back = from_pb(wire);
    ASSERT_TRUE(back) << to_string(back.error());
    EXPECT_EQ(back->what, what);
    EXPECT_EQ(back->flag, flag);
    EXPECT_EQ(back->id, "alice");
  }
  remote_reply ok;
  ok.erased = erasure{"alice", 77, "admin:ops", {"bio"}, 3, 2, 5};
  pb::PeerReply wire;
  to_pb(expected<remote_reply>{ok}, wire);
  auto got = from_pb(wire);
  ASSERT_TRUE(got) << to_string(got.error());
  ASSERT_TRUE(got->erased);
  EXPECT_EQ(*got->erased, *ok.erased);
  pb::PeerReply none;
  to_pb(expected<remote_reply>{remote_reply{}}, none);
  EXPECT_FALSE(from_pb(none)->erased);
}

} // namespace
} // namespace parley::federation
