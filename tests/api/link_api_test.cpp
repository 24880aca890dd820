// parley.v1.AgentLink.Link over a real server: an external agent's
// deliveries in order within the credit window, acknowledgements, resuming
// after a client disconnect and after a node restart (nothing lost, nothing
// twice), messages that waited for the link, sends through the link with
// one result each, turn grants and invitations, and the refusals.
//
// "Nothing more came" is checked with a barrier instead of a sleep: an
// invitation sent after the messages reaches the agent's behaviour after
// them, so a delivery that should not come would arrive before it.

#include "api/api_fixture.hpp"

namespace parley::api_test {
namespace {

using grpc::StatusCode;

std::vector<std::string> texts(int from, int to) {
  std::vector<std::string> out;
  for (int i = from; i < to; ++i)
    out.push_back("m" + std::to_string(i));
  return out;
}

class LinkApi : public DurableApiFixture {
protected:
  void SetUp() override {
    DurableApiFixture::SetUp();
    ASSERT_TRUE(introduce_all({"ada", "owner"}));
    ASSERT_TRUE(is_ok(introduce("ext", pb::Behavior::KIND_EXTERNAL)));
  }

  /// Invites `agent` into a fresh room and expects the invitation to be
  /// the link's next item: nothing else came before it.
  ::testing::AssertionResult nothing_else_came(link_client& l, const std::string& agent = "ext") {
    const auto room = "barrier-" + std::to_string(++barriers_);
    if (auto r = is_ok(create_group("owner", room)); !r)
      return r;
    if (auto r = is_ok(invite(room, "owner", agent)); !r)
      return r;
    auto next = l.next();
    if (!next)
      return ::testing::AssertionFailure() << "the invitation to " << room << " did not come";
    if (!next->has_invited() || next->invited().room() != room)
      return ::testing::AssertionFailure() << "expected the invitation to " << room << ", got "
                                           << next->ShortDebugString();
    return ::testing::AssertionSuccess();
  }

  int barriers_ = 0;
};

// Verifies the credit window: a link with credit 2 gets the first two of
// five messages, in order, numbered; the rest come only after more credit;
// acknowledged messages leave the durable inbox.
TEST_F(LinkApi, DeliversInOrderWithinTheCreditWindow) {
  pb::LinkReady ready;
  auto l = open_link("ext", 2, &ready);
  ASSERT_TRUE(l);
  EXPECT_EQ(ready.agent(), "ext");
  ASSERT_TRUE(send_all("ada", "ext", texts(0, 5)));

  auto first = l->deliveries(2);
  ASSERT_EQ(first.size(), 2u);
  EXPECT_EQ(contents(first), texts(0, 2));
  for (auto& m : first) {
    EXPECT_EQ(m.from(), "ada");
    EXPECT_EQ(m.to_agent(), "ext");
    EXPECT_FALSE(m.id().empty());
    EXPECT_NE(m.delivery(), 0u);
    EXPECT_EQ(m.status(), pb::MESSAGE_STATUS_DELIVERED);
  }
  EXPECT_LT(first[0].delivery(), first[1].delivery());
  EXPECT_TRUE(nothing_else_came(*l)) << "deliveries beyond the credit window";
  EXPECT_EQ(inbox_of("ext").size(), 5u); // two handed out, three waiting

  ASSERT_TRUE(l->credit(3));
  auto rest = l->deliveries(3);
  ASSERT_EQ(rest.size(), 3u);
  EXPECT_EQ(contents(rest), texts(2, 5));
  EXPECT_LT(first[1].delivery(), rest[0].delivery());
  EXPECT_LT(rest[0].delivery(), rest[1].delivery());
  EXPECT_LT(rest[1].delivery(), rest[2].delivery());

  ASSERT_TRUE(l->ack(delivery_numbers(first)));
  EXPECT_TRUE(inbox_size_becomes("ext", 3));
  EXPECT_EQ(contents(inbox_of("ext")), texts(2, 5));
  ASSERT_TRUE(l->ack(delivery_numbers(rest)));
  EXPECT_TRUE(inbox_size_becomes("ext", 0));
  EXPECT_TRUE(nothing_else_came(*l));

  auto end = l->close();
  ASSERT_TRUE(end);
  EXPECT_TRUE(is_ok(*end));
}

// Verifies resuming after a disconnect: the unacknowledged deliveries come
// again first (same numbers, same order), then what arrived meanwhile; the
// acknowledged ones never again.
TEST_F(LinkApi, UnackedComeAgainFirstAfterADisconnect) {
  std::vector<pb::Message> got;
  {
    auto l = open_link("ext", 10);
    ASSERT_TRUE(l);
    ASSERT_TRUE(send_all("ada", "ext", texts(0, 4)));
    got = l->deliveries(4);
    ASSERT_EQ(got.size(), 4u);
    ASSERT_TRUE(l->ack({got[0].delivery(), got[1].delivery()}));
    ASSERT_TRUE(inbox_size_becomes("ext", 2)); // the acks were carried out
    l->disconnect();
  }
  ASSERT_TRUE(send_all("ada", "ext", {"m4"}));

  auto l = open_link("ext", 10);
  ASSERT_TRUE(l);
  auto again = l->deliveries(3);
  ASSERT_EQ(again.size(), 3u);
  EXPECT_EQ(contents(again), texts(2, 5));
  EXPECT_EQ(again[0].delivery(), got[2].delivery());
  EXPECT_EQ(again[1].delivery(), got[3].delivery());
  EXPECT_TRUE(nothing_else_came(*l)) << "an acknowledged delivery came again";

  // A second disconnect, everything acknowledged first: nothing comes.
  ASSERT_TRUE(l->ack(delivery_numbers(again)));
  ASSERT_TRUE(inbox_size_becomes("ext", 0));
  l->disconnect();
  l = open_link("ext", 10);
  ASSERT_TRUE(l);
  EXPECT_TRUE(nothing_else_came(*l));
}

// Verifies a restart of the durable node with a link open: the new link
// gets the unacknowledged and the never-taken messages, each once, in
// order, and not the acknowledged one.
TEST_F(LinkApi, NodeRestartRedeliversUnackedAndNeverTakenOnce) {
  std::vector<pb::Message> got;
  {
    auto l = open_link("ext", 3);
    ASSERT_TRUE(l);
    ASSERT_TRUE(send_all("ada", "ext", texts(0, 5)));
    got = l->deliveries(3);
    ASSERT_EQ(got.size(), 3u);
    ASSERT_TRUE(l->ack({got[0].delivery()}));
    ASSERT_TRUE(inbox_size_becomes("ext", 4));
    restart(); // ends the link from the server side
    auto end = l->wait_end();
    ASSERT_TRUE(end) << "the restart did not end the link";
    EXPECT_FALSE(end->ok());
  }
  EXPECT_EQ(contents(inbox_of("ext")), texts(1, 5));

  auto l = open_link("ext", 10);
  ASSERT_TRUE(l);
  auto again = l->deliveries(4);
  ASSERT_EQ(again.size(), 4u);
  EXPECT_EQ(contents(again), texts(1, 5));
  EXPECT_EQ(again[0].delivery(), got[1].delivery());
  EXPECT_TRUE(nothing_else_came(*l)) << "a delivery came twice after the restart";
}

// Verifies that an acknowledgement the node has taken (the link closed
// cleanly after it) survives an immediate graceful restart.
TEST_F(LinkApi, AckBeforeAGracefulRestartIsKept) {
  ASSERT_TRUE(send_all("ada", "ext", texts(0, 3)));
  {
    auto l = open_link("ext", 10);
    ASSERT_TRUE(l);
    auto got = l->deliveries(3);
    ASSERT_EQ(got.size(), 3u);
    ASSERT_TRUE(l->ack({got[0].delivery(), got[1].delivery()}));
    // The server reads the ack before it sees the end of the stream.
    auto end = l->close();
    ASSERT_TRUE(end);
    EXPECT_TRUE(is_ok(*end));
  }
  restart();
  auto l = open_link("ext", 10);
  ASSERT_TRUE(l);
  auto again = l->deliveries(1);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].content(), "m2");
  EXPECT_TRUE(nothing_else_came(*l)) << "an acknowledged delivery came again after the restart";
}

// Verifies that messages sent while no link was ever open wait in the
// inbox and arrive, in order, when a link opens.
TEST_F(LinkApi, MessagesSentWithoutALinkWaitForIt) {
  ASSERT_TRUE(send_all("ada", "ext", texts(0, 3)));
  EXPECT_EQ(contents(inbox_of("ext")), texts(0, 3));
  auto l = open_link("ext", 0); // 0 = the default window (64)
  ASSERT_TRUE(l);
  auto got = l->deliveries(3);
  EXPECT_EQ(contents(got), texts(0, 3));
  EXPECT_TRUE(nothing_else_came(*l));
}

// Verifies LinkReady.pending: "deliveries waiting in the durable inbox when
// the link opened", here one handed out before and not acknowledged plus
// two never taken.
//
// Failed as of commit bb47fbd, whose node::open_link counted only the
// unacknowledged deliveries of an earlier link (1 here, 0 after a node
// restart); passes with the node change in progress alongside.
TEST_F(LinkApi, ReadyCountsTheWaitingDeliveries) {
  {
    auto l = open_link("ext", 1);
    ASSERT_TRUE(l);
    ASSERT_TRUE(send_all("ada", "ext", texts(0, 3)));
    ASSERT_EQ(l->deliveries(1).size(), 1u);
    l->disconnect();
  }
  ASSERT_EQ(inbox_of("ext").size(), 3u);
  pb::LinkReady ready;
  auto l = open_link("ext", 10, &ready);
  ASSERT_TRUE(l);
  EXPECT_EQ(ready.pending(), 3u);
  EXPECT_EQ(contents(l->deliveries(3)), texts(0, 3));
}

// Verifies that a resumed link with a smaller window gets no more than its
// credit, also of the deliveries handed out again.
TEST_F(LinkApi, ResumedLinkRespectsItsCredit) {
  {
    auto l = open_link("ext", 4);
    ASSERT_TRUE(l);
    ASSERT_TRUE(send_all("ada", "ext", texts(0, 4)));
    ASSERT_EQ(l->deliveries(4).size(), 4u);
    l->disconnect();
  }
  auto l = open_link("ext", 1);
  ASSERT_TRUE(l);
  auto got = l->deliveries(1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].content(), "m0");
  EXPECT_TRUE(nothing_else_came(*l)) << "more deliveries than the credit window";
}

// Verifies send and send_batch through the link: one SendResult per
// message in the order sent, failures per message with their code, `from`
// filled in with the linked agent.
// Links of one caller beyond the default 32 streams, for the cancel storm.
class LinkApiManyStreams : public LinkApi {
protected:
  void configure_server(api::server_options& o) override { o.limits.streams_per_principal = 1000; }
};

// Verifies links cancelled while their batches are being carried out leave
// the node whole: 120 links, each writing a batch of 50 sends (and a turn
// request) and cancelled from its own thread at a different moment, then a
// link that works. A cancel that came between a read and the start of its
// send once freed the link's reactor under the running send (a
// use-after-free that crashed parleyd; ASan reports it here in every run).
TEST_F(LinkApiManyStreams, CancelsWhileBatchesAreInFlightLeaveTheNodeWhole) {
  constexpr int links = 120;
  for (int i = 0; i < links; ++i)
    ASSERT_TRUE(is_ok(introduce("c" + std::to_string(i), pb::Behavior::KIND_EXTERNAL)));
  std::vector<pb::Message> batch;
  for (int k = 0; k < 50; ++k)
    batch.push_back(text_to_agent("", "ada", "burst", "k-" + std::to_string(k)));
  struct joiner { // joins the cancellers however the test ends
    std::vector<std::thread> threads;
    ~joiner() {
      for (auto& t : threads)
        t.join();
    }
  } cancellers;
  for (int i = 0; i < links; ++i) {
    auto l = open_link("c" + std::to_string(i), 4);
    ASSERT_TRUE(l) << i;
    ASSERT_TRUE(l->send_batch(batch));
    pb::LinkClient turn;
    turn.mutable_request_turn()->set_room("nowhere");
    (void) l->write(turn);
    cancellers.threads.emplace_back([l = std::move(l), i]() mutable {
      if (i % 3)
        std::this_thread::sleep_for(std::chrono::microseconds(50 * (i % 7)));
      l->disconnect();
    });
  }
  for (auto& t : cancellers.threads)
    t.join();
  cancellers.threads.clear();
  auto ok = open_link("ext", 4);
  ASSERT_TRUE(ok) << "the node no longer opens links";
  ASSERT_TRUE(ok->send(text_to_agent("", "ada", "still here", "after-1")));
  auto r = ok->next();
  ASSERT_TRUE(r && r->has_sent()) << (r ? r->ShortDebugString() : "nothing");
  EXPECT_EQ(r->sent().error_code(), 0);
}

TEST_F(LinkApi, SendAndSendBatchReturnOneResultEach) {
  auto l = open_link("ext", 10);
  ASSERT_TRUE(l);
  pb::Message single;
  single.set_to_agent("ada");
  single.set_content("hello");
  single.set_id("a-1"); // sorts before b-*: history orders a millisecond by id
  ASSERT_TRUE(l->send(single));
  auto r = l->next();
  ASSERT_TRUE(r && r->has_sent()) << (r ? r->ShortDebugString() : "nothing");
  EXPECT_EQ(r->sent().id(), "a-1");
  EXPECT_EQ(r->sent().error_code(), 0);
  EXPECT_EQ(r->sent().status(), pb::MESSAGE_STATUS_DELIVERED);
  EXPECT_GT(r->sent().sent_at(), 0);
  const auto first_sent_at = r->sent().sent_at();

  pb::Message no_to;
  no_to.set_id("b-3");
  no_to.set_content("x");
  std::vector<pb::Message> batch{
    text_to_agent("", "ada", "b1", "b-1"),
    text_to_agent("ext", "ghost", "b2", "b-2"),
    no_to,
    text_to_agent("ada", "owner", "forged", "b-4"),
    text_to_agent("ext", "owner", "b5", "b-5"),
    text_to_agent("", "ada", "again", "a-1"), // a retry of the first send
  };
  ASSERT_TRUE(l->send_batch(batch));
  std::vector<pb::SendResult> results;
  for (size_t i = 0; i < batch.size(); ++i) {
    auto x = l->next();
    ASSERT_TRUE(x && x->has_sent()) << "result " << i << ": "
                                    << (x ? x->ShortDebugString() : "nothing");
    results.push_back(x->sent());
  }
  for (size_t i = 0; i < results.size(); ++i)
    EXPECT_EQ(results[i].id(), batch[i].id()) << "result " << i << " out of order";
  EXPECT_EQ(results[0].error_code(), 0);
  EXPECT_EQ(results[0].status(), pb::MESSAGE_STATUS_DELIVERED);
  EXPECT_TRUE(is_error(results[1], StatusCode::NOT_FOUND, {"ghost"}));
  EXPECT_TRUE(is_error(results[2], StatusCode::INVALID_ARGUMENT, {"message.to"}));
  EXPECT_TRUE(is_error(results[3], StatusCode::PERMISSION_DENIED, {"message.from"}));
  EXPECT_EQ(results[4].error_code(), 0);
  EXPECT_EQ(results[5].error_code(), 0);
  EXPECT_EQ(results[5].sent_at(), first_sent_at) << "the retry was sent again";

  pb::HistoryRequest h;
  h.mutable_pair()->set_a("ext");
  h.mutable_pair()->set_b("ada");
  h.set_oldest_first(true);
  pb::HistoryResponse hist;
  ASSERT_TRUE(is_ok(rooms->History(as_admin().get(), h, &hist)));
  EXPECT_EQ(contents({hist.messages().begin(), hist.messages().end()}),
            (std::vector<std::string>{"hello", "b1"}));
  for (auto& m : hist.messages())
    EXPECT_EQ(m.from(), "ext");
}

// Verifies turns through the link: a request is answered with `granted`
// (with the room), a yield gives the turn back, a refused request comes
// back as a failed result under "turn:<room>".
TEST_F(LinkApi, TurnGrantsArriveAsGranted) {
  ASSERT_TRUE(is_ok(create_group("owner", "fifo", pb::SPEAKER_POLICY_FIFO)));
  ASSERT_TRUE(is_ok(join("fifo", "ext")));
  auto l = open_link("ext", 10);
  ASSERT_TRUE(l);
  pb::LinkClient req;
  req.mutable_request_turn()->set_room("fifo");
  ASSERT_TRUE(l->write(req));
  auto g = l->next();
  ASSERT_TRUE(g && g->has_granted()) << (g ? g->ShortDebugString() : "nothing");
  EXPECT_EQ(g->granted().room(), "fifo");
  EXPECT_EQ(g->granted().speaker(), "ext");
  EXPECT_GT(g->granted().turn(), 0u);

  pb::GetTurnsRequest get;
  get.set_room("fifo");
  pb::TurnState t;
  ASSERT_TRUE(is_ok(turns->GetTurns(caller().get(), get, &t)));
  EXPECT_EQ(t.current().speaker(), "ext");
  ASSERT_TRUE(l->send(text_to_room("", "fifo", "while holding")));
  auto sent = l->next();
  ASSERT_TRUE(sent && sent->has_sent());
  EXPECT_EQ(sent->sent().error_code(), 0) << sent->sent().error_message();

  pb::LinkClient yield;
  yield.mutable_yield_turn()->set_room("fifo");
  ASSERT_TRUE(l->write(yield));
  EXPECT_TRUE(test_support::eventually([&] {
    pb::TurnState now;
    return turns->GetTurns(caller().get(), get, &now).ok() && !now.has_current();
  }));

  pb::LinkClient refused;
  refused.mutable_request_turn()->set_room("nowhere");
  ASSERT_TRUE(l->write(refused));
  auto r = l->next();
  ASSERT_TRUE(r && r->has_sent()) << (r ? r->ShortDebugString() : "nothing");
  EXPECT_EQ(r->sent().id(), "turn:nowhere");
  EXPECT_TRUE(is_error(r->sent(), StatusCode::NOT_FOUND));
}

// Verifies that invitations and grants that came while no link was open
// wait for the link; invitations carry room, inviter and role.
TEST_F(LinkApi, InvitationsAndGrantsWaitForTheLink) {
  ASSERT_TRUE(is_ok(create_group("owner", "club", pb::SPEAKER_POLICY_NONE, true)));
  pb::InviteRequest inv;
  inv.set_room("club");
  inv.set_by("owner");
  inv.set_agent("ext");
  inv.set_role(pb::ROOM_ROLE_ADMIN);
  pb::InviteResponse ignored;
  ASSERT_TRUE(is_ok(rooms->Invite(as_admin().get(), inv, &ignored)));
  ASSERT_TRUE(is_ok(create_group("owner", "fifo", pb::SPEAKER_POLICY_FIFO)));
  ASSERT_TRUE(is_ok(join("fifo", "ext")));
  pb::TurnRequest tr;
  tr.set_room("fifo");
  tr.set_agent("ext");
  pb::TurnState state;
  ASSERT_TRUE(is_ok(turns->RequestTurn(as_admin().get(), tr, &state)));

  auto l = open_link("ext", 10);
  ASSERT_TRUE(l);
  auto first = l->next();
  ASSERT_TRUE(first && first->has_invited()) << (first ? first->ShortDebugString() : "nothing");
  EXPECT_EQ(first->invited().room(), "club");
  EXPECT_EQ(first->invited().by(), "owner");
  EXPECT_EQ(first->invited().role(), pb::ROOM_ROLE_ADMIN);
  auto second = l->next();
  ASSERT_TRUE(second && second->has_granted()) << (second ? second->ShortDebugString() : "nothing");
  EXPECT_EQ(second->granted().room(), "fifo");
}

// Verifies the refusals of Link itself.
TEST_F(LinkApi, RefusedLinks) {
  grpc::Status why;
  EXPECT_FALSE(open_link("ada", 1, nullptr, &why));
  EXPECT_TRUE(is_error(why, StatusCode::FAILED_PRECONDITION, {"not external"}));
  EXPECT_FALSE(open_link("ghost", 1, nullptr, &why));
  EXPECT_TRUE(is_error(why, StatusCode::NOT_FOUND, {"ghost"}));

  auto l = open_link("ext", 1);
  ASSERT_TRUE(l);
  EXPECT_FALSE(open_link("ext", 1, nullptr, &why, {}, /*retry_busy=*/false));
  EXPECT_TRUE(is_error(why, StatusCode::FAILED_PRECONDITION, {"already open"}));

  // The first message must open the link.
  link_client bad(*link, as_admin());
  ASSERT_TRUE(bad.credit(5));
  auto end = bad.wait_end();
  ASSERT_TRUE(end);
  EXPECT_TRUE(is_error(*end, StatusCode::INVALID_ARGUMENT, {"open"}));

  // A second open on a link is reported like a failed send.
  pb::LinkClient again;
  again.mutable_open()->set_agent("ext");
  ASSERT_TRUE(l->write(again));
  auto r = l->next();
  ASSERT_TRUE(r && r->has_sent());
  EXPECT_TRUE(is_error(r->sent(), StatusCode::INVALID_ARGUMENT));
}

class MemoryLinkApi : public ApiFixture {};

// Verifies that a link on a memory node works too: deliveries are
// numbered and acknowledged ones do not come again after a disconnect.
TEST_F(MemoryLinkApi, DeliveriesAreNumberedWithoutAStore) {
  ASSERT_TRUE(introduce_all({"ada"}));
  ASSERT_TRUE(is_ok(introduce("ext", pb::Behavior::KIND_EXTERNAL)));
  ASSERT_TRUE(send_all("ada", "ext", texts(0, 3)));
  std::vector<pb::Message> got;
  {
    auto l = open_link("ext", 10);
    ASSERT_TRUE(l);
    got = l->deliveries(3);
    ASSERT_EQ(got.size(), 3u);
    for (auto& m : got)
      EXPECT_NE(m.delivery(), 0u);
    ASSERT_TRUE(l->ack({got[0].delivery()}));
    auto end = l->close();
    ASSERT_TRUE(end);
  }
  auto l = open_link("ext", 10);
  ASSERT_TRUE(l);
  auto again = l->deliveries(2);
  EXPECT_EQ(contents(again), texts(1, 3));
}

// -- with an admin token ----------------------------------------------------------

class LinkApiWithToken : public LinkApi {
protected:
};

// Verifies that only the agent itself (or an admin) links as it.
TEST_F(LinkApiWithToken, OnlyTheAgentLinksAsItself) {
  grpc::Status why;
  EXPECT_FALSE(open_link("ext", 1, nullptr, &why, "ada"));
  EXPECT_TRUE(is_error(why, StatusCode::PERMISSION_DENIED, {"ext"}));
  auto l = open_link("ext", 1, nullptr, nullptr, "ext");
  ASSERT_TRUE(l);
  EXPECT_TRUE(l->send(text_to_agent("ada", "owner", "forged", "f-1")));
  auto r = l->next();
  ASSERT_TRUE(r && r->has_sent());
  EXPECT_TRUE(is_error(r->sent(), StatusCode::PERMISSION_DENIED));
}

} // namespace
} // namespace parley::api_test
