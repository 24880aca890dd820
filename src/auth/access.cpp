#include "parley/auth/access.hpp"

#include <string>

namespace parley {

std::string_view to_string(action a) noexcept {
  switch (a) {
    case action::introduce: return "introduce";
    case action::retire: return "retire";
    case action::update_manifest: return "update_manifest";
    case action::read_manifest: return "read_manifest";
    case action::list_agents: return "list_agents";
    case action::tune_attention: return "tune_attention";
    case action::create_room: return "create_room";
    case action::join: return "join";
    case action::leave: return "leave";
    case action::invite: return "invite";
    case action::set_role: return "set_role";
    case action::close_room: return "close_room";
    case action::read_room: return "read_room";
    case action::read_history: return "read_history";
    case action::take_turn: return "take_turn";
    case action::send: return "send";
    case action::read_inbox: return "read_inbox";
    case action::mark_read: return "mark_read";
    case action::link: return "link";
    case action::subscribe: return "subscribe";
    case action::node_info: return "node_info";
    case action::backup: return "backup";
    case action::drain: return "drain";
    case action::maintain: return "maintain";
    case action::erase: return "erase";
    case action::federate: return "federate";
    case action::move_shards: return "move_shards";
    case action::remove_node: return "remove_node";
  }
  return "unknown";
}

namespace {

enum class rule : uint8_t {
  anyone,          // every authenticated principal
  staff_reads,     // admin, operator, observer; agents by room visibility
  lifecycle,       // admin, operator; an agent for itself
  self_only,       // admin; an agent for itself
  staff_or_self,   // close: admin, operator (as staff); an agent for itself
  members_only,    // history: admin; an agent in the room or the pair
  subscribe,       // staff: all; an agent: its own events or a room it is in
  operations,      // admin, operator
  admin_only,
  nodes_only,      // federate: admin, node
};

rule rule_of(action a) noexcept {
  switch (a) {
    case action::read_manifest:
    case action::list_agents:
    case action::node_info:
      return rule::anyone;
    case action::read_room:
      return rule::staff_reads;
    case action::introduce:
    case action::retire:
    case action::update_manifest:
    case action::tune_attention:
    case action::create_room:
    case action::join:
    case action::leave:
      return rule::lifecycle;
    case action::invite:
    case action::set_role:
    case action::take_turn:
    case action::send:
    case action::read_inbox:
    case action::mark_read:
    case action::link:
      return rule::self_only;
    case action::close_room:
      return rule::staff_or_self;
    case action::read_history:
      return rule::members_only;
    case action::subscribe:
      return rule::subscribe;
    case action::backup:
    case action::drain:
    case action::maintain:
      return rule::operations;
    case action::erase:
      return rule::admin_only;
    case action::federate:
      return rule::nodes_only;
    case action::move_shards:
    case action::remove_node:
      return rule::admin_only;
  }
  return rule::admin_only;
}

bool is_staff(const principal& p) noexcept {
  return p.role == principal_role::admin || p.role == principal_role::operator_ || p.role == principal_role::observer;
}

bool member_of(const principal& p, const room* r) noexcept {
  return r && p.role == principal_role::agent && r->find(p.name) != nullptr;
}

// The agent acted as: X itself, or (a pair) X or the other one.
bool acts_as_self(const principal& p, const access_target& t) noexcept {
  return p.role == principal_role::agent && !t.agent.empty()
         && (p.name == t.agent || (!t.other.empty() && p.name == t.other));
}

std::string quoted(std::string_view x) {
  std::string out{"'"};
  out += x;
  out += "'";
  return out;
}

// "agent 'mallory'", "operator 'oncall'", "observer".
std::string who(const principal& p) {
  std::string out{to_string(p.role)};
  if (!p.name.empty())
    out += " " + quoted(p.name);
  return out;
}

// What was attempted, for a person: "send as agent 'alice'".
std::string attempt(action a, const access_target& t) {
  const auto agent = t.agent.empty() ? std::string{} : "agent " + quoted(t.agent);
  const auto room = t.in_room ? "room " + quoted(t.in_room->id) : std::string{};
  auto as = [&](std::string verb) { return agent.empty() ? verb : verb + " as " + agent; };
  auto of = [&](std::string what) { return agent.empty() ? what : what + " of " + agent; };
  switch (a) {
    case action::introduce: return "introduce " + (agent.empty() ? "agents" : agent);
    case action::retire: return "retire " + (agent.empty() ? "agents" : agent);
    case action::update_manifest: return of("change the manifest");
    case action::read_manifest: return "read manifests";
    case action::list_agents: return "list agents";
    case action::tune_attention: return of("tune the attention");
    case action::create_room:
      return t.other.empty() ? as("create a room")
                             : "create the direct room of " + quoted(t.agent) + " and " + quoted(t.other);
    case action::join: return as("join a room");
    case action::leave: return as("leave a room");
    case action::invite: return as("invite into " + (room.empty() ? "a room" : room));
    case action::set_role: return as("change roles in " + (room.empty() ? "a room" : room));
    case action::close_room: return as("close " + (room.empty() ? "a room" : room));
    case action::read_room: return "read " + (room.empty() ? "rooms" : room);
    case action::read_history:
      if (!room.empty())
        return "read the messages of " + room;
      return "read the direct messages of " + quoted(t.agent) + " and " + quoted(t.other);
    case action::take_turn: return as("take turns");
    case action::send: return as("send");
    case action::read_inbox: return of("read the inbox");
    case action::mark_read: return of("mark read the messages");
    case action::link: return as("link");
    case action::subscribe:
      if (!room.empty())
        return "follow the events of " + room;
      return agent.empty() ? "follow all events" : "follow the events about " + agent;
    case action::node_info: return "read the node's information";
    case action::backup: return "back up the node";
    case action::drain: return "drain the node";
    case action::maintain: return "run the node's upkeep";
    case action::erase: return of("erase the personal data");
    case action::federate: return "open a federation link";
    case action::move_shards: return "move shards between nodes";
    case action::remove_node: return "remove a lost node from the network";
  }
  return std::string{to_string(a)};
}

unexpected denied(const principal& p, action a, const access_target& t, std::string_view why) {
  return unexpected{errc::permission_denied,
                    who(p) + " may not " + attempt(a, t) + ": " + std::string{why}};
}

} // namespace

bool may_see_room(const principal& p, const room& r) noexcept {
  if (is_staff(p))
    return true;
  const bool public_room = r.kind == room_kind::group && r.access == room_access::open;
  return public_room || member_of(p, &r);
}

expected<void> authorize(const principal& p, action a, const access_target& t) {
  if (p.is_admin())
    return {};
  // A node's identity carries links between nodes, nothing else: what a
  // link carries is authorized by the principals its requests name.
  if (p.role == principal_role::node && rule_of(a) != rule::nodes_only)
    return denied(p, a, t, "a node's identity only opens federation links");
  switch (rule_of(a)) {
    case rule::anyone:
      return {};
    case rule::staff_reads:
      if (t.in_room && may_see_room(p, *t.in_room))
        return {};
      return denied(p, a, t, "the room is direct or invite-only and the agent is not a member");
    case rule::lifecycle:
      if (p.role == principal_role::operator_ || acts_as_self(p, t))
        return {};
      return denied(p, a, t,
                    p.role == principal_role::observer ? "observers change nothing"
                                                       : "an agent acts only as itself");
    case rule::self_only:
      if (acts_as_self(p, t))
        return {};
      return denied(p, a, t,
                    is_staff(p) ? "only the agent itself or an admin may"
                                : "an agent acts only as itself");
    case rule::staff_or_self:
      if (p.role == principal_role::operator_ || acts_as_self(p, t))
        return {};
      return denied(p, a, t,
                    is_staff(p) ? "observers change nothing" : "an agent acts only as itself");
    case rule::members_only:
      if (t.in_room ? member_of(p, t.in_room) : acts_as_self(p, t))
        return {};
      return denied(p, a, t,
                    t.in_room ? "only the room's members (and admins) read its messages"
                              : "only the two agents of a pair (and admins) read their messages");
    case rule::subscribe:
      if (is_staff(p) || (!t.agent.empty() && p.name == t.agent) || member_of(p, t.in_room))
        return {};
      return denied(p, a, t,
                    "an agent follows its own events (filter agent = itself) or those of a room "
                    "it is a member of");
    case rule::operations:
      if (p.role == principal_role::operator_)
        return {};
      return denied(p, a, t, "only operators and admins run the node");
    case rule::admin_only:
      return denied(p, a, t, "only admins may");
    case rule::nodes_only:
      if (p.role == principal_role::node)
        return {};
      return denied(p, a, t, "only the nodes of the network may");
  }
  return denied(p, a, t, "unknown action");
}

} // namespace parley
