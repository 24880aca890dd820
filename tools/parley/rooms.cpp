// parley rooms ls|show|create|join|leave|history

#include <iostream>
#include <memory>

#include "cli.hpp"
#include "output.hpp"
#include "parley/v1/api.grpc.pb.h"

namespace parley::cli {

namespace pb = ::parley::v1;

namespace {

std::string policy_label(pb::SpeakerPolicy p) {
  // UNSPECIFIED means NONE (proto/parley/v1/api.proto).
  return p == pb::SPEAKER_POLICY_UNSPECIFIED ? "none"
                                              : enum_label(pb::SpeakerPolicy_Name(p), "SPEAKER_POLICY_");
}

std::string kind_label(pb::RoomKind k) {
  return enum_label(pb::RoomKind_Name(k), "ROOM_KIND_");
}

std::string limit_label(uint64_t n, const std::string& unit) {
  return n == 0 ? "none" : std::to_string(n) + unit;
}

void print_room(const session& s, const pb::Room& r) {
  if (s.json()) {
    print_json(r);
    return;
  }
  auto& rules = r.rules();
  print_fields(std::cout, {{"ID", r.id()},
                           {"KIND", kind_label(r.kind())},
                           {"TOPIC", r.topic().empty() ? "-" : r.topic()},
                           {"CREATED BY", r.created_by().empty() ? "-" : r.created_by()},
                           {"CREATED", format_time(r.created_at())},
                           {"LAST ACTIVITY", format_time(r.last_activity())},
                           {"OPEN", yes_no(r.open())},
                           {"INVITE ONLY", yes_no(r.invite_only())},
                           {"POLICY", policy_label(rules.policy())},
                           {"MAX MESSAGES", limit_label(rules.max_messages_per_turn(), " per turn")},
                           {"TURN SLOT", limit_label(static_cast<uint64_t>(rules.turn_slot_ms()), " ms")},
                           {"MAX ROUNDS", limit_label(rules.max_rounds(), "")}});
  std::cout << '\n';
  table t{{"MEMBER", "ROLE", "JOINED"}};
  for (auto& m : r.members())
    t.add({m.agent(), enum_label(pb::RoomRole_Name(m.role()), "ROOM_ROLE_"), format_time(m.joined_at())});
  t.print(std::cout);
}

int room_call(const session& s, const std::function<grpc::Status(grpc::ClientContext*, pb::Room*)>& f) {
  pb::Room r;
  int rc = s.call([&](grpc::ClientContext* ctx) { return f(ctx, &r); });
  if (rc == exit_ok)
    print_room(s, r);
  return rc;
}

// -- ls -------------------------------------------------------------------------

struct ls_options {
  std::string member;
  page_options page;
};

int ls(const session& s, const ls_options& o) {
  auto stub = pb::Rooms::NewStub(s.channel());
  pb::ListRoomsRequest req;
  req.set_member(o.member);
  pb::ListRoomsResponse all;
  int rc = read_pages(
    s, o.page, req, all,
    [&](grpc::ClientContext& ctx, auto& rq, auto& page) { return stub->ListRooms(&ctx, rq, &page); },
    [](auto& r) -> auto& { return *r.mutable_rooms(); });
  if (rc != exit_ok)
    return rc;
  if (s.json()) {
    print_json(all);
    return exit_ok;
  }
  table t{{"ID", "KIND", "MEMBERS", "POLICY", "OPEN", "TOPIC"}};
  for (auto& r : all.rooms())
    t.add({r.id(), kind_label(r.kind()), std::to_string(r.members_size()),
           policy_label(r.rules().policy()), yes_no(r.open()), r.topic()});
  t.print(std::cout);
  print_more_hint(s, "rooms", all.next_page_token());
  return exit_ok;
}

// -- create ---------------------------------------------------------------------

struct create_options {
  std::string creator;
  std::string id;
  std::string topic;
  std::string policy = "none";
  uint32_t max_messages = 0;
  int64_t slot_ms = 0;
  uint32_t max_rounds = 0;
  bool invite_only = false;
};

int create(const session& s, const create_options& o) {
  pb::CreateGroupRequest req;
  req.set_creator(agent_or_caller(s, o.creator, "--creator"));
  if (req.creator().empty())
    return exit_usage;
  req.set_id(o.id);
  req.set_topic(o.topic);
  req.set_invite_only(o.invite_only);
  auto* rules = req.mutable_rules();
  pb::SpeakerPolicy p = pb::SPEAKER_POLICY_NONE;
  pb::SpeakerPolicy_Parse("SPEAKER_POLICY_" + upper(o.policy), &p);
  rules->set_policy(p);
  rules->set_max_messages_per_turn(o.max_messages);
  rules->set_turn_slot_ms(o.slot_ms);
  rules->set_max_rounds(o.max_rounds);
  auto stub = pb::Rooms::NewStub(s.channel());
  return room_call(s, [&](grpc::ClientContext* ctx, pb::Room* out) {
    return stub->CreateGroup(ctx, req, out);
  });
}

// -- join, leave, show ----------------------------------------------------------

struct member_options {
  std::string room;
  std::string agent;
};

int join(const session& s, const member_options& o) {
  pb::JoinRequest req;
  req.set_room(o.room);
  req.set_agent(agent_or_caller(s, o.agent, "--agent"));
  if (req.agent().empty())
    return exit_usage;
  auto stub = pb::Rooms::NewStub(s.channel());
  return room_call(s, [&](grpc::ClientContext* ctx, pb::Room* out) { return stub->Join(ctx, req, out); });
}

int leave(const session& s, const member_options& o) {
  pb::LeaveRequest req;
  req.set_room(o.room);
  req.set_agent(agent_or_caller(s, o.agent, "--agent"));
  if (req.agent().empty())
    return exit_usage;
  auto stub = pb::Rooms::NewStub(s.channel());
  pb::LeaveResponse out;
  int rc = s.call([&](grpc::ClientContext* ctx) { return stub->Leave(ctx, req, &out); });
  if (rc != exit_ok)
    return rc;
  if (s.json())
    print_json(out);
  else
    std::cout << "agent '" << req.agent() << "' left room '" << req.room() << "'\n";
  return exit_ok;
}

int show(const session& s, const std::string& room) {
  pb::GetRoomRequest req;
  req.set_room(room);
  auto stub = pb::Rooms::NewStub(s.channel());
  return room_call(s, [&](grpc::ClientContext* ctx, pb::Room* out) { return stub->GetRoom(ctx, req, out); });
}

// -- history --------------------------------------------------------------------

struct history_options {
  std::string room;
  std::vector<std::string> pair;
  bool oldest_first = false;
  int64_t since = 0;
  page_options page;
};

int history(const session& s, const history_options& o) {
  if (o.room.empty() == o.pair.empty()) {
    std::cerr << "error: name a room (ROOM) or a pair of agents (--pair A B), not both\n";
    return exit_usage;
  }
  pb::HistoryRequest req;
  if (o.pair.empty()) {
    req.set_room(o.room);
  } else {
    req.mutable_pair()->set_a(o.pair.at(0));
    req.mutable_pair()->set_b(o.pair.at(1));
  }
  req.set_oldest_first(o.oldest_first);
  req.set_since(o.since);
  auto stub = pb::Rooms::NewStub(s.channel());
  pb::HistoryResponse all;
  int rc = read_pages(
    s, o.page, req, all,
    [&](grpc::ClientContext& ctx, auto& rq, auto& page) { return stub->History(&ctx, rq, &page); },
    [](auto& r) -> auto& { return *r.mutable_messages(); });
  if (rc != exit_ok)
    return rc;
  if (s.json()) {
    print_json(all);
    return exit_ok;
  }
  table t{{"TIME", "FROM", "CONTENT"}};
  for (auto& m : all.messages())
    t.add({format_time(m.sent_at()), m.from(), m.content()});
  t.print(std::cout);
  print_more_hint(s, "messages", all.next_page_token());
  return exit_ok;
}

} // namespace

void add_rooms_commands(CLI::App& app, session& s, action& run) {
  auto* rooms = app.add_subcommand("rooms", "List, show, create, join and leave rooms; read history");
  rooms->require_subcommand(1);

  auto lo = std::make_shared<ls_options>();
  auto* ls_cmd = rooms->add_subcommand("ls", "List rooms sorted by id: ID KIND MEMBERS POLICY OPEN TOPIC");
  ls_cmd->add_option("--member", lo->member, "Only rooms this agent is a member of");
  add_page_options(*ls_cmd, lo->page, "rooms");
  ls_cmd->callback([&s, &run, lo] { run = [&s, lo] { return ls(s, *lo); }; });

  auto room = std::make_shared<std::string>();
  auto* show_cmd = rooms->add_subcommand("show", "Show a room, its rules and its members");
  show_cmd->add_option("ROOM", *room, "The room")->required();
  show_cmd->callback([&s, &run, room] { run = [&s, room] { return show(s, *room); }; });

  auto co = std::make_shared<create_options>();
  auto* create_cmd = rooms->add_subcommand("create", "Create a group room owned by --creator");
  create_cmd->add_option("--creator", co->creator, "The owner (default: --as)");
  create_cmd->add_option("--id", co->id, "The room's id (default: the node picks room-<n>)");
  create_cmd->add_option("--topic", co->topic, "What the room is about");
  create_cmd->add_option("--policy", co->policy, "Who speaks when; none: members post freely")
    ->capture_default_str()
    ->check(CLI::IsMember({"none", "fifo", "round_robin", "priority", "random"}));
  create_cmd->add_option("--max-messages", co->max_messages, "Messages per turn (0: unlimited)");
  create_cmd->add_option("--slot-ms", co->slot_ms, "Time slot per turn in ms (0: none)")
    ->check(CLI::NonNegativeNumber);
  create_cmd->add_option("--max-rounds", co->max_rounds, "Close the room after this many rounds (0: never)");
  create_cmd->add_flag("--invite-only", co->invite_only, "Only invited agents may join");
  create_cmd->callback([&s, &run, co] { run = [&s, co] { return create(s, *co); }; });

  auto jo = std::make_shared<member_options>();
  auto* join_cmd = rooms->add_subcommand("join", "Join a room");
  join_cmd->add_option("ROOM", jo->room, "The room")->required();
  join_cmd->add_option("--agent", jo->agent, "The agent joining (default: --as)");
  join_cmd->callback([&s, &run, jo] { run = [&s, jo] { return join(s, *jo); }; });

  auto leo = std::make_shared<member_options>();
  auto* leave_cmd = rooms->add_subcommand("leave", "Leave a room");
  leave_cmd->add_option("ROOM", leo->room, "The room")->required();
  leave_cmd->add_option("--agent", leo->agent, "The agent leaving (default: --as)");
  leave_cmd->callback([&s, &run, leo] { run = [&s, leo] { return leave(s, *leo); }; });

  auto ho = std::make_shared<history_options>();
  auto* history_cmd = rooms->add_subcommand(
    "history", "A room's or a pair's messages, newest first: TIME FROM CONTENT (durable nodes only)");
  auto* room_opt = history_cmd->add_option("ROOM", ho->room, "The room");
  history_cmd->add_option("--pair", ho->pair, "The direct messages between two agents")
    ->expected(2)
    ->type_name("A B")
    ->excludes(room_opt);
  history_cmd->add_flag("--oldest-first", ho->oldest_first, "Oldest first, from --since");
  history_cmd->add_option("--since", ho->since, "Only messages sent at or after this time (ms since the epoch)");
  add_page_options(*history_cmd, ho->page, "messages");
  history_cmd->callback([&s, &run, ho] { run = [&s, ho] { return history(s, *ho); }; });
}

} // namespace parley::cli
