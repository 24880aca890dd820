// parley.v1.Turns over a real server: requesting, yielding and reading
// turns in moderated and unmoderated rooms, and each refusal's code.

#include "api/api_fixture.hpp"

namespace parley::api_test {
namespace {

using grpc::StatusCode;

class TurnsApi : public ApiFixture {
protected:
  grpc::Status request(const std::string& room, const std::string& agent, pb::TurnState* out = nullptr,
                       std::unique_ptr<grpc::ClientContext> ctx = nullptr) {
    pb::TurnRequest req;
    req.set_room(room);
    req.set_agent(agent);
    pb::TurnState ignored;
    return turns->RequestTurn(ctx ? ctx.get() : as_admin().get(), req, out ? out : &ignored);
  }

  grpc::Status yield(const std::string& room, const std::string& agent, pb::TurnState* out = nullptr,
                     std::unique_ptr<grpc::ClientContext> ctx = nullptr) {
    pb::TurnRequest req;
    req.set_room(room);
    req.set_agent(agent);
    pb::TurnState ignored;
    return turns->YieldTurn(ctx ? ctx.get() : as_admin().get(), req, out ? out : &ignored);
  }

  pb::TurnState state(const std::string& room) {
    pb::GetTurnsRequest req;
    req.set_room(room);
    pb::TurnState out;
    EXPECT_TRUE(is_ok(turns->GetTurns(caller().get(), req, &out)));
    return out;
  }

  static std::vector<std::string> waiting(const pb::TurnState& t) {
    return {t.waiting().begin(), t.waiting().end()};
  }

  void SetUp() override {
    ApiFixture::SetUp();
    // External agents hold a turn until told to yield (node-hosted ones give
    // it back at once).
    ASSERT_TRUE(introduce_all({"ada", "bob", "cy", "out"}, pb::Behavior::KIND_EXTERNAL));
    ASSERT_TRUE(is_ok(create_group("ada", "fifo", pb::SPEAKER_POLICY_FIFO)));
    ASSERT_TRUE(is_ok(join("fifo", "bob")));
    ASSERT_TRUE(is_ok(join("fifo", "cy")));
  }
};

// Verifies FIFO turns through the API: the first request is granted, later
// ones wait in order, a yield passes the turn on; only the holder posts.
TEST_F(TurnsApi, FifoGrantsInRequestOrderAndOnlyTheHolderPosts) {
  pb::TurnState t;
  ASSERT_TRUE(is_ok(request("fifo", "ada", &t)));
  ASSERT_TRUE(t.has_current());
  EXPECT_EQ(t.current().speaker(), "ada");
  EXPECT_GT(t.current().turn(), 0u);
  ASSERT_TRUE(is_ok(request("fifo", "cy", &t)));
  ASSERT_TRUE(is_ok(request("fifo", "bob", &t)));
  EXPECT_EQ(t.current().speaker(), "ada");
  EXPECT_EQ(waiting(t), (std::vector<std::string>{"cy", "bob"}));

  EXPECT_TRUE(is_ok(send(text_to_room("ada", "fifo", "my turn"))));
  EXPECT_TRUE(is_error(send(text_to_room("bob", "fifo", "me too")), StatusCode::FAILED_PRECONDITION,
                       {"does not hold the turn"}));

  ASSERT_TRUE(is_ok(yield("fifo", "ada", &t)));
  ASSERT_TRUE(t.has_current());
  EXPECT_EQ(t.current().speaker(), "cy");
  EXPECT_EQ(waiting(t), (std::vector<std::string>{"bob"}));
  EXPECT_TRUE(is_ok(send(text_to_room("cy", "fifo", "now me"))));

  auto now = state("fifo");
  EXPECT_EQ(now.current().speaker(), "cy");
  EXPECT_EQ(now.messages_in_turn(), 1u);
  EXPECT_EQ(now.turns_granted(), 2u);
  EXPECT_FALSE(now.closed());
}

// Verifies the refusals: yielding a turn one does not hold, requesting as
// a non-member, unknown rooms, closed rooms, unmoderated rooms' yield.
TEST_F(TurnsApi, RefusalsHaveTheirCodes) {
  ASSERT_TRUE(is_ok(request("fifo", "ada")));
  EXPECT_TRUE(is_error(yield("fifo", "bob"), StatusCode::FAILED_PRECONDITION,
                       {"does not hold the turn"}));
  EXPECT_TRUE(is_error(request("fifo", "out"), StatusCode::PERMISSION_DENIED, {"not a member"}));
  EXPECT_TRUE(is_error(request("nowhere", "ada"), StatusCode::NOT_FOUND, {"nowhere"}));
  pb::GetTurnsRequest get;
  get.set_room("nowhere");
  pb::TurnState t;
  EXPECT_TRUE(is_error(turns->GetTurns(caller().get(), get, &t), StatusCode::NOT_FOUND));

  pb::CloseRequest close;
  close.set_room("fifo");
  pb::Room closed;
  ASSERT_TRUE(is_ok(rooms->Close(as_admin().get(), close, &closed)));
  EXPECT_TRUE(is_error(request("fifo", "bob"), StatusCode::FAILED_PRECONDITION, {"closed"}));
  EXPECT_TRUE(state("fifo").closed());
}

// Verifies that in an unmoderated room a request is granted at once and
// posting needs no turn.
TEST_F(TurnsApi, UnmoderatedRoomGrantsAtOnce) {
  ASSERT_TRUE(is_ok(create_group("ada", "free")));
  ASSERT_TRUE(is_ok(join("free", "bob")));
  pb::TurnState t;
  EXPECT_TRUE(is_ok(request("free", "bob", &t)));
  EXPECT_TRUE(t.waiting().empty());
  EXPECT_TRUE(is_ok(send(text_to_room("ada", "free", "anyone"))));
  EXPECT_TRUE(is_ok(send(text_to_room("bob", "free", "me"))));
  EXPECT_TRUE(is_error(request("free", "out"), StatusCode::PERMISSION_DENIED));
}

class TurnsApiWithToken : public TurnsApi {
protected:
};

// Verifies that an agent requests and yields only its own turn.
TEST_F(TurnsApiWithToken, AgentsRequestOnlyTheirOwnTurn) {
  EXPECT_TRUE(is_error(request("fifo", "ada", nullptr, caller("bob")),
                       StatusCode::PERMISSION_DENIED, {"ada"}));
  ASSERT_TRUE(is_ok(request("fifo", "ada", nullptr, caller("ada"))));
  EXPECT_TRUE(is_error(yield("fifo", "ada", nullptr, caller("bob")),
                       StatusCode::PERMISSION_DENIED));
  EXPECT_EQ(state("fifo").current().speaker(), "ada");
  EXPECT_TRUE(is_ok(yield("fifo", "ada", nullptr, caller("ada"))));
  EXPECT_FALSE(state("fifo").has_current());
}

} // namespace
} // namespace parley::api_test
