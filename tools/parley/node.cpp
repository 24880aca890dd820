// parley node info|backup|drain|erase|erasure

#include <iostream>
#include <memory>

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
                           {"SECURITY", out.security()}});
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

int drain(const session& s) {
  auto stub = pb::Admin::NewStub(s.channel());
  pb::DrainRequest req;
  pb::DrainResponse out;
  int rc = s.call([&](grpc::ClientContext* ctx) { return stub->Drain(ctx, req, &out); });
  if (rc != exit_ok)
    return rc;
  if (s.json())
    print_json(out);
  else
    std::cout << "node draining: new calls get UNAVAILABLE; stop parleyd with SIGTERM when done\n";
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

  node->add_subcommand("drain", "Refuse new calls (UNAVAILABLE), finish running ones, flush the store (operators, admins)")
    ->callback([&s, &run] { run = [&s] { return drain(s); }; });

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
