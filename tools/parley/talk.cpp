// parley send; parley turn request|yield|show

#include <iostream>
#include <iterator>
#include <memory>

#include <nlohmann/json.hpp>

#include "cli.hpp"
#include "output.hpp"
#include "parley/v1/api.grpc.pb.h"

namespace parley::cli {

namespace pb = ::parley::v1;

namespace {

// -- send -----------------------------------------------------------------------

struct send_options {
  std::string from;
  std::string to_agent;
  std::string to_room;
  std::string id;
  std::string reply_to;
  bool json_content = false;
  std::string text;
};

int send(const session& s, const send_options& o) {
  pb::SendRequest req;
  auto* m = req.mutable_message();
  m->set_from(agent_or_caller(s, o.from, "--from"));
  if (m->from().empty())
    return exit_usage;
  if (!o.to_agent.empty())
    m->set_to_agent(o.to_agent);
  else
    m->set_to_room(o.to_room);
  m->set_id(o.id);
  m->set_reply_to(o.reply_to);
  std::string text = o.text;
  if (text == "-") {
    // From stdin, without the one newline that ends the last line (as $(...) drops it).
    text.assign(std::istreambuf_iterator<char>{std::cin}, std::istreambuf_iterator<char>{});
    if (!text.empty() && text.back() == '\n')
      text.pop_back();
  }
  if (o.json_content) {
    // Checked here too, so that a typo is a usage error and not a round trip.
    auto doc = nlohmann::json::parse(text, nullptr, false);
    if (doc.is_discarded() || !(doc.is_object() || doc.is_array())) {
      std::cerr << "error: --json-content: TEXT must be a JSON object or array\n";
      return exit_usage;
    }
    m->set_content_type("json");
  }
  m->set_content(text);
  auto stub = pb::Messages::NewStub(s.channel());
  pb::SendResponse out;
  int rc = s.call([&](grpc::ClientContext* ctx) { return stub->Send(ctx, req, &out); });
  if (rc != exit_ok)
    return rc;
  if (s.json()) {
    print_json(out);
  } else {
    std::cout << "sent " << out.id() << " to "
              << (o.to_agent.empty() ? "room '" + o.to_room + "'" : "agent '" + o.to_agent + "'")
              << ": " << enum_label(pb::MessageStatus_Name(out.status()), "MESSAGE_STATUS_")
              << " at " << format_time(out.sent_at()) << '\n';
  }
  return exit_ok;
}

// -- turn -----------------------------------------------------------------------

void print_turns(const session& s, const std::string& room, const pb::TurnState& t) {
  if (s.json()) {
    print_json(t);
    return;
  }
  std::string speaker = "-";
  if (t.has_current()) {
    auto& g = t.current();
    speaker = g.speaker() + " (turn " + std::to_string(g.turn()) + ", round "
              + std::to_string(g.round()) + ", since " + format_time(g.granted_at());
    if (g.deadline() != 0)
      speaker += ", until " + format_time(g.deadline());
    speaker += ")";
  }
  print_fields(std::cout, {{"ROOM", room},
                           {"SPEAKER", speaker},
                           {"MESSAGES", std::to_string(t.messages_in_turn()) + " in this turn"},
                           {"WAITING", joined(t.waiting())},
                           {"GRANTED", std::to_string(t.turns_granted()) + " turns, "
                                         + std::to_string(t.rounds()) + " rounds"},
                           {"CLOSED", yes_no(t.closed())}});
}

struct turn_options {
  std::string room;
  std::string agent;
};

int change_turn(const session& s, const turn_options& o, bool request) {
  pb::TurnRequest req;
  req.set_room(o.room);
  req.set_agent(agent_or_caller(s, o.agent, "--agent"));
  if (req.agent().empty())
    return exit_usage;
  auto stub = pb::Turns::NewStub(s.channel());
  pb::TurnState out;
  int rc = s.call([&](grpc::ClientContext* ctx) {
    return request ? stub->RequestTurn(ctx, req, &out) : stub->YieldTurn(ctx, req, &out);
  });
  if (rc == exit_ok)
    print_turns(s, o.room, out);
  return rc;
}

int show_turns(const session& s, const std::string& room) {
  pb::GetTurnsRequest req;
  req.set_room(room);
  auto stub = pb::Turns::NewStub(s.channel());
  pb::TurnState out;
  int rc = s.call([&](grpc::ClientContext* ctx) { return stub->GetTurns(ctx, req, &out); });
  if (rc == exit_ok)
    print_turns(s, room, out);
  return rc;
}

} // namespace

void add_send_command(CLI::App& app, session& s, action& run) {
  auto o = std::make_shared<send_options>();
  auto* cmd = app.add_subcommand("send", "Send a message to an agent or a room");
  cmd->add_option("--from", o->from, "The sender (default: --as)");
  auto* to = cmd->add_option_group("recipient", "Where the message goes");
  to->add_option("--to-agent", o->to_agent, "The recipient agent");
  to->add_option("--to-room", o->to_room, "The recipient room");
  to->require_option(1);
  cmd->add_option("--id", o->id,
                  "Idempotency key: a retry with the same --from and --id delivers nothing again");
  cmd->add_option("--reply-to", o->reply_to, "The id of the message answered");
  cmd->add_flag("--json-content", o->json_content, "TEXT is a JSON object or array");
  cmd->add_option("TEXT", o->text, "The content; - reads it from stdin")->required();
  cmd->callback([&s, &run, o] { run = [&s, o] { return send(s, *o); }; });
}

void add_turn_commands(CLI::App& app, session& s, action& run) {
  auto* turn = app.add_subcommand("turn", "Ask for, give back and show speaking turns");
  turn->require_subcommand(1);
  for (bool request : {true, false}) {
    auto o = std::make_shared<turn_options>();
    auto* cmd = turn->add_subcommand(request ? "request" : "yield",
                                     request ? "Ask for the turn in a room (granted at once if unmoderated)"
                                             : "Give the turn back (FAILED_PRECONDITION if not held)");
    cmd->add_option("ROOM", o->room, "The room")->required();
    cmd->add_option("--agent", o->agent, "The agent (default: --as)");
    cmd->callback([&s, &run, o, request] {
      run = [&s, o, request] { return change_turn(s, *o, request); };
    });
  }
  auto room = std::make_shared<std::string>();
  auto* show = turn->add_subcommand("show", "Show who speaks and who waits in a room");
  show->add_option("ROOM", *room, "The room")->required();
  show->callback([&s, &run, room] { run = [&s, room] { return show_turns(s, *room); }; });
}

} // namespace parley::cli
