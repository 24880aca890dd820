// Agents on two parleyd processes of one network: any node takes a call
// about any agent and hands it to the owner of the agent's shard; a direct
// message from an agent of one node reaches the inbox of an agent of
// another, once; automatic replies across nodes stop at the hop limit.

#include <gtest/gtest.h>

#include "cluster/cluster_fixture.hpp"

namespace parley::cluster_test {
namespace {

// Verifies an agent introduced through a node that does not own its shard lives on the owner, and either node reads its manifest.
TEST_F(Federation, IntroduceGoesToTheOwnerOfTheShard) {
  auto on_b = ids_on("node-b", 3);
  auto on_a = ids_on("node-a", 2);
  ASSERT_EQ(on_b.size(), 3u);
  for (auto& id : on_b)
    ASSERT_TRUE(introduce(node("node-a"), id, pb::Behavior::KIND_SILENT).ok()) << id;
  for (auto& id : on_a)
    ASSERT_TRUE(introduce(node("node-b"), id, pb::Behavior::KIND_SILENT).ok()) << id;
  EXPECT_EQ(local_agents(node("node-a")), 2u);
  EXPECT_EQ(local_agents(node("node-b")), 3u);
  // A second introduction of the same id through the other node is refused by the owner.
  auto again = introduce(node("node-a"), on_b[0], pb::Behavior::KIND_SILENT);
  EXPECT_EQ(again.error_code(), grpc::StatusCode::ALREADY_EXISTS) << again.error_message();
  for (auto* via : {&node("node-a"), &node("node-b")}) {
    pb::Manifest m;
    auto s = get_manifest(*via, on_b[1], &m);
    ASSERT_TRUE(s.ok()) << via->id << ": " << s.error_message();
    EXPECT_EQ(m.id(), on_b[1]);
  }
}

// Verifies a direct message between agents of two nodes, sent through either node, lands once in the recipient's inbox; a retry with its id delivers nothing again.
TEST_F(Federation, DirectMessagesCrossNodesOnce) {
  auto [alice, bob] = one_id_on_each();
  ASSERT_TRUE(introduce(node("node-a"), alice, pb::Behavior::KIND_SILENT).ok());
  // External: what it receives stays in its durable inbox until a link takes it.
  ASSERT_TRUE(introduce(node("node-a"), bob, pb::Behavior::KIND_EXTERNAL).ok());
  pb::SendResponse first, second, third;
  // Through the sender's node, through the recipient's node, and a retry of the first.
  ASSERT_TRUE(send(node("node-a"), alice, bob, "m-1", "hello bob", &first).ok());
  ASSERT_TRUE(send(node("node-b"), alice, bob, "m-2", "again", &second).ok());
  auto retry = send(node("node-b"), alice, bob, "m-1", "hello bob", &third);
  ASSERT_TRUE(retry.ok()) << retry.error_message();
  EXPECT_EQ(first.status(), pb::MESSAGE_STATUS_DELIVERED);
  EXPECT_EQ(third.sent_at(), first.sent_at()) << "a retry answers the first send's outcome";
  auto got = inbox(node("node-b"), bob);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].id(), "m-1");
  EXPECT_EQ(got[0].from(), alice);
  EXPECT_EQ(got[0].content(), "hello bob");
  EXPECT_EQ(got[1].id(), "m-2");
}

// Verifies updating a manifest, reading an inbox and retiring an agent work through the node that does not serve it.
TEST_F(Federation, ManifestInboxAndRetireCrossNodes) {
  auto [alice, bob] = one_id_on_each();
  ASSERT_TRUE(introduce(node("node-a"), alice, pb::Behavior::KIND_SILENT).ok());
  ASSERT_TRUE(introduce(node("node-a"), bob, pb::Behavior::KIND_EXTERNAL).ok());
  pb::SendResponse sent;
  ASSERT_TRUE(send(node("node-b"), alice, bob, "m-1", "for the inbox", &sent).ok());
  auto via_a = inbox(node("node-a"), bob);
  ASSERT_EQ(via_a.size(), 1u);
  EXPECT_EQ(via_a[0].content(), "for the inbox");
  EXPECT_GT(via_a[0].delivery(), 0u) << "the inbox entry keeps its delivery number across nodes";

  auto agents = [&](node_process& via) { return pb::Agents::NewStub(via.channel); };
  {
    pb::UpdateManifestRequest req;
    ASSERT_TRUE(get_manifest(node("node-a"), bob, req.mutable_manifest()).ok());
    req.mutable_manifest()->set_display_name("Bob the remote");
    grpc::ClientContext ctx;
    pb::Manifest out;
    auto s = agents(node("node-a"))->UpdateManifest(&ctx, req, &out);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(out.display_name(), "Bob the remote");
  }
  {
    grpc::ClientContext ctx;
    pb::RetireRequest req;
    req.set_agent(bob);
    pb::RetireResponse out;
    auto s = agents(node("node-a"))->Retire(&ctx, req, &out);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  pb::Manifest m;
  ASSERT_TRUE(get_manifest(node("node-b"), bob, &m).ok());
  EXPECT_EQ(m.display_name(), "Bob the remote");
  EXPECT_EQ(m.status(), pb::AGENT_STATUS_RETIRED);
  pb::SendResponse refused;
  auto s = send(node("node-a"), alice, bob, "m-2", "too late", &refused);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << s.error_message();
}

// Verifies a pair's direct messages are read through a node that keeps none of them, and marking an inbox entry
// read through the other node removes it.
TEST_F(Federation, HistoryAndMarkReadCrossNodes) {
  auto alice = ids_on("node-a", 1)[0];
  auto on_b = ids_on("node-b", 2);
  for (auto& id : {alice, on_b[0], on_b[1]})
    ASSERT_TRUE(introduce(node("node-a"), id, pb::Behavior::KIND_EXTERNAL).ok()) << id;
  pb::SendResponse out;
  ASSERT_TRUE(send(node("node-a"), on_b[0], on_b[1], "h-1", "between two of node-b", &out).ok());
  ASSERT_TRUE(send(node("node-a"), on_b[1], on_b[0], "h-2", "and back", &out).ok());
  ASSERT_TRUE(send(node("node-b"), alice, on_b[0], "h-3", "from node-a", &out).ok());
  auto history = [&](node_process& via, const std::string& a, const std::string& b, pb::HistoryResponse* page) {
    grpc::ClientContext ctx;
    via.authorize(ctx);
    pb::HistoryRequest req;
    req.mutable_pair()->set_a(a);
    req.mutable_pair()->set_b(b);
    req.set_oldest_first(true);
    req.set_page_size(1);
    return pb::Rooms::NewStub(via.channel)->History(&ctx, req, page);
  };
  pb::HistoryResponse first;
  auto s = history(node("node-a"), on_b[0], on_b[1], &first);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(first.messages_size(), 1);
  EXPECT_EQ(first.messages(0).id(), "h-1");
  ASSERT_FALSE(first.next_page_token().empty()) << "the page token crosses too";
  {
    grpc::ClientContext ctx;
    pb::HistoryRequest req;
    req.mutable_pair()->set_a(on_b[0]);
    req.mutable_pair()->set_b(on_b[1]);
    req.set_oldest_first(true);
    req.set_page_size(1);
    req.set_page_token(first.next_page_token());
    pb::HistoryResponse second;
    ASSERT_TRUE(pb::Rooms::NewStub(node("node-a").channel)->History(&ctx, req, &second).ok());
    ASSERT_EQ(second.messages_size(), 1);
    EXPECT_EQ(second.messages(0).id(), "h-2");
  }

  auto entries = inbox(node("node-a"), on_b[0]);
  ASSERT_EQ(entries.size(), 2u);
  {
    grpc::ClientContext ctx;
    pb::MarkReadRequest req;
    req.set_agent(on_b[0]);
    req.add_deliveries(entries[0].delivery());
    pb::MarkReadResponse done;
    auto marked = pb::Messages::NewStub(node("node-a").channel)->MarkRead(&ctx, req, &done);
    ASSERT_TRUE(marked.ok()) << marked.error_message();
  }
  auto left = inbox(node("node-b"), on_b[0]);
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0].delivery(), entries[1].delivery());
}

// Verifies the direct messages of a pair split over two nodes (each keeps what its agent received) are read
// through either node as one history: pages of 3 in both directions hold every message once, in order, and a
// page token from one node goes on at the other.
TEST_F(Federation, SplitPairHistoryMergesBothNodes) {
  auto [alice, bob] = one_id_on_each();
  for (auto& id : {alice, bob})
    ASSERT_TRUE(introduce(node("node-a"), id, pb::Behavior::KIND_EXTERNAL).ok()) << id;
  std::vector<std::string> sent;
  for (int i = 0; i < 7; ++i) {
    pb::SendResponse out;
    const bool to_bob = i % 3 != 1; // both directions, not strictly alternating
    sent.push_back("s-" + std::to_string(i));
    auto s = send(node(i % 2 ? "node-a" : "node-b"), to_bob ? alice : bob, to_bob ? bob : alice, sent.back(),
                  "part " + std::to_string(i), &out);
    ASSERT_TRUE(s.ok()) << s.error_message();
    std::this_thread::sleep_for(3ms); // distinct times: the order is the order sent
  }
  auto page = [&](node_process& via, bool oldest_first, const std::string& token, pb::HistoryResponse* out) {
    grpc::ClientContext ctx;
    pb::HistoryRequest req;
    req.mutable_pair()->set_a(alice);
    req.mutable_pair()->set_b(bob);
    req.set_oldest_first(oldest_first);
    req.set_page_size(3);
    req.set_page_token(token);
    return pb::Rooms::NewStub(via.channel)->History(&ctx, req, out);
  };
  for (bool oldest_first : {true, false}) {
    std::vector<std::string> got;
    std::string token;
    int pages = 0;
    do {
      // Alternate nodes: a token from one goes on at the other.
      pb::HistoryResponse out;
      auto s = page(node(pages % 2 ? "node-b" : "node-a"), oldest_first, token, &out);
      ASSERT_TRUE(s.ok()) << s.error_message();
      for (auto& m : out.messages())
        got.push_back(m.id());
      token = out.next_page_token();
      ASSERT_LT(++pages, 10) << "the pages do not end";
    } while (!token.empty());
    auto want = sent;
    if (!oldest_first)
      std::reverse(want.begin(), want.end());
    EXPECT_EQ(got, want) << (oldest_first ? "oldest first" : "newest first");
    EXPECT_EQ(pages, 3);
  }
}

// Verifies ListAgents through either node pages over the agents of both nodes, sorted by id, each once, with its
// filters applied on every node.
TEST_F(Federation, ListingsPageAcrossNodes) {
  auto on_a = ids_on("node-a", 3);
  auto on_b = ids_on("node-b", 3);
  std::vector<std::string> all;
  for (auto& id : on_a)
    all.push_back(id);
  for (auto& id : on_b)
    all.push_back(id);
  for (auto& id : all)
    ASSERT_TRUE(introduce(node("node-b"), id, pb::Behavior::KIND_SILENT).ok()) << id;
  std::sort(all.begin(), all.end());
  auto list = [&](node_process& via, const std::string& token, pb::AgentStatus status, pb::ListAgentsResponse* out) {
    grpc::ClientContext ctx;
    via.authorize(ctx);
    pb::ListAgentsRequest req;
    req.set_page_size(4);
    req.set_page_token(token);
    req.set_status(status);
    return pb::Agents::NewStub(via.channel)->ListAgents(&ctx, req, out);
  };
  for (auto* via : {&node("node-a"), &node("node-b")}) {
    std::vector<std::string> seen;
    std::string token;
    int pages = 0;
    do {
      pb::ListAgentsResponse page;
      auto s = list(*via, token, pb::AGENT_STATUS_UNSPECIFIED, &page);
      ASSERT_TRUE(s.ok()) << via->id << ": " << s.error_message();
      EXPECT_LE(page.agents_size(), 4);
      for (auto& m : page.agents())
        seen.push_back(m.id());
      token = page.next_page_token();
      ++pages;
    } while (!token.empty() && pages < 10);
    EXPECT_EQ(seen, all) << "through " << via->id;
    EXPECT_EQ(pages, 2);
  }
  // Retire one agent of each node: a status filter holds on both.
  for (auto& id : {on_a[0], on_b[0]}) {
    grpc::ClientContext ctx;
    pb::RetireRequest req;
    req.set_agent(id);
    pb::RetireResponse out;
    ASSERT_TRUE(pb::Agents::NewStub(node("node-a").channel)->Retire(&ctx, req, &out).ok());
  }
  pb::ListAgentsResponse retired;
  ASSERT_TRUE(list(node("node-a"), "", pb::AGENT_STATUS_RETIRED, &retired).ok());
  std::vector<std::string> got;
  for (auto& m : retired.agents())
    got.push_back(m.id());
  std::vector<std::string> want{on_a[0], on_b[0]};
  std::sort(want.begin(), want.end());
  EXPECT_EQ(got, want);
  EXPECT_TRUE(retired.next_page_token().empty());
}

// Verifies echo agents on two nodes answering each other stop after the hop limit, as on one node.
TEST_F(Federation, AutomaticRepliesAcrossNodesStopAtTheHopLimit) {
  auto [a, b] = one_id_on_each();
  ASSERT_TRUE(introduce(node("node-b"), a, pb::Behavior::KIND_ECHO).ok());
  ASSERT_TRUE(introduce(node("node-a"), b, pb::Behavior::KIND_ECHO).ok());
  pb::SendResponse out;
  ASSERT_TRUE(send(node("node-a"), a, b, "ping", "ping", &out).ok());
  auto sent = [&] {
    uint64_t total = 0;
    for (auto& n : nodes_) {
      auto stub = pb::Admin::NewStub(n->channel);
      grpc::ClientContext ctx;
      pb::NodeInfoResponse info;
      EXPECT_TRUE(stub->NodeInfo(&ctx, pb::NodeInfoRequest{}, &info).ok());
      total += info.messages_sent();
    }
    return total;
  };
  // The send and 16 replies (limits.max_reply_hops), then quiet.
  for (int i = 0; i < 100 && sent() < 17; ++i)
    std::this_thread::sleep_for(50ms);
  std::this_thread::sleep_for(500ms);
  EXPECT_EQ(sent(), 17u);
}


} // namespace
} // namespace parley::cluster_test
