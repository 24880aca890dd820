// parley.v1.Messages over a real server: sending to agents and rooms, the
// codes of bad and refused sends (RESOURCE_EXHAUSTED with its retry hint
// for a full inbox), exactly-once retries, the durable inbox and MarkRead.

#include "api/api_fixture.hpp"

namespace parley::api_test {
namespace {

using grpc::StatusCode;

class MessagesApi : public ApiFixture {
protected:
  void configure_node(node_config& c) override { c.attention.inbox_limit = 3; }
  void configure_server(api::server_options& o) override { o.retry_after_ms = 250; }
};

// Verifies a send to an agent and to a room: DELIVERED, an id picked by the
// node when empty, the sender's id kept when given.
TEST_F(MessagesApi, SendToAgentAndRoom) {
  ASSERT_TRUE(introduce_all({"ada", "bob"}));
  ASSERT_TRUE(is_ok(create_group("ada", "lab")));
  ASSERT_TRUE(is_ok(join("lab", "bob")));
  pb::SendResponse out;
  ASSERT_TRUE(is_ok(send(text_to_agent("ada", "bob", "hi"), &out)));
  EXPECT_EQ(out.status(), pb::MESSAGE_STATUS_DELIVERED);
  EXPECT_FALSE(out.id().empty());
  EXPECT_GT(out.sent_at(), 0);
  ASSERT_TRUE(is_ok(send(text_to_agent("ada", "bob", "again", "my-id-1"), &out)));
  EXPECT_EQ(out.id(), "my-id-1");
  ASSERT_TRUE(is_ok(send(text_to_room("bob", "lab", "to all", "room-msg"), &out)));
  EXPECT_EQ(out.id(), "room-msg");
  EXPECT_NE(out.status(), pb::MESSAGE_STATUS_UNSPECIFIED);

  auto json = text_to_agent("ada", "bob", R"({"k": [1, 2]})");
  json.set_content_type("json");
  EXPECT_TRUE(is_ok(send(json, &out)));
}

// Verifies INVALID_ARGUMENT for each malformed message, naming the field or
// rule.
TEST_F(MessagesApi, MalformedMessagesAreInvalidArgument) {
  ASSERT_TRUE(introduce_all({"ada", "bob"}));
  pb::Message no_to;
  no_to.set_from("ada");
  no_to.set_content("lost");
  EXPECT_TRUE(is_error(send(no_to), StatusCode::INVALID_ARGUMENT, {"message.to"}));

  auto type = text_to_agent("ada", "bob", "x");
  type.set_content_type("xml");
  EXPECT_TRUE(is_error(send(type), StatusCode::INVALID_ARGUMENT, {"message.content_type", "xml"}));

  auto json = text_to_agent("ada", "bob", "not json");
  json.set_content_type("json");
  EXPECT_TRUE(is_error(send(json), StatusCode::INVALID_ARGUMENT, {"JSON"}));

  auto big = text_to_agent("ada", "bob", std::string(64 * 1024 + 1, 'x'));
  EXPECT_TRUE(is_error(send(big), StatusCode::INVALID_ARGUMENT, {"content", "65537"}));
  auto at_limit = text_to_agent("ada", "bob", std::string(64 * 1024, 'x'));
  EXPECT_TRUE(is_ok(send(at_limit)));

  auto deadline = text_to_agent("ada", "bob", "x");
  deadline.set_deadline(-5);
  EXPECT_TRUE(is_error(send(deadline), StatusCode::INVALID_ARGUMENT, {"message.deadline"}));

  EXPECT_TRUE(is_error(send(text_to_agent("ada", "bob", "x", "bad id")),
                       StatusCode::INVALID_ARGUMENT, {"message id"}));
  EXPECT_TRUE(is_error(send(text_to_agent("ada", "b*b", "x")), StatusCode::INVALID_ARGUMENT,
                       {"recipient"}));
  EXPECT_TRUE(is_error(send(text_to_agent("", "bob", "x")), StatusCode::INVALID_ARGUMENT,
                       {"sender"}));
  auto reply = text_to_agent("ada", "bob", "x");
  reply.set_reply_to("no good");
  EXPECT_TRUE(is_error(send(reply), StatusCode::INVALID_ARGUMENT, {"reply_to"}));
}

// Verifies that a request above the server's size limit is refused by gRPC
// before any handler runs.
TEST_F(MessagesApi, OversizeRequestIsRefusedByTheTransport) {
  ASSERT_TRUE(introduce_all({"ada", "bob"}));
  auto huge = text_to_agent("ada", "bob", std::string(2 << 20, 'x'));
  EXPECT_TRUE(is_error(send(huge), StatusCode::RESOURCE_EXHAUSTED));
}

// Verifies NOT_FOUND for unknown senders, recipients and rooms, and
// FAILED_PRECONDITION for a room post without membership rights.
TEST_F(MessagesApi, UnknownPartiesAreNotFound) {
  ASSERT_TRUE(introduce_all({"ada", "bob"}));
  ASSERT_TRUE(is_ok(create_group("ada", "lab")));
  EXPECT_TRUE(is_error(send(text_to_agent("ghost", "bob", "x")), StatusCode::NOT_FOUND,
                       {"ghost"}));
  EXPECT_TRUE(is_error(send(text_to_agent("ada", "ghost", "x")), StatusCode::NOT_FOUND,
                       {"ghost"}));
  EXPECT_TRUE(is_error(send(text_to_room("ada", "nowhere", "x")), StatusCode::NOT_FOUND,
                       {"nowhere"}));
  EXPECT_TRUE(is_error(send(text_to_room("bob", "lab", "x")), StatusCode::PERMISSION_DENIED,
                       {"not a member"}));
}

// Verifies RESOURCE_EXHAUSTED with the retry-after-ms trailer when an
// external agent without a link has a full inbox; the refused send took no
// effect and goes through under the same id once there is room.
TEST_F(MessagesApi, FullInboxIsResourceExhaustedWithRetryHint) {
  ASSERT_TRUE(introduce_all({"ada"}));
  ASSERT_TRUE(is_ok(introduce("ext", pb::Behavior::KIND_EXTERNAL)));
  ASSERT_TRUE(send_all("ada", "ext", {"1", "2", "3"}));

  pb::SendRequest req;
  *req.mutable_message() = text_to_agent("ada", "ext", "4", "fourth");
  pb::SendResponse out;
  auto ctx = as_admin();
  auto s = messages->Send(ctx.get(), req, &out);
  ASSERT_TRUE(is_error(s, StatusCode::RESOURCE_EXHAUSTED, {"inbox is full"}));
  auto& trailers = ctx->GetServerTrailingMetadata();
  auto hint = trailers.find("retry-after-ms");
  ASSERT_NE(hint, trailers.end()) << "no retry-after-ms trailer";
  EXPECT_EQ(std::string(hint->second.data(), hint->second.size()), "250");

  // Other errors carry no hint.
  auto other = as_admin();
  *req.mutable_message() = text_to_agent("ada", "ghost", "x");
  ASSERT_TRUE(is_error(messages->Send(other.get(), req, &out), StatusCode::NOT_FOUND));
  EXPECT_EQ(other->GetServerTrailingMetadata().count("retry-after-ms"), 0u);

  // A link takes the three (credit 3) and acknowledges them: room again.
  auto l = open_link("ext", 3);
  ASSERT_TRUE(l);
  auto got = l->deliveries(3);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(contents(got), (std::vector<std::string>{"1", "2", "3"}));
  ASSERT_TRUE(l->ack(delivery_numbers(got)));
  ASSERT_TRUE(l->credit(1));
  ASSERT_TRUE(test_support::eventually(
    [&] { return send(text_to_agent("ada", "ext", "4", "fourth")).ok(); }));
  auto fourth = l->deliveries(1);
  ASSERT_EQ(fourth.size(), 1u);
  EXPECT_EQ(fourth[0].id(), "fourth");
}

// Verifies that the durable inbox and history need a store.
TEST_F(MessagesApi, InboxOnAMemoryNodeIsFailedPrecondition) {
  ASSERT_TRUE(is_ok(introduce("ext", pb::Behavior::KIND_EXTERNAL)));
  pb::InboxRequest req;
  req.set_agent("ext");
  pb::InboxResponse out;
  EXPECT_TRUE(is_error(messages->Inbox(as_admin().get(), req, &out),
                       StatusCode::FAILED_PRECONDITION, {"durable"}));
}

// Verifies MarkRead's refusals: agents that are not external, unknown ones.
TEST_F(MessagesApi, MarkReadNeedsAnExternalAgent) {
  ASSERT_TRUE(introduce_all({"ada"}));
  pb::MarkReadRequest req;
  req.set_agent("ada");
  req.add_deliveries(1);
  pb::MarkReadResponse out;
  EXPECT_TRUE(is_error(messages->MarkRead(as_admin().get(), req, &out),
                       StatusCode::FAILED_PRECONDITION, {"not external"}));
  req.set_agent("ghost");
  EXPECT_TRUE(is_error(messages->MarkRead(as_admin().get(), req, &out), StatusCode::NOT_FOUND));
}

// -- durable node -------------------------------------------------------------------

class DurableMessagesApi : public DurableApiFixture {};

// Verifies exactly-once sends: a retry under the same (from, id) returns
// the first result and delivers nothing again.
TEST_F(DurableMessagesApi, RetryWithTheSameIdDeliversOnce) {
  ASSERT_TRUE(introduce_all({"ada"}));
  ASSERT_TRUE(is_ok(introduce("ext", pb::Behavior::KIND_EXTERNAL)));
  pb::SendResponse first;
  ASSERT_TRUE(is_ok(send(text_to_agent("ada", "ext", "once", "m-1"), &first)));
  pb::SendResponse again;
  ASSERT_TRUE(is_ok(send(text_to_agent("ada", "ext", "once", "m-1"), &again)));
  EXPECT_EQ(again.id(), "m-1");
  EXPECT_EQ(again.sent_at(), first.sent_at());
  EXPECT_EQ(again.status(), first.status());
  auto inbox = inbox_of("ext");
  ASSERT_EQ(inbox.size(), 1u);
  EXPECT_EQ(inbox[0].id(), "m-1");
  EXPECT_EQ(inbox[0].from(), "ada");
  EXPECT_EQ(inbox[0].content(), "once");
  EXPECT_NE(inbox[0].delivery(), 0u);
  // Another sender's message under the same id is another message.
  ASSERT_TRUE(introduce_all({"bob"}));
  ASSERT_TRUE(is_ok(send(text_to_agent("bob", "ext", "mine", "m-1"))));
  EXPECT_EQ(inbox_of("ext").size(), 2u);
}

// Verifies Inbox: oldest first, the limit (0 = 100, at most 1000), unknown
// agents.
TEST_F(DurableMessagesApi, InboxListsWaitingMessagesOldestFirst) {
  ASSERT_TRUE(introduce_all({"ada"}));
  ASSERT_TRUE(is_ok(introduce("ext", pb::Behavior::KIND_EXTERNAL)));
  ASSERT_TRUE(send_all("ada", "ext", {"a", "b", "c"}));
  auto all = inbox_of("ext");
  EXPECT_EQ(contents(all), (std::vector<std::string>{"a", "b", "c"}));
  for (size_t i = 1; i < all.size(); ++i)
    EXPECT_LT(all[i - 1].delivery(), all[i].delivery());

  pb::InboxRequest req;
  req.set_agent("ext");
  req.set_limit(2);
  pb::InboxResponse out;
  ASSERT_TRUE(is_ok(messages->Inbox(as_admin().get(), req, &out)));
  EXPECT_EQ(out.messages_size(), 2);
  req.set_limit(1001);
  EXPECT_TRUE(is_error(messages->Inbox(as_admin().get(), req, &out), StatusCode::INVALID_ARGUMENT,
                       {"1001"}));
  req.set_limit(0);
  req.set_agent("ghost");
  EXPECT_TRUE(is_error(messages->Inbox(as_admin().get(), req, &out), StatusCode::NOT_FOUND));
}

// Verifies MarkRead: deliveries a link took and left unacknowledged leave
// the inbox, never come to the next link, and the sender's receipt moves
// to read.
TEST_F(DurableMessagesApi, MarkReadAcknowledgesWhatALinkTook) {
  ASSERT_TRUE(introduce_all({"ada"}));
  ASSERT_TRUE(is_ok(introduce("ext", pb::Behavior::KIND_EXTERNAL)));
  auto with_receipt = text_to_agent("ada", "ext", "r1", "r1");
  with_receipt.set_receipt(true);
  ASSERT_TRUE(is_ok(send(with_receipt)));
  ASSERT_TRUE(is_ok(send(text_to_agent("ada", "ext", "r2", "r2"))));
  std::vector<pb::Message> got;
  {
    auto l = open_link("ext", 8);
    ASSERT_TRUE(l);
    got = l->deliveries(2);
    ASSERT_EQ(got.size(), 2u);
    auto end = l->close();
    ASSERT_TRUE(end);
    EXPECT_TRUE(is_ok(*end));
  }
  auto receipt = [&] {
    auto s = n().status(principal::admin(), "ada", "r1");
    return s ? *s : message_status::sent;
  };
  pb::MarkReadRequest req;
  req.set_agent("ext");
  req.add_deliveries(got[0].delivery());
  pb::MarkReadResponse out;
  ASSERT_TRUE(is_ok(messages->MarkRead(as_admin().get(), req, &out)));
  // Acknowledging twice is harmless.
  ASSERT_TRUE(is_ok(messages->MarkRead(as_admin().get(), req, &out)));
  EXPECT_TRUE(inbox_size_becomes("ext", 1));
  EXPECT_TRUE(test_support::eventually([&] { return receipt() == message_status::read; }));

  auto l = open_link("ext", 8);
  ASSERT_TRUE(l);
  auto again = l->deliveries(1);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].id(), "r2");
  EXPECT_EQ(again[0].delivery(), got[1].delivery());
}

// Verifies MarkRead of deliveries no link has taken yet (numbers read with
// Messages.Inbox): they leave the inbox and never come to a link.
// Failed as of commit bb47fbd (MarkRead ignored deliveries the link had not
// taken); passes with the node change in progress alongside.
TEST_F(DurableMessagesApi, MarkReadOfWaitingMessagesRemovesThem) {
  ASSERT_TRUE(introduce_all({"ada"}));
  ASSERT_TRUE(is_ok(introduce("ext", pb::Behavior::KIND_EXTERNAL)));
  ASSERT_TRUE(send_all("ada", "ext", {"w1", "w2", "w3"}));
  auto waiting = inbox_of("ext");
  ASSERT_EQ(waiting.size(), 3u);
  pb::MarkReadRequest req;
  req.set_agent("ext");
  req.add_deliveries(waiting[0].delivery());
  req.add_deliveries(waiting[2].delivery());
  pb::MarkReadResponse out;
  ASSERT_TRUE(is_ok(messages->MarkRead(as_admin().get(), req, &out)));
  EXPECT_TRUE(inbox_size_becomes("ext", 1));

  auto l = open_link("ext", 8);
  ASSERT_TRUE(l);
  auto got = l->deliveries(1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].content(), "w2");
  // Barrier: an invitation after the messages comes next.
  ASSERT_TRUE(is_ok(create_group("ada", "barrier")));
  ASSERT_TRUE(is_ok(invite("barrier", "ada", "ext")));
  auto next = l->next();
  ASSERT_TRUE(next);
  EXPECT_TRUE(next->has_invited()) << "a read message came to the link: " << next->ShortDebugString();
}

class ReadEventsMessagesApi : public DurableApiFixture {
protected:
  void configure_node(node_config& c) override { c.record_message_events = true; }
};

// Verifies that a message handed to a link is read only once acknowledged:
// until then the sender's receipt stays DELIVERED and no message_read event
// is published; the acknowledgement publishes exactly one.
TEST_F(ReadEventsMessagesApi, ReceiptMovesToReadOnlyOnAcknowledgement) {
  ASSERT_TRUE(introduce_all({"ada"}));
  ASSERT_TRUE(is_ok(introduce("ext", pb::Behavior::KIND_EXTERNAL)));
  auto with_receipt = text_to_agent("ada", "ext", "r1", "r1");
  with_receipt.set_receipt(true);
  ASSERT_TRUE(is_ok(send(with_receipt)));
  auto l = open_link("ext", 8);
  ASSERT_TRUE(l);
  auto got = l->deliveries(1);
  ASSERT_EQ(got.size(), 1u);
  auto receipt = [&] {
    auto s = n().status(principal::admin(), "ada", "r1");
    return s ? *s : message_status::sent;
  };
  EXPECT_EQ(receipt(), message_status::delivered) << "read before the link acknowledged it";

  ASSERT_TRUE(l->ack({got[0].delivery()}));
  EXPECT_TRUE(test_support::eventually([&] { return receipt() == message_status::read; }));
  ASSERT_TRUE(is_ok(create_group("ada", "end")));
  pb::SubscribeRequest sub;
  sub.set_from_offset(1);
  sub.add_topics("message");
  sub.add_topics("room");
  auto s = subscribe(sub);
  int reads = 0;
  for (;;) {
    auto e = s->next();
    ASSERT_TRUE(e) << "the event stream stalled";
    if (e->kind() == "room_created")
      break;
    if (e->kind() == "message_read") {
      ++reads;
      EXPECT_EQ(e->detail(), "ada/r1");
    }
  }
  EXPECT_EQ(reads, 1) << "message_read events for one acknowledged message";
}


} // namespace
} // namespace parley::api_test
