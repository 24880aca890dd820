// parley node info|backup|drain|erase|erasure

#include <chrono>
#include <iostream>
#include <memory>
#include <optional>
#include <thread>

#include "cli.hpp"
#include "output.hpp"
#include "parley/v1/api.grpc.pb.h"

namespace parley::cli {

namespace pb = ::parley::v1;

namespace {

int info(const session& s) {
  auto stub = pb::Admin::NewStub(s.channel());
  pb::NodeInfoRequest req;
  pb::NodeInfoResponse out;
  int rc = s.call([&](grpc::ClientContext* ctx) { return stub->NodeInfo(ctx, req, &out); });
  if (rc != exit_ok)
    return rc;
  if (s.json()) {
    print_json(out);
    return exit_ok;
  }
  print_fields(std::cout, {{"NODE", out.node_id()},
                           {"VERSION", out.version()},
                           {"DURABILITY", out.durability()},
                           {"STARTED", format_time(out.started_at())},
                           {"DRAINING", yes_no(out.draining())},
                           {"AGENTS", std::to_string(out.agents())},
                           {"ROOMS", std::to_string(out.rooms())},
                           {"MESSAGES SENT", std::to_string(out.messages_sent())},
                           {"DELIVERIES", std::to_string(out.deliveries())},
                           {"TURNS GRANTED", std::to_string(out.turns_granted())},
                           {"CALLER", out.caller()},
                           {"SECURITY", out.security()},
                           {"SHARDS", std::to_string(out.shards())},
                           {"OUTBOX", std::to_string(out.outbox_pending())}});
  if (auto& h = out.hand_off(); h.running() || h.done() || !h.error().empty())
    print_fields(std::cout, {{"HAND-OFF", h.done() ? "done" : h.running() ? "running" : "stopped"},
                             {"SHARDS MOVED", std::to_string(h.moved())},
                             {"SHARDS LEFT", std::to_string(h.left())},
                             {"HAND-OFF ERROR", h.error().empty() ? std::string{"-"} : h.error()}});
  for (auto& m : out.members())
    std::cout << "member " << m.node() << " " << m.address() << " " << m.state() << " incarnation "
              << m.incarnation() << " shards " << m.shards() << "\n";
  return exit_ok;
}

int backup(const session& s, const std::string& dir) {
  auto stub = pb::Admin::NewStub(s.channel());
  pb::BackupRequest req;
  req.set_directory(dir);
  pb::BackupResponse out;
  int rc = s.call([&](grpc::ClientContext* ctx) { return stub->Backup(ctx, req, &out); });
  if (rc != exit_ok)
    return rc;
  if (s.json())
    print_json(out);
  else
    std::cout << "backup written to '" << out.directory() << "' on the node's host\n";
  return exit_ok;
}

struct drain_options {
  std::string node;
  bool hand_off = false;
  bool wait = false;
};

// The address of network member `node`, as the node called knows it, in
// `addr`; an exit code.
int address_of(const session& s, const std::string& node, std::string& addr) {
  auto stub = pb::Admin::NewStub(s.channel());
  pb::NodeInfoResponse out;
  if (int rc = s.call([&](grpc::ClientContext* ctx) { return stub->NodeInfo(ctx, pb::NodeInfoRequest{}, &out); });
      rc != exit_ok)
    return rc;
  addr = out.node_id() == node ? s.opt().server : "";
  for (auto& m : out.members())
    if (m.node() == node && addr.empty())
      addr = m.address();
  if (!addr.empty())
    return exit_ok;
  std::cerr << "error: node '" << node << "' is not a member of the network of node '" << out.node_id() << "'\n";
  return exit_not_found;
}

// Polls the node's hand-off until it is done (true) or stops (false).
bool watch_hand_off(const session& s) {
  auto stub = pb::Admin::NewStub(s.channel());
  for (uint32_t last = UINT32_MAX;;) {
    pb::NodeInfoResponse out;
    grpc::ClientContext ctx;
    s.prepare(ctx);
    auto st = stub->NodeInfo(&ctx, pb::NodeInfoRequest{}, &out);
    if (!st.ok()) {
      // Once every shard is gone the node leaves and stops answering.
      std::cout << "the node stopped answering (" << st.error_message() << ")\n";
      return last == 0;
    }
    auto& h = out.hand_off();
    if (h.left() != last && !s.json())
      std::cout << "moved " << h.moved() << ", left " << h.left()
                << (h.error().empty() ? "" : " (last error: " + h.error() + ")") << "\n";
    last = h.left();
    if (h.done())
      return true;
    if (!h.running()) {
      std::cerr << "error: the hand-off stopped: " << h.error() << "\n";
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
}

int drain(const session& s, const drain_options& d) {
  // The node named may be another member: the request goes to it.
  std::optional<global_options> there;
  std::optional<session> other;
  const session* target = &s;
  if (!d.node.empty()) {
    std::string addr;
    if (int rc = address_of(s, d.node, addr); rc != exit_ok)
      return rc;
    if (addr != s.opt().server) {
      there.emplace(s.opt());
      there->server = addr;
      other.emplace(*there);
      if (int rc = other->open(); rc != exit_ok)
        return rc;
      target = &*other;
    }
  }
  auto stub = pb::Admin::NewStub(target->channel());
  pb::DrainRequest req;
  req.set_node(d.node);
  req.set_hand_off(d.hand_off);
  pb::DrainResponse out;
  int rc = target->call([&](grpc::ClientContext* ctx) { return stub->Drain(ctx, req, &out); });
  if (rc != exit_ok)
    return rc;
  if (s.json())
    print_json(out);
  else if (d.hand_off)
    std::cout << "handing off the node's shards to the other nodes; it leaves the network when none is left\n";
  else
    std::cout << "node draining: new calls get UNAVAILABLE; stop parleyd with SIGTERM when done\n";
  if (d.hand_off && d.wait && !watch_hand_off(*target))
    return exit_failed;
  return exit_ok;
}

int remove_node(const session& s, const std::string& node, bool lost) {
  auto stub = pb::Admin::NewStub(s.channel());
  pb::RemoveNodeRequest req;
  req.set_node(node);
  req.set_lost(lost);
  pb::RemoveNodeResponse out;
  int rc = s.call([&](grpc::ClientContext* ctx) { return stub->RemoveNode(ctx, req, &out); });
  if (rc != exit_ok)
    return rc;
  if (s.json())
    print_json(out);
  else
    std::cout << "node '" << node << "' removed: its " << out.shards()
              << " shards start empty on the other nodes\n";
  return exit_ok;
}

void print_erasure(const pb::Erasure& e) {
  std::string fields;
  for (auto& f : e.fields())
    fields += (fields.empty() ? "" : ", ") + f;
  print_fields(std::cout, {{"AGENT", e.agent()},
                           {"ERASED", format_time(e.erased_at())},
                           {"BY", e.erased_by()},
                           {"FIELDS", fields.empty() ? "-" : fields},
                           {"MESSAGES", std::to_string(e.messages())},
                           {"INBOX ENTRIES", std::to_string(e.inbox_entries())},
                           {"EVENTS", std::to_string(e.events())}});
}

// Erase (or look up the tombstone of) an agent's personal data.
int erasure(const session& s, const std::string& agent, bool erase) {
  auto stub = pb::Admin::NewStub(s.channel());
  pb::EraseRequest req;
  req.set_agent(agent);
  pb::Erasure out;
  int rc = s.call([&](grpc::ClientContext* ctx) {
    return erase ? stub->Erase(ctx, req, &out) : stub->GetErasure(ctx, req, &out);
  });
  if (rc != exit_ok)
    return rc;
  if (s.json())
    print_json(out);
  else
    print_erasure(out);
  return exit_ok;
}

} // namespace

void add_node_commands(CLI::App& app, session& s, action& run) {
  auto* node = app.add_subcommand("node", "Inspect, back up and drain the node");
  node->require_subcommand(1);

  node->add_subcommand("info", "The node's id, version, durability and counters (also while draining)")
    ->callback([&s, &run] { run = [&s] { return info(s); }; });

  auto dir = std::make_shared<std::string>();
  auto* backup_cmd = node->add_subcommand(
    "backup", "Online backup of the node's store into DIR on the node's host (operators, admins; durable nodes)");
  backup_cmd->add_option("DIR", *dir, "The directory, as the node sees it (an absolute path is safest)")
    ->required();
  backup_cmd->callback([&s, &run, dir] { run = [&s, dir] { return backup(s, *dir); }; });

  auto d = std::make_shared<drain_options>();
  auto* drain_cmd = node->add_subcommand(
    "drain", "Refuse new calls (UNAVAILABLE), finish running ones, flush the store; with --hand-off, first move "
             "the node's shards to the other nodes of its network (operators, admins)");
  drain_cmd->add_option("NODE", d->node, "The node to drain (a member of the network of --server); default: that node");
  drain_cmd->add_flag("--hand-off", d->hand_off,
                      "Move every shard the node owns, with its data, to the other nodes; then it leaves the network");
  drain_cmd->add_flag("--wait", d->wait, "With --hand-off: show progress until every shard is moved");
  drain_cmd->callback([&s, &run, d] { run = [&s, d] { return drain(s, *d); }; });

  auto gone = std::make_shared<std::string>();
  auto lost = std::make_shared<bool>(false);
  auto* remove_cmd = node->add_subcommand(
    "remove", "Give the shards of NODE, gone for good and no longer a member, to the other nodes, empty "
              "(admins; NODE's agents and rooms are lost with its data)");
  remove_cmd->add_option("NODE", *gone, "The lost node")->required();
  remove_cmd->add_flag("--lost", *lost, "Required: NODE's data is lost, its shards start empty");
  remove_cmd->callback([&s, &run, gone, lost] { run = [&s, gone, lost] { return remove_node(s, *gone, *lost); }; });

  auto who = std::make_shared<std::string>();
  auto* erase_cmd = node->add_subcommand(
    "erase", "Erase AGENT's personal data (privacy law; admins): page, inbox, the content it sent, "
             "event details; leaves a tombstone");
  erase_cmd->add_option("AGENT", *who, "The agent")->required();
  erase_cmd->callback([&s, &run, who] { run = [&s, who] { return erasure(s, *who, true); }; });
  auto* tomb_cmd = node->add_subcommand("erasure", "The tombstone of AGENT's erasure (admins)");
  tomb_cmd->add_option("AGENT", *who, "The agent")->required();
  tomb_cmd->callback([&s, &run, who] { run = [&s, who] { return erasure(s, *who, false); }; });
}

} // namespace parley::cli
