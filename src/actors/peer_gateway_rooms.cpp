// The peer gateway's part in rooms across nodes: an agent here asking a
// room of another node (post, turns, admission, leaving, saturation), and a
// room here telling members of other nodes (notices, and its posts, carried
// once per node).

#include <map>

#include <spdlog/spdlog.h>

#include "actors/peer_gateway.hpp"

namespace parley {

namespace {

using kind = federation::remote_request::kind;
using op = federation::remote_request::room_op;

federation::remote_request room_call(op what, principal caller, room_id r, agent_id who) {
  federation::remote_request req;
  req.what = kind::room_call;
  req.op = what;
  req.caller = std::move(caller);
  req.room = std::move(r);
  req.id = std::move(who);
  return req;
}

} // namespace

template <class T, class Pick>
caf::result<T> peer_gateway::ask(federation::remote_request req, const std::string& target, Pick pick) {
  auto rp = make_response_promise<T>();
  start(std::move(req), target, [rp, pick](expected<federation::remote_reply> r) mutable {
    if (!r)
      rp.deliver(to_caf(r.error()));
    else
      rp.deliver(pick(*r));
  });
  return rp;
}

void peer_gateway::deliver_to_members(message m, std::vector<agent_id> members) {
  // One outbox entry per node; members whose shard has no owner or is
  // moving wait together in one entry, resolved again as it is sent.
  std::map<std::string, std::vector<agent_id>> by_node;
  std::vector<agent_id> unsettled;
  for (auto& id : members) {
    auto where = rt_->place(id);
    if (where.at == placement::where::there) {
      by_node[where.node].push_back(std::move(id));
    } else if (where.at != placement::where::here) {
      unsettled.push_back(std::move(id));
    } else {
      // Its shard came here after the room looked: the room stored no
      // inbox entry for it (it was elsewhere), so it is not delivered.
      rt_->counters.refused.add();
      spdlog::warn("a post of room '{}' for '{}' was not delivered: its shard moved here meanwhile", m.to.id, id);
    }
  }
  if (!unsettled.empty())
    by_node[{}] = std::move(unsettled);
  for (auto& [node, ids] : by_node)
    enqueue(storage::outbox_entry{0, storage::outbox_entry::kind::room_delivery, m, std::move(ids)}, std::nullopt);
}

caf::message_handler peer_gateway::room_handlers() {
  return {
    // An agent here posts into a room elsewhere.
    [this](atoms::post_to_room, message& m, bool record_outcome) -> caf::result<send_receipt> {
      federation::remote_request req;
      req.what = kind::room_post;
      req.caller = principal::admin(rt_->node_id);
      req.flag = record_outcome;
      auto target = m.to.id;
      req.msg = std::move(m);
      return ask<send_receipt>(std::move(req), target,
                               [](federation::remote_reply& r) { return send_receipt{r.status, r.sent_at}; });
    },
    [this](atoms::request_turn, const room_id& r, const principal& p, const agent_id& who) {
      return ask<caf::ok_atom>(room_call(op::request_turn, p, r, who), r,
                               [](federation::remote_reply&) { return caf::ok_atom::value; });
    },
    [this](atoms::yield_turn, const room_id& r, const principal& p, const agent_id& who) {
      return ask<caf::ok_atom>(room_call(op::yield_turn, p, r, who), r,
                               [](federation::remote_reply&) { return caf::ok_atom::value; });
    },
    // The agent here was allowed to join (its node checked the caller).
    [this](atoms::admit_member, const room_id& r, const agent_id& who) {
      return ask<room>(room_call(op::admit, principal::admin(rt_->node_id), r, who), r,
                       [](federation::remote_reply& rep) { return std::move(rep.found_room); });
    },
    [this](atoms::remove_member, const room_id& r, const principal& p, const agent_id& who, bool retiring) {
      auto req = room_call(op::leave, p, r, who);
      req.flag = retiring;
      return ask<caf::ok_atom>(std::move(req), r, [](federation::remote_reply&) { return caf::ok_atom::value; });
    },
    [this](atoms::member_saturated, const room_id& r, const agent_id& who, bool on) {
      auto req = room_call(op::saturated, principal::admin(rt_->node_id), r, who);
      req.flag = on;
      tell(std::move(req), r);
    },
    // A room here tells a member elsewhere.
    [this](atoms::member_notice, const agent_id& who, const caf::message& notice) {
      auto req = room_call(op::joined, principal::admin(rt_->node_id), {}, who);
      if (notice.match_elements<atoms::joined_room, room_id>()) {
        req.room = notice.get_as<room_id>(1);
      } else if (notice.match_elements<atoms::left_room, room_id>()) {
        req.op = op::left;
        req.room = notice.get_as<room_id>(1);
      } else if (notice.match_elements<atoms::invited, room_id, agent_id, room_role>()) {
        req.op = op::invited;
        req.room = notice.get_as<room_id>(1);
        req.by = notice.get_as<agent_id>(2);
        req.role = notice.get_as<room_role>(3);
      } else if (notice.match_elements<atoms::turn_granted, room_id, uint64_t>()) {
        req.op = op::granted;
        req.room = notice.get_as<room_id>(1);
        req.turn = notice.get_as<uint64_t>(2);
      } else {
        spdlog::error("peer gateway: a notice for '{}' it cannot carry: {}", who, to_string(notice));
        return;
      }
      tell(std::move(req), who);
    },
    [this](atoms::deliver_room_post, message& m, std::vector<agent_id>& members) {
      deliver_to_members(std::move(m), std::move(members));
    },
  };
}

} // namespace parley
