#pragma once

// What the cluster tests share: real parleyd processes of one network
// (durable, async, each in its own directory) coordinated by a real etcd on
// /dev/shm, reached with the generated stubs; a fixture with two of them
// (or more: node_names) whose shards are all given out; and a raw
// Federation.Link, as a node would open it.

#include <gtest/gtest.h>

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <thread>

#include "parley/model/shard.hpp"
#include "parley/v1/api.grpc.pb.h"
#include "parley/v1/federation.grpc.pb.h"
#include "support/etcd_process.hpp"
#include "support/process.hpp"

namespace parley::cluster_test {

using namespace std::chrono_literals;
namespace pb = ::parley::v1;

inline const std::string parleyd = PARLEYD_PATH;

// Where a node runs: by default on loopback; or in network namespace
// `netns` (partition_test.cpp), listening on `host`, reaching etcd at `etcd`.
struct node_placement {
  std::string netns;
  std::string host = "127.0.0.1";
  std::string etcd;
};

// A parleyd of the network, durable (async) in its own directory.
inline std::vector<std::string> node_args(const test::etcd_process& etcd, const std::string& id, const std::string& dir,
                                   int min_members, const std::vector<std::string>& extra,
                                   const node_placement& at = {}) {
  std::vector<std::string> args;
  if (!at.netns.empty())
    args = {"/usr/sbin/ip", "netns", "exec", at.netns};
  std::vector<std::string> own{parleyd, "--node-id", id, "--listen", at.host + ":0", "--no-demo", "--etcd",
                               at.etcd.empty() ? etcd.endpoint() : at.etcd, "--min-members",
                               std::to_string(min_members), "--data-dir", dir, "--durability", "async",
                               "--log-level", "info"};
  args.insert(args.end(), own.begin(), own.end());
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

struct node_process {
  node_process(const test::etcd_process& etcd, const std::string& id, const std::string& dir, int min_members,
               const std::vector<std::string>& extra = {}, const node_placement& at = {})
    : id(id), proc(node_args(etcd, id, dir, min_members, extra, at), {}, {}, true) {}

  // Waits until it serves and is a member; its API address.
  bool ready() {
    if (!proc.wait_for_output("is a member of the network", 30s))
      return false;
    std::smatch m;
    static const std::regex listening{"gRPC API listening on ([0-9.]+:[0-9]+)"};
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
    const auto names = node_names();
    for (auto& id : names)
      nodes_.push_back(std::make_unique<node_process>(etcd_, id, (dir_ / id).string(), static_cast<int>(names.size()),
                                                      args_of(id), placement_of(id)));
    for (auto& n : nodes_) {
      ASSERT_TRUE(n->ready()) << n->proc.output();
      n->token = admin_token();
    }
    // Every shard has an owner, spread over both.
    for (int i = 0; i < 200 && read_map() < shard_count; ++i)
      std::this_thread::sleep_for(50ms);
    ASSERT_EQ(read_map(), shard_count);
    for (auto& id : names)
      ASSERT_GT(owned(id), 0u) << id;
  }

  /// The nodes of the network (all of them must be up before shards are
  /// given out).
  virtual std::vector<std::string> node_names() { return {"node-a", "node-b"}; }

  /// What every node is started with beyond the defaults.
  virtual std::vector<std::string> extra_args() { return {}; }
  /// What node `id` is started with beyond the defaults.
  virtual std::vector<std::string> args_of(const std::string& /*id*/) { return extra_args(); }
  /// Where node `id` runs (default: loopback, this namespace).
  virtual node_placement placement_of(const std::string& /*id*/) { return {}; }
  /// Short leases (2 s, kept alive every 0.5 s), so that a node's name is
  /// free again soon after a kill -9 and it can be restarted.
  std::vector<std::string> short_lease_args() {
    auto file = dir_ / "short-lease.yaml";
    std::ofstream(file) << "cluster:\n  lease_ttl_ms: 2000\n  keepalive_ms: 500\n";
    return {"--config", file.string()};
  }

  /// Kills `id` with SIGKILL and waits until etcd forgot it (its lease
  /// expired), reading every node's output meanwhile.
  void kill_node(const std::string& id) {
    auto& n = node(id);
    n.channel.reset();
    n.proc.signal(SIGKILL);
    (void) n.proc.wait_exit(10s);
    // By the clock: reading the outputs of nodes that are all down returns
    // at once.
    const auto end = std::chrono::steady_clock::now() + 15s;
    while (std::chrono::steady_clock::now() < end
           && etcd_.ctl("get /parley/members/" + id + " --keys-only").find(id) != std::string::npos) {
      drain_outputs(100ms);
      std::this_thread::sleep_for(50ms);
    }
  }

  /// Starts `id` again on its store; false if it did not become a member.
  bool restart_node(const std::string& id) {
    auto restarted = std::make_unique<node_process>(etcd_, id, (dir_ / id).string(),
                                                    static_cast<int>(nodes_.size()), args_of(id), placement_of(id));
    bool ok = restarted->ready();
    restarted->token = admin_token();
    for (auto& n : nodes_)
      if (n->id == id)
        n = std::move(restarted);
    return ok;
  }

  /// Reads what the nodes logged for about `d` (so that none blocks on a
  /// full pipe).
  void drain_outputs(std::chrono::milliseconds d) {
    for (auto& n : nodes_)
      n->proc.read_for(d / static_cast<int>(nodes_.size()));
  }

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
    // A failed test shows what the nodes logged.
    if (HasFailure())
      for (auto& n : nodes_) {
        n->proc.read_for(200ms);
        std::cerr << "---- " << n->id << " logged:\n" << n->proc.output() << "\n";
      }
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

  /// One agent id of node-a's shards and one of node-b's.
  std::pair<std::string, std::string> one_id_on_each() {
    return {ids_on("node-a", 1).at(0), ids_on("node-b", 1).at(0)};
  }

  grpc::Status get_manifest(node_process& via, const std::string& id, pb::Manifest* out) {
    auto stub = pb::Agents::NewStub(via.channel);
    grpc::ClientContext ctx;
    via.authorize(ctx);
    ctx.set_deadline(std::chrono::system_clock::now() + 20s);
    pb::GetManifestRequest req;
    req.set_agent(id);
    return stub->GetManifest(&ctx, req, out);
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

  // A room id whose shard `node` owns.
  std::string room_on(const std::string& node) {
    for (int i = 0; i < 10000; ++i) {
      auto id = "hall-" + std::to_string(i);
      if (map_[shard_of(id)] == node)
        return id;
    }
    throw std::runtime_error("no room id for " + node);
  }

  grpc::Status create_group(node_process& via, const std::string& creator, const std::string& id,
                            pb::SpeakerPolicy policy, bool invite_only, pb::Room* out) {
    grpc::ClientContext ctx;
    via.authorize(ctx);
    ctx.set_deadline(std::chrono::system_clock::now() + 20s);
    pb::CreateGroupRequest req;
    req.set_creator(creator);
    req.set_id(id);
    req.set_topic("across nodes");
    req.mutable_rules()->set_policy(policy);
    req.set_invite_only(invite_only);
    return pb::Rooms::NewStub(via.channel)->CreateGroup(&ctx, req, out);
  }

  grpc::Status join(node_process& via, const std::string& room, const std::string& agent) {
    grpc::ClientContext ctx;
    via.authorize(ctx);
    ctx.set_deadline(std::chrono::system_clock::now() + 20s);
    pb::JoinRequest req;
    req.set_room(room);
    req.set_agent(agent);
    pb::Room out;
    return pb::Rooms::NewStub(via.channel)->Join(&ctx, req, &out);
  }

  grpc::Status post(node_process& via, const std::string& from, const std::string& room, const std::string& id,
                    const std::string& text) {
    grpc::ClientContext ctx;
    via.authorize(ctx);
    ctx.set_deadline(std::chrono::system_clock::now() + 10s);
    pb::SendRequest req;
    req.mutable_message()->set_from(from);
    req.mutable_message()->set_to_room(room);
    req.mutable_message()->set_id(id);
    req.mutable_message()->set_content(text);
    pb::SendResponse out;
    return pb::Messages::NewStub(via.channel)->Send(&ctx, req, &out);
  }

  pb::Room get_room(node_process& via, const std::string& room) {
    grpc::ClientContext ctx;
    via.authorize(ctx);
    ctx.set_deadline(std::chrono::system_clock::now() + 20s);
    pb::GetRoomRequest req;
    req.set_room(room);
    pb::Room out;
    auto s = pb::Rooms::NewStub(via.channel)->GetRoom(&ctx, req, &out);
    EXPECT_TRUE(s.ok()) << via.id << ": " << s.error_message();
    return out;
  }

  /// Admin.Erase of `agent` through `via`.
  grpc::Status erase(node_process& via, const std::string& agent, pb::Erasure* out) {
    grpc::ClientContext ctx;
    via.authorize(ctx);
    ctx.set_deadline(std::chrono::system_clock::now() + 20s);
    pb::EraseRequest req;
    req.set_agent(agent);
    return pb::Admin::NewStub(via.channel)->Erase(&ctx, req, out);
  }

  std::vector<pb::Message> inbox(node_process& at, const std::string& agent) {
    auto stub = pb::Messages::NewStub(at.channel);
    grpc::ClientContext ctx;
    at.authorize(ctx);
    ctx.set_deadline(std::chrono::system_clock::now() + 20s);
    pb::InboxRequest req;
    req.set_agent(agent);
    req.set_limit(1000);
    pb::InboxResponse out;
    auto s = stub->Inbox(&ctx, req, &out);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return {out.messages().begin(), out.messages().end()};
  }

  pb::NodeInfoResponse info(node_process& at) {
    grpc::ClientContext ctx;
    at.authorize(ctx);
    ctx.set_deadline(std::chrono::system_clock::now() + 20s);
    pb::NodeInfoResponse out;
    EXPECT_TRUE(pb::Admin::NewStub(at.channel)->NodeInfo(&ctx, pb::NodeInfoRequest{}, &out).ok());
    return out;
  }

  uint64_t local_agents(node_process& at) { return info(at).agents(); }

  /// alice (silent) and carol (external) on node-a, bob (external) on
  /// node-b, all introduced through node-a: a sender, a local recipient
  /// and one across.
  struct sender_and_recipients {
    std::string alice, carol, bob;
  };
  sender_and_recipients introduce_alice_carol_bob() {
    auto on_a = ids_on("node-a", 2);
    sender_and_recipients out{on_a.at(0), on_a.at(1), ids_on("node-b", 1).at(0)};
    auto& a = node("node-a");
    EXPECT_TRUE(introduce(a, out.alice, pb::Behavior::KIND_SILENT).ok());
    EXPECT_TRUE(introduce(a, out.carol, pb::Behavior::KIND_EXTERNAL).ok());
    EXPECT_TRUE(introduce(a, out.bob, pb::Behavior::KIND_EXTERNAL).ok());
    return out;
  }

  /// Waits until `at`'s durable outbox is empty (every message it holds for
  /// other nodes was taken); false if it is not within `limit`.
  bool outbox_drained(node_process& at, std::chrono::seconds limit = 60s) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < end) {
      if (info(at).outbox_pending() == 0)
        return true;
      drain_outputs(200ms);
    }
    return false;
  }

  /// `agent`'s inbox once it holds `count` messages (or after `limit`).
  std::vector<pb::Message> inbox_of_size(node_process& at, const std::string& agent, size_t count,
                                         std::chrono::seconds limit = 60s) {
    const auto end = std::chrono::steady_clock::now() + limit;
    auto got = inbox(at, agent);
    while (got.size() < count && std::chrono::steady_clock::now() < end) {
      drain_outputs(200ms);
      got = inbox(at, agent);
    }
    return got;
  }

  /// The ids of `agent`'s inbox once it holds `count` messages (or after
  /// `limit`), in inbox order.
  std::vector<std::string> inbox_ids(node_process& at, const std::string& agent, size_t count,
                                     std::chrono::seconds limit = 60s) {
    std::vector<std::string> ids;
    for (auto& m : inbox_of_size(at, agent, count, limit))
      ids.push_back(m.id());
    return ids;
  }

  test::etcd_process etcd_;
  std::filesystem::path dir_;
  std::vector<std::unique_ptr<node_process>> nodes_;
  std::map<shard_id, std::string> map_;
};


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


} // namespace parley::cluster_test
