// parley agents ls|show|introduce|retire

#include <iostream>
#include <memory>

#include "cli.hpp"
#include "output.hpp"
#include "parley/v1/api.grpc.pb.h"

namespace parley::cli {

namespace pb = ::parley::v1;

namespace {

std::string status_label(pb::AgentStatus s) {
  return enum_label(pb::AgentStatus_Name(s), "AGENT_STATUS_");
}

void print_manifest(const session& s, const pb::Manifest& m) {
  if (s.json()) {
    print_json(m);
    return;
  }
  std::vector<std::string> skills;
  for (auto& sk : m.skills())
    skills.push_back(sk.name().empty() ? sk.id() : sk.id() + " (" + sk.name() + ")");
  print_fields(std::cout, {{"ID", m.id()},
                           {"NAME", m.display_name().empty() ? "-" : m.display_name()},
                           {"STATUS", status_label(m.status())},
                           {"ONLINE", yes_no(m.online())},
                           {"BIO", m.bio().empty() ? "-" : m.bio()},
                           {"SKILLS", joined(skills)},
                           {"ROOMS", joined(m.rooms())},
                           {"FOCUS", m.focus().empty() ? "-" : m.focus()},
                           {"ACTIVITIES", joined(m.activities())},
                           {"CAPACITY", std::to_string(m.capacity())},
                           {"LAST UPDATED", format_time(m.last_updated())},
                           {"LAST SEEN", format_time(m.last_seen())}});
}

// -- ls -------------------------------------------------------------------------

struct ls_options {
  std::string status;
  std::string skill;
  std::string room;
  page_options page;
};

int ls(const session& s, const ls_options& o) {
  auto stub = pb::Agents::NewStub(s.channel());
  pb::ListAgentsRequest req;
  if (!o.status.empty()) {
    pb::AgentStatus st = pb::AGENT_STATUS_UNSPECIFIED;
    pb::AgentStatus_Parse("AGENT_STATUS_" + upper(o.status), &st);
    req.set_status(st);
  }
  req.set_skill(o.skill);
  req.set_room(o.room);
  pb::ListAgentsResponse all;
  int rc = read_pages(
    s, o.page, req, all,
    [&](grpc::ClientContext& ctx, auto& rq, auto& page) { return stub->ListAgents(&ctx, rq, &page); },
    [](auto& r) -> auto& { return *r.mutable_agents(); });
  if (rc != exit_ok)
    return rc;
  if (s.json()) {
    print_json(all);
    return exit_ok;
  }
  table t{{"ID", "STATUS", "ROOMS", "SKILLS"}};
  for (auto& m : all.agents()) {
    std::vector<std::string> skills;
    for (auto& sk : m.skills())
      skills.push_back(sk.id());
    t.add({m.id(), status_label(m.status()), std::to_string(m.rooms_size()), joined(skills)});
  }
  t.print(std::cout);
  print_more_hint(s, "agents", all.next_page_token());
  return exit_ok;
}

// -- show, introduce, retire ----------------------------------------------------

int show(const session& s, const std::string& id) {
  auto stub = pb::Agents::NewStub(s.channel());
  pb::GetManifestRequest req;
  req.set_agent(id);
  pb::Manifest m;
  int rc = s.call([&](grpc::ClientContext* ctx) { return stub->GetManifest(ctx, req, &m); });
  if (rc == exit_ok)
    print_manifest(s, m);
  return rc;
}

struct introduce_options {
  std::string id;
  std::string name;
  std::string bio;
  std::vector<std::string> skills;
  std::vector<std::string> activities;
  std::string behavior = "external";
  uint32_t capacity = 0;
};

int introduce(const session& s, const introduce_options& o) {
  pb::IntroduceRequest req;
  auto* m = req.mutable_manifest();
  m->set_id(o.id);
  m->set_display_name(o.name);
  m->set_bio(o.bio);
  m->set_capacity(o.capacity);
  for (auto& a : o.activities)
    m->add_activities(a);
  for (auto& spec : o.skills) {
    // id:name, or just id.
    auto colon = spec.find(':');
    auto* sk = m->add_skills();
    sk->set_id(spec.substr(0, colon));
    if (colon != std::string::npos)
      sk->set_name(spec.substr(colon + 1));
  }
  pb::Behavior::Kind kind = pb::Behavior::KIND_EXTERNAL;
  pb::Behavior::Kind_Parse("KIND_" + upper(o.behavior), &kind);
  req.mutable_behavior()->set_kind(kind);
  auto stub = pb::Agents::NewStub(s.channel());
  pb::Manifest out;
  int rc = s.call([&](grpc::ClientContext* ctx) { return stub->Introduce(ctx, req, &out); });
  if (rc == exit_ok)
    print_manifest(s, out);
  return rc;
}

int retire(const session& s, const std::string& id) {
  auto stub = pb::Agents::NewStub(s.channel());
  pb::RetireRequest req;
  req.set_agent(id);
  pb::RetireResponse out;
  int rc = s.call([&](grpc::ClientContext* ctx) { return stub->Retire(ctx, req, &out); });
  if (rc != exit_ok)
    return rc;
  if (s.json())
    print_json(out);
  else
    std::cout << "agent '" << id << "' retired\n";
  return rc;
}

} // namespace

void add_agents_commands(CLI::App& app, session& s, action& run) {
  auto* agents = app.add_subcommand("agents", "List, show, introduce and retire agents");
  agents->require_subcommand(1);

  auto lo = std::make_shared<ls_options>();
  auto* ls_cmd = agents->add_subcommand("ls", "List agents sorted by id: ID STATUS ROOMS SKILLS");
  ls_cmd->add_option("--status", lo->status, "Only agents in this status")
    ->check(CLI::IsMember({"active", "busy", "idle", "retired"}));
  ls_cmd->add_option("--skill", lo->skill, "Only agents with this skill (id or name)");
  ls_cmd->add_option("--room", lo->room, "Only members of this room");
  add_page_options(*ls_cmd, lo->page, "agents");
  ls_cmd->callback([&s, &run, lo] { run = [&s, lo] { return ls(s, *lo); }; });

  auto id = std::make_shared<std::string>();
  auto* show_cmd = agents->add_subcommand("show", "Show an agent's manifest");
  show_cmd->add_option("ID", *id, "The agent")->required();
  show_cmd->callback([&s, &run, id] { run = [&s, id] { return show(s, *id); }; });

  auto io = std::make_shared<introduce_options>();
  auto* intro = agents->add_subcommand(
    "introduce", "Start an agent on the node (as that agent: --as ID, or as an admin)");
  intro->add_option("ID", io->id, "The new agent's id")->required();
  intro->add_option("--name", io->name, "Display name");
  intro->add_option("--bio", io->bio, "One paragraph about the agent");
  intro->add_option("--skill", io->skills, "A skill as id:name (repeatable)")->type_name("ID:NAME");
  intro->add_option("--activity", io->activities, "What the agent is doing (repeatable)");
  intro->add_option("--capacity", io->capacity, "Concurrent dialogues, 1 to 1024 (0: the node's default)");
  intro->add_option("--behavior", io->behavior,
                    "external: a process drives it over AgentLink; silent, echo, chatty: built in")
    ->capture_default_str()
    ->check(CLI::IsMember({"external", "silent", "echo", "chatty"}));
  intro->callback([&s, &run, io] { run = [&s, io] { return introduce(s, *io); }; });

  auto rid = std::make_shared<std::string>();
  auto* retire_cmd = agents->add_subcommand("retire", "Retire an agent and remove it from its rooms");
  retire_cmd->add_option("ID", *rid, "The agent")->required();
  retire_cmd->callback([&s, &run, rid] { run = [&s, rid] { return retire(s, *rid); }; });
}

} // namespace parley::cli
