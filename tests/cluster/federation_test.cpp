// Agents on several parleyd processes coordinated by a real etcd: any node
// takes a call about any agent and hands it to the owner of the agent's
// shard; a direct message from an agent of one node reaches the inbox of an
// agent of another; automatic replies across nodes stop at the hop limit;
// a retried send is delivered once. And the Federation service's refusals:
// a stale epoch, a shard that is not the request's, a link without hello.

#include <gtest/gtest.h>

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <thread>

#include "parley/auth/token.hpp"
#include "parley/model/shard.hpp"
#include "parley/v1/api.grpc.pb.h"
#include "parley/v1/federation.grpc.pb.h"
#include "support/etcd_process.hpp"
#include "support/process.hpp"

namespace parley {
namespace {

using namespace std::chrono_literals;
namespace pb = ::parley::v1;

const std::string parleyd = PARLEYD_PATH;

// A parleyd of the network, durable (async) in its own directory.
std::vector<std::string> node_args(const test::etcd_process& etcd, const std::string& id, const std::string& dir,
                                   int min_members, const std::vector<std::string>& extra) {
  std::vector<std::string> args{parleyd, "--node-id", id, "--listen", "127.0.0.1:0", "--no-demo", "--etcd",
                                etcd.endpoint(), "--min-members", std::to_string(min_members), "--data-dir", dir,
                                "--durability", "async", "--log-level", "info"};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

struct node_process {
  node_process(const test::etcd_process& etcd, const std::string& id, const std::string& dir, int min_members,
               const std::vector<std::string>& extra = {})
    : id(id), proc(node_args(etcd, id, dir, min_members, extra), {}, {}, true) {}

  // Waits until it serves and is a member; its API address.
  bool ready() {
    if (!proc.wait_for_output("is a member of the network", 30s))
      return false;
    std::smatch m;
    static const std::regex listening{"gRPC API listening on (127\\.0\\.0\\.1:[0-9]+)"};
    if (!std::regex_search(proc.output(), m, listening))
      return false;
    address = m[1];
    channel = grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
    return true;
  }

  /// Sends `token` (if any) with the call.
  void authorize(grpc::ClientContext& ctx) const {
    if (!token.empty())
      ctx.AddMetadata("authorization", "Bearer " + token);
  }

  std::string id;
  test::child_process proc;
  std::string address;
  std::shared_ptr<grpc::Channel> channel;
  std::string token; // what the test presents to this node
};

class Federation : public ::testing::Test {
protected:
  void SetUp() override {
    ASSERT_TRUE(etcd_.running()) << "etcd did not start (is etcd-server installed?)";
    dir_ = std::filesystem::temp_directory_path() / ("parley-cluster-" + std::to_string(::getpid()) + "-"
                                                     + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    for (auto id : {"node-a", "node-b"})
      nodes_.push_back(std::make_unique<node_process>(etcd_, id, (dir_ / id).string(), 2, extra_args()));
    for (auto& n : nodes_) {
      ASSERT_TRUE(n->ready()) << n->proc.output();
      n->token = admin_token();
    }
    // Every shard has an owner, spread over both.
    for (int i = 0; i < 200 && read_map() < shard_count; ++i)
      std::this_thread::sleep_for(50ms);
    ASSERT_EQ(read_map(), shard_count);
    ASSERT_GT(owned("node-a"), 0u);
    ASSERT_GT(owned("node-b"), 0u);
  }

  /// What every node is started with beyond the defaults.
  virtual std::vector<std::string> extra_args() { return {}; }
  /// The token the test calls the nodes with (none: development nodes).
  virtual std::string admin_token() { return {}; }

  // Reads the shard map from etcd; how many shards have an owner.
  size_t read_map() {
    std::istringstream lines(etcd_.ctl("get --prefix /parley/shards/"));
    std::string key, value;
    map_.clear();
    static const std::regex node{"\"node\":\"([a-z-]+)\""};
    while (std::getline(lines, key) && std::getline(lines, value)) {
      std::smatch m;
      if (key.rfind("/parley/shards/", 0) == 0 && std::regex_search(value, m, node))
        map_[static_cast<shard_id>(std::stoul(key.substr(15)))] = m[1];
    }
    return map_.size();
  }

  size_t owned(const std::string& node) {
    size_t n = 0;
    for (auto& [s, who] : map_)
      n += who == node ? 1 : 0;
    return n;
  }

  void TearDown() override {
    // Connections closed first: an idle client connection notices a
    // draining server only when its poller runs (seconds), and the server
    // waits for it.
    for (auto& n : nodes_)
      n->channel.reset();
    for (auto& n : nodes_)
      n->proc.signal(SIGTERM);
    for (auto& n : nodes_)
      EXPECT_EQ(n->proc.wait_exit(20s), 0) << n->proc.output();
    std::filesystem::remove_all(dir_);
  }

  // Which node owns the shard of `id`, and at which epoch (from etcd).
  std::pair<std::string, uint64_t> owner_of(const std::string& id) {
    char key[64];
    std::snprintf(key, sizeof key, "/parley/shards/%04u", static_cast<unsigned>(shard_of(id)));
    auto out = etcd_.ctl(std::string{"get "} + key + " -w fields");
    std::smatch m;
    static const std::regex node{"node\\\\\":\\\\\"([a-z-]+)"};
    static const std::regex rev{"\"ModRevision\" : ([0-9]+)"};
    std::string who;
    uint64_t epoch = 0;
    if (std::regex_search(out, m, node))
      who = m[1];
    if (std::regex_search(out, m, rev))
      epoch = std::stoull(m[1]);
    return {who, epoch};
  }

  node_process& node(const std::string& id) {
    for (auto& n : nodes_)
      if (n->id == id)
        return *n;
    throw std::runtime_error("no node " + id);
  }

  // Agent ids whose shards `node` owns.
  std::vector<std::string> ids_on(const std::string& node, size_t n) {
    std::vector<std::string> out;
    for (int i = 0; out.size() < n && i < 10000; ++i) {
      auto id = "agent-" + std::to_string(i);
      if (map_[shard_of(id)] == node)
        out.push_back(id);
    }
    return out;
  }

  grpc::Status introduce(node_process& via, const std::string& id, pb::Behavior::Kind kind) {
    auto stub = pb::Agents::NewStub(via.channel);
    grpc::ClientContext ctx;
    via.authorize(ctx);
    ctx.set_deadline(std::chrono::system_clock::now() + 10s);
    pb::IntroduceRequest req;
    req.mutable_manifest()->set_id(id);
    req.mutable_behavior()->set_kind(kind);
    pb::Manifest out;
    return stub->Introduce(&ctx, req, &out);
  }

  grpc::Status send(node_process& via, const std::string& from, const std::string& to, const std::string& id,
                    const std::string& text, pb::SendResponse* out, std::chrono::milliseconds deadline = 10s) {
    auto stub = pb::Messages::NewStub(via.channel);
    grpc::ClientContext ctx;
    via.authorize(ctx);
    ctx.set_deadline(std::chrono::system_clock::now() + deadline);
    pb::SendRequest req;
    req.mutable_message()->set_from(from);
    req.mutable_message()->set_to_agent(to);
    req.mutable_message()->set_id(id);
    req.mutable_message()->set_content(text);
    return stub->Send(&ctx, req, out);
  }

  std::vector<pb::Message> inbox(node_process& at, const std::string& agent) {
    auto stub = pb::Messages::NewStub(at.channel);
    grpc::ClientContext ctx;
    at.authorize(ctx);
    pb::InboxRequest req;
    req.set_agent(agent);
    req.set_limit(1000);
    pb::InboxResponse out;
    auto s = stub->Inbox(&ctx, req, &out);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return {out.messages().begin(), out.messages().end()};
  }

  uint64_t local_agents(node_process& at) {
    auto stub = pb::Admin::NewStub(at.channel);
    grpc::ClientContext ctx;
    at.authorize(ctx);
    pb::NodeInfoResponse out;
    EXPECT_TRUE(stub->NodeInfo(&ctx, pb::NodeInfoRequest{}, &out).ok());
    return out.agents();
  }

  test::etcd_process etcd_;
  std::filesystem::path dir_;
  std::vector<std::unique_ptr<node_process>> nodes_;
  std::map<shard_id, std::string> map_;
};

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
    auto stub = pb::Agents::NewStub(via->channel);
    grpc::ClientContext ctx;
    pb::GetManifestRequest req;
    req.set_agent(on_b[1]);
    pb::Manifest m;
    auto s = stub->GetManifest(&ctx, req, &m);
    ASSERT_TRUE(s.ok()) << via->id << ": " << s.error_message();
    EXPECT_EQ(m.id(), on_b[1]);
  }
}

// Verifies a direct message between agents of two nodes, sent through either node, lands once in the recipient's inbox; a retry with its id delivers nothing again.
TEST_F(Federation, DirectMessagesCrossNodesOnce) {
  auto alice = ids_on("node-a", 1).at(0);
  auto bob = ids_on("node-b", 1).at(0);
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
  auto alice = ids_on("node-a", 1).at(0);
  auto bob = ids_on("node-b", 1).at(0);
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
    {
      grpc::ClientContext read;
      pb::GetManifestRequest get;
      get.set_agent(bob);
      ASSERT_TRUE(agents(node("node-a"))->GetManifest(&read, get, req.mutable_manifest()).ok());
    }
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
  grpc::ClientContext ctx;
  pb::GetManifestRequest req;
  req.set_agent(bob);
  pb::Manifest m;
  ASSERT_TRUE(agents(node("node-b"))->GetManifest(&ctx, req, &m).ok());
  EXPECT_EQ(m.display_name(), "Bob the remote");
  EXPECT_EQ(m.status(), pb::AGENT_STATUS_RETIRED);
  pb::SendResponse refused;
  auto s = send(node("node-a"), alice, bob, "m-2", "too late", &refused);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << s.error_message();
}

// Verifies echo agents on two nodes answering each other stop after the hop limit, as on one node.
TEST_F(Federation, AutomaticRepliesAcrossNodesStopAtTheHopLimit) {
  auto a = ids_on("node-a", 1).at(0);
  auto b = ids_on("node-b", 1).at(0);
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

// A raw link to a node, as another node would open it.
struct raw_link {
  explicit raw_link(const std::shared_ptr<grpc::Channel>& ch, const std::string& token = {})
    : stub(pb::Federation::NewStub(ch)) {
    if (!token.empty())
      ctx.AddMetadata("authorization", "Bearer " + token);
    ctx.set_deadline(std::chrono::system_clock::now() + 10s);
    stream = stub->Link(&ctx);
  }
  std::unique_ptr<pb::Federation::Stub> stub;
  grpc::ClientContext ctx;
  std::unique_ptr<grpc::ClientReaderWriter<pb::PeerFrame, pb::PeerFrame>> stream;
};

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
  auto alice = ids_on("node-a", 1).at(0);
  auto bob = ids_on("node-b", 1).at(0);
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

// A node that can be killed and restarted on its store: short leases, so
// that its name is free again soon after a kill -9.
class FederationRestarts : public Federation {
protected:
  std::vector<std::string> extra_args() override {
    auto file = dir_ / "short-lease.yaml";
    std::ofstream(file) << "cluster:\n  lease_ttl_ms: 2000\n  keepalive_ms: 500\n";
    return {"--config", file.string()};
  }
};

// Verifies sends from an agent of one node to an agent of another, made while the recipient's node is killed -9 and retried with their ids after its restart, each land exactly once and in order: none acknowledged is lost, none doubled.
TEST_F(FederationRestarts, NothingAcknowledgedIsLostWhenTheOwnerIsKilled) {
  auto alice = ids_on("node-a", 1).at(0);
  auto bob = ids_on("node-b", 1).at(0);
  ASSERT_TRUE(introduce(node("node-a"), alice, pb::Behavior::KIND_SILENT).ok());
  ASSERT_TRUE(introduce(node("node-a"), bob, pb::Behavior::KIND_EXTERNAL).ok());
  auto attempt = [&](int i, std::chrono::milliseconds deadline) {
    pb::SendResponse out;
    auto s = send(node("node-a"), alice, bob, "m-" + std::to_string(i), "n" + std::to_string(i), &out, deadline);
    if (!s.ok()) {
      EXPECT_TRUE(s.error_code() == grpc::StatusCode::UNAVAILABLE || s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED)
        << s.error_code() << " " << s.error_message();
    }
    return s.ok();
  };
  // The client's loop: the same id until it is acknowledged.
  auto until_acknowledged = [&](int i) {
    for (int a = 0; a < 100; ++a) {
      if (attempt(i, 2s))
        return true;
      std::this_thread::sleep_for(100ms);
    }
    return false;
  };
  for (int i = 0; i < 20; ++i)
    ASSERT_TRUE(until_acknowledged(i)) << i;
  // kill -9: the next sends cannot be acknowledged; they wait at node-a.
  auto& b = node("node-b");
  b.channel.reset();
  b.proc.signal(SIGKILL);
  (void) b.proc.wait_exit(10s);
  int refused = 0;
  for (int i = 20; i < 30; ++i)
    refused += attempt(i, 300ms) ? 0 : 1;
  EXPECT_EQ(refused, 10) << "nothing is acknowledged while the owner is down";
  // Restarted on its store once its lease is gone (a new incarnation).
  for (int w = 0; w < 100 && etcd_.ctl("get /parley/members/node-b --keys-only").find("node-b") != std::string::npos; ++w)
    std::this_thread::sleep_for(100ms);
  auto restarted = std::make_unique<node_process>(etcd_, "node-b", (dir_ / "node-b").string(), 2, extra_args());
  ASSERT_TRUE(restarted->ready()) << restarted->proc.output();
  for (auto& n : nodes_)
    if (n->id == "node-b")
      n = std::move(restarted);
  for (int i = 20; i < 40; ++i)
    ASSERT_TRUE(until_acknowledged(i)) << "message " << i << " was never acknowledged";
  auto got = inbox(node("node-b"), bob);
  ASSERT_EQ(got.size(), 40u) << "acknowledged = delivered once";
  for (size_t i = 0; i < got.size(); ++i)
    EXPECT_EQ(got[i].id(), "m-" + std::to_string(i)) << "in order";
}

// Verifies a node restarted on a store that holds an agent of a shard another node owns now does not serve it: calls about it go to the owner.
TEST_F(FederationRestarts, AStoredAgentOfAShardOwnedElsewhereIsNotServed) {
  auto bob = ids_on("node-b", 1).at(0);
  ASSERT_TRUE(introduce(node("node-b"), bob, pb::Behavior::KIND_SILENT).ok());
  auto& b = node("node-b");
  b.channel.reset();
  b.proc.signal(SIGTERM);
  ASSERT_EQ(b.proc.wait_exit(20s), 0) << b.proc.output();
  // The shard goes to node-a, empty (what `parley node remove --lost` will do).
  char key[64];
  std::snprintf(key, sizeof key, "/parley/shards/%04u", static_cast<unsigned>(shard_of(bob)));
  auto put = etcd_.ctl(std::string{"put "} + key + " '{\"node\":\"node-a\",\"moving_to\":\"\"}'");
  ASSERT_NE(put.find("OK"), std::string::npos) << put;
  auto restarted = std::make_unique<node_process>(etcd_, "node-b", (dir_ / "node-b").string(), 2, extra_args());
  ASSERT_TRUE(restarted->ready()) << restarted->proc.output();
  EXPECT_NE(restarted->proc.output().find("1 stored agents are in shards other nodes own now"), std::string::npos)
    << restarted->proc.output();
  for (auto& n : nodes_)
    if (n->id == "node-b")
      n = std::move(restarted);
  EXPECT_EQ(local_agents(node("node-b")), 0u);
  for (auto* via : {&node("node-a"), &node("node-b")}) {
    auto stub = pb::Agents::NewStub(via->channel);
    grpc::ClientContext ctx;
    pb::GetManifestRequest req;
    req.set_agent(bob);
    pb::Manifest m;
    auto s = stub->GetManifest(&ctx, req, &m);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND) << via->id << ": " << s.error_message();
  }
}

} // namespace
} // namespace parley
