// Events.Subscribe across a network of three real nodes: a subscription on
// one node carries every node's events, each tagged with its node, and its
// resume token (one offset per node) resumes on any node with nothing lost
// and nothing twice; filters hold where the events are; a node that is down
// pauses only its own part of the stream.

#include "cluster/cluster_fixture.hpp"

#include <set>

namespace parley::cluster_test {
namespace {

struct seen_event {
  std::string node;
  uint64_t offset = 0;
  std::string kind;
  std::string agent;
};

// An open subscription, read until a condition holds or its deadline.
class subscription {
public:
  subscription(node_process& via, const pb::SubscribeRequest& req, std::chrono::seconds deadline = 30s)
    : stub_(pb::Events::NewStub(via.channel)) {
    via.authorize(ctx_);
    ctx_.set_deadline(std::chrono::system_clock::now() + deadline);
    reader_ = stub_->Subscribe(&ctx_, req);
  }
  ~subscription() {
    if (finished_)
      return;
    ctx_.TryCancel();
    (void) finish();
  }

  // Reads until `done(events so far)`; false if the stream ended first.
  template <class Done>
  bool read_until(Done done) {
    pb::Event e;
    while (!done(events)) {
      if (!reader_->Read(&e))
        return false;
      events.push_back({e.node(), e.offset(), e.kind(), e.agent()});
      last_token = e.resume_token();
    }
    return true;
  }

  // The status the stream ended with (reads what is left first).
  grpc::Status finish() {
    pb::Event e;
    while (reader_->Read(&e)) {
    }
    finished_ = true;
    return reader_->Finish();
  }

  std::vector<seen_event> events;
  std::string last_token;

private:
  std::unique_ptr<pb::Events::Stub> stub_;
  grpc::ClientContext ctx_;
  std::unique_ptr<grpc::ClientReader<pb::Event>> reader_;
  bool finished_ = false;
};

// Whether every agent of `ids` has its agent_introduced event in `events`.
bool introduced_all(const std::vector<seen_event>& events, const std::vector<std::string>& ids) {
  std::set<std::string> got;
  for (auto& e : events)
    if (e.kind == "agent_introduced")
      got.insert(e.agent);
  return std::all_of(ids.begin(), ids.end(), [&](auto& id) { return got.count(id) != 0; });
}

class NetworkEvents : public Federation {
protected:
  std::vector<std::string> node_names() override { return {"node-a", "node-b", "node-c"}; }
  // Short leases (a killed node's name is soon free), and a short call
  // timeout, so that a poll of a node that is down fails (and is retried)
  // within the test.
  std::vector<std::string> extra_args() override {
    auto file = dir_ / "events.yaml";
    std::ofstream(file) << "cluster:\n  lease_ttl_ms: 2000\n  keepalive_ms: 500\nnode:\n  call_timeout_ms: 1500\n";
    return {"--config", file.string()};
  }

  // `per_node` new agent ids of each node's shards, after `skip` of them.
  std::vector<std::string> agents_of_every_node(size_t skip, size_t per_node) {
    std::vector<std::string> out;
    for (auto& n : node_names()) {
      auto ids = ids_on(n, skip + per_node);
      out.insert(out.end(), ids.begin() + static_cast<long>(skip), ids.end());
    }
    return out;
  }
};

TEST_F(NetworkEvents, ASubscriptionCarriesEveryNodeAndResumesOnAnotherWithNothingLostOrTwice) {
  auto first = agents_of_every_node(0, 2);
  for (auto& id : first) // through node-b: each lands on its owner, whose log has the event
    ASSERT_TRUE(introduce(node("node-b"), id, pb::Behavior::KIND_EXTERNAL).ok()) << id;

  std::vector<seen_event> all;
  std::string token;
  {
    pb::SubscribeRequest req;
    req.set_from_oldest(true);
    subscription sub(node("node-a"), req);
    ASSERT_TRUE(sub.read_until([&](auto& evs) { return introduced_all(evs, first); }));
    for (auto& e : sub.events) {
      if (e.kind == "agent_introduced") {
        EXPECT_EQ(e.node, owner_of(e.agent).first) << e.agent << " introduced in the log of another node";
      }
    }
    all = sub.events;
    token = sub.last_token;
  }
  ASSERT_FALSE(token.empty());

  // While nobody follows: more agents on every node, and messages between
  // nodes (their events land in the logs of the senders' and recipients'
  // nodes).
  auto second = agents_of_every_node(2, 2);
  for (auto& id : second)
    ASSERT_TRUE(introduce(node("node-c"), id, pb::Behavior::KIND_EXTERNAL).ok()) << id;
  pb::SendResponse sent;
  for (size_t i = 0; i + 1 < second.size(); ++i)
    ASSERT_TRUE(send(node("node-a"), second[i], second[i + 1], "m" + std::to_string(i) + "x", "hi", &sent).ok());

  {
    pb::SubscribeRequest req;
    req.set_resume_token(token);
    subscription sub(node("node-b"), req); // another node than the first
    ASSERT_TRUE(sub.read_until([&](auto& evs) { return introduced_all(evs, second); }));
    all.insert(all.end(), sub.events.begin(), sub.events.end());
  }

  // Nothing twice, and per node no gap: the stream had no filter, so every
  // offset of each node's log from the first seen on is there.
  std::map<std::string, std::vector<uint64_t>> per_node;
  for (auto& e : all)
    per_node[e.node].push_back(e.offset);
  EXPECT_EQ(per_node.size(), 3u);
  for (auto& [n, offsets] : per_node) {
    auto sorted = offsets;
    std::sort(sorted.begin(), sorted.end());
    EXPECT_EQ(std::adjacent_find(sorted.begin(), sorted.end()), sorted.end()) << n << ": an event came twice";
    EXPECT_EQ(sorted.front(), 1u) << n << ": from_oldest did not start at the node's first event";
    EXPECT_EQ(sorted.back() - sorted.front() + 1, sorted.size()) << n << ": events are missing";
    EXPECT_TRUE(std::is_sorted(offsets.begin(), offsets.end())) << n << ": a node's events out of order";
  }
}

TEST_F(NetworkEvents, FiltersApplyOnTheNodeThatHasTheEvents) {
  auto on_c = ids_on("node-c", 2);
  auto on_a = ids_on("node-a", 1);
  for (auto& id : {on_c[0], on_c[1], on_a[0]})
    ASSERT_TRUE(introduce(node("node-a"), id, pb::Behavior::KIND_EXTERNAL).ok()) << id;

  pb::SubscribeRequest req;
  req.set_from_oldest(true);
  req.set_agent(on_c[0]);
  subscription sub(node("node-a"), req);
  ASSERT_TRUE(sub.read_until([&](auto& evs) { return introduced_all(evs, {on_c[0]}); }));
  // Message events are published while a subscriber wants them: node-c
  // keeps them on for the polls of node-a's subscription.
  pb::SendResponse sent;
  ASSERT_TRUE(send(node("node-b"), on_a[0], on_c[0], "f1", "to c", &sent).ok());
  ASSERT_TRUE(send(node("node-b"), on_a[0], on_c[1], "f2", "to the other", &sent).ok());
  ASSERT_TRUE(sub.read_until([&](auto& evs) {
    return std::any_of(evs.begin(), evs.end(), [](auto& e) { return e.kind == "message_delivered"; });
  }));
  for (auto& e : sub.events) {
    EXPECT_EQ(e.agent, on_c[0]) << e.kind << " of another agent got through the filter";
    EXPECT_EQ(e.node, "node-c") << e.kind;
  }
}

TEST_F(NetworkEvents, BadRequestsAreRefusedClearly) {
  auto refused = [&](pb::SubscribeRequest req) {
    subscription sub(node("node-a"), req, 10s);
    return sub.finish();
  };
  pb::SubscribeRequest garbage;
  garbage.set_resume_token("not-a-token");
  auto s = refused(garbage);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
  EXPECT_NE(s.error_message().find("resume_token"), std::string::npos) << s.error_message();

  pb::SubscribeRequest offset_in_network;
  offset_in_network.set_from_offset(3);
  s = refused(offset_in_network);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
  EXPECT_NE(s.error_message().find("this_node_only"), std::string::npos) << s.error_message();

  pb::SubscribeRequest both;
  both.set_resume_token("1|node-a=1");
  both.set_from_oldest(true);
  s = refused(both);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();

  // This node only, from an offset: only node-a's own events.
  auto id = ids_on("node-a", 1).at(0);
  ASSERT_TRUE(introduce(node("node-b"), id, pb::Behavior::KIND_EXTERNAL).ok());
  auto other = ids_on("node-b", 1).at(0);
  ASSERT_TRUE(introduce(node("node-a"), other, pb::Behavior::KIND_EXTERNAL).ok());
  pb::SubscribeRequest local;
  local.set_this_node_only(true);
  local.set_from_offset(1);
  subscription sub(node("node-a"), local);
  ASSERT_TRUE(sub.read_until([&](auto& evs) { return introduced_all(evs, {id}); }));
  for (auto& e : sub.events)
    EXPECT_EQ(e.node, "node-a");
  EXPECT_FALSE(introduced_all(sub.events, {other}));
}

TEST_F(NetworkEvents, ANodeThatIsDownPausesOnlyItsOwnPart) {
  pb::SubscribeRequest req;
  req.set_from_oldest(true);
  subscription sub(node("node-a"), req, 120s);
  auto before = agents_of_every_node(0, 1);
  for (auto& id : before)
    ASSERT_TRUE(introduce(node("node-a"), id, pb::Behavior::KIND_EXTERNAL).ok()) << id;
  ASSERT_TRUE(sub.read_until([&](auto& evs) { return introduced_all(evs, before); }));

  kill_node("node-c");
  drain_outputs(2s); // down for longer than a call's timeout: node-a's polls of it fail
  auto on_b = ids_on("node-b", 2).at(1);
  ASSERT_TRUE(introduce(node("node-a"), on_b, pb::Behavior::KIND_EXTERNAL).ok());
  ASSERT_TRUE(sub.read_until([&](auto& evs) { return introduced_all(evs, {on_b}); }))
    << "node-b's events stopped while node-c was down";

  ASSERT_TRUE(restart_node("node-c"));
  auto on_c = ids_on("node-c", 2).at(1);
  grpc::Status s;
  for (int i = 0; i < 50 && !(s = introduce(node("node-a"), on_c, pb::Behavior::KIND_EXTERNAL)).ok(); ++i)
    drain_outputs(100ms); // until node-a sees node-c again
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_TRUE(sub.read_until([&](auto& evs) { return introduced_all(evs, {on_c}); }))
    << "node-c's part did not resume";
  std::set<std::pair<std::string, uint64_t>> once;
  for (auto& e : sub.events)
    EXPECT_TRUE(once.insert({e.node, e.offset}).second) << e.node << " " << e.offset << " came twice";
}

// Verifies an events poll over a raw link: oversized and overlong polls and unknown topics are refused, a first
// poll learns where the log starts without events, and a poll from there gets the node's own events.
TEST_F(NetworkEvents, EventsPollsFromAPeerAreCheckedAndAnswered) {
  auto on_b = ids_on("node-b", 1).at(0);
  ASSERT_TRUE(introduce(node("node-b"), on_b, pb::Behavior::KIND_EXTERNAL).ok());
  raw_link link(node("node-b").channel);
  pb::PeerFrame out;
  out.mutable_hello()->set_node("node-c");
  out.mutable_hello()->set_session(31);
  out.mutable_hello()->set_resume_from(1);
  auto add = [&](uint64_t seq, auto fill) {
    auto* r = out.add_requests();
    r->set_seq(seq);
    r->set_caller("admin:node-c");
    fill(*r->mutable_events());
  };
  add(1, [](pb::EventsRequest& e) { e.set_max(5000); });
  add(2, [](pb::EventsRequest& e) { e.set_wait_ms(600000); });
  add(3, [](pb::EventsRequest& e) { e.set_topics(1u << 7); });
  add(4, [](pb::EventsRequest& e) { e.set_from_oldest(true); }); // max 0: where the log starts, at once
  add(5, [](pb::EventsRequest& e) {
    e.set_from_oldest(true);
    e.set_max(100);
    e.set_wait_ms(2000); // the introduction's event may not be durable yet
  });
  ASSERT_TRUE(link.stream->Write(out));
  std::map<uint64_t, pb::PeerReply> replies;
  pb::PeerFrame in;
  while (replies.size() < 5 && link.stream->Read(&in))
    for (auto& r : in.replies())
      replies[r.seq()] = r;
  ASSERT_EQ(replies.size(), 5u);
  EXPECT_EQ(replies[1].error_code(), "invalid_argument") << replies[1].error_message();
  EXPECT_EQ(replies[2].error_code(), "invalid_argument") << replies[2].error_message();
  EXPECT_EQ(replies[3].error_code(), "invalid_argument") << replies[3].error_message();
  EXPECT_TRUE(replies[4].error_code().empty()) << replies[4].error_message();
  EXPECT_EQ(replies[4].events_size(), 0);
  EXPECT_EQ(replies[4].next_offset(), 1u);
  ASSERT_TRUE(replies[5].error_code().empty()) << replies[5].error_message();
  ASSERT_GT(replies[5].events_size(), 0);
  bool introduced = false;
  for (auto& e : replies[5].events())
    introduced = introduced || (e.kind() == "agent_introduced" && e.agent() == on_b);
  EXPECT_TRUE(introduced);
  EXPECT_EQ(replies[5].next_offset(), replies[5].events(replies[5].events_size() - 1).offset() + 1);
  link.stream->WritesDone();
}

} // namespace
} // namespace parley::cluster_test
