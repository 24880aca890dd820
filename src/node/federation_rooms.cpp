// Rooms across nodes. A room lives on the owner of its id's shard: calls
// about it go there (forward_room), and its moderator reaches members of
// other nodes through the peer gateway. This file serves what other nodes
// ask of this one's rooms (serve_room_call, serve_room_post) and of its
// members (notices, and a room's posts, one delivery per node).

#include <spdlog/spdlog.h>

#include "node/node_impl.hpp"
#include "parley/storage/message_log.hpp"

namespace parley {

namespace {

using op = federation::remote_request::room_op;

} // namespace

task<expected<federation::remote_reply>> node::impl::forward_room(federation::remote_request req) {
  req.what = federation::remote_request::kind::room_call;
  auto target = federation::target_of(req);
  co_return co_await forward(std::move(req), std::move(target));
}

task<expected<void>> node::impl::agent_exists_async(agent_id id) {
  if (rt.place(id).elsewhere()) {
    auto r = co_await forward(federation::remote_request::kind::read_manifest, node_principal(), id);
    if (!r)
      co_return unexpected{r.error()};
    if (r->man.status == agent_status::retired)
      co_return unexpected{errc::failed_precondition, "agent '" + id + "' is retired"};
    co_return expected<void>{};
  }
  auto a = co_await live_agent_async(std::move(id));
  if (!a)
    co_return unexpected{a.error()};
  co_return expected<void>{};
}

task<expected<federation::remote_reply>> node::impl::serve_room_call(node& n, federation::remote_request r) {
  federation::remote_reply out;
  auto as_reply = [&](expected<void> ok) -> expected<federation::remote_reply> {
    if (!ok)
      return unexpected{ok.error()};
    return out;
  };
  auto with_room = [&](expected<room> got) -> expected<federation::remote_reply> {
    if (!got)
      return unexpected{got.error()};
    out.found_room = std::move(*got);
    return out;
  };
  // A notice for a member of this node: to its actor, in the link's order.
  auto notify = [&](caf::message notice) -> expected<federation::remote_reply> {
    auto a = agent(r.id);
    if (!a)
      return unexpected{a.error()};
    caf::anon_send(*a, std::move(notice));
    return out;
  };
  switch (r.op) {
    case op::create_group: {
      group_spec spec{r.spec.id, r.spec.topic, r.spec.rules, r.spec.access};
      co_return with_room(co_await create_group(std::move(r.caller), std::move(r.by), std::move(spec)));
    }
    case op::create_direct:
      if (r.agents.size() != 2)
        co_return unexpected{errc::invalid_argument, "a direct room's creation names its two agents"};
      co_return with_room(co_await n.create_direct_async(std::move(r.caller), r.agents[0], r.agents[1]));
    case op::join:
      co_return with_room(co_await n.join_async(std::move(r.caller), std::move(r.room), std::move(r.id)));
    // What members send a room goes straight to its moderator, through the
    // room's relay: in the link's order (a behaviour's post, then its yield).
    case op::admit: {
      // The member's node checked that the caller may act as it.
      auto m = room_actor(r.room);
      if (!m)
        co_return unexpected{m.error()};
      co_return with_room(co_await ask_async_on<room>(relay_for(r.room), *m, atoms::admit_member::value, r.room, r.id));
    }
    case op::leave:
    case op::request_turn:
    case op::yield_turn: {
      auto m = room_actor(r.room);
      if (!m)
        co_return unexpected{m.error()};
      if (auto ok = validate_agent_id(r.id); !ok)
        co_return unexpected{ok.error()};
      const auto& relay = relay_for(r.room);
      if (r.op == op::leave)
        co_return as_reply(
          co_await ask_async_on<caf::ok_atom>(relay, *m, atoms::remove_member::value, r.room, r.caller, r.id, r.flag));
      if (r.op == op::request_turn)
        co_return as_reply(co_await ask_async_on<caf::ok_atom>(relay, *m, atoms::request_turn::value, r.room, r.caller, r.id));
      co_return as_reply(co_await ask_async_on<caf::ok_atom>(relay, *m, atoms::yield_turn::value, r.room, r.caller, r.id));
    }
    case op::invite:
      co_return as_reply(co_await n.invite_async(std::move(r.caller), std::move(r.room), std::move(r.by), std::move(r.id), r.role));
    case op::set_role:
      co_return as_reply(co_await n.set_role_async(std::move(r.caller), std::move(r.room), std::move(r.by), std::move(r.id), r.role));
    case op::close:
      co_return as_reply(co_await n.close_room_async(std::move(r.caller), std::move(r.room), std::move(r.by)));
    case op::read:
      co_return with_room(co_await n.get_room_async(std::move(r.caller), std::move(r.room)));
    case op::read_turns: {
      auto t = co_await n.turns_async(std::move(r.caller), std::move(r.room));
      if (!t)
        co_return unexpected{t.error()};
      out.turns = std::move(*t);
      co_return out;
    }
    case op::saturated: {
      auto m = room_actor(r.room);
      if (!m)
        co_return unexpected{m.error()};
      // Through the room's relay too: after the posts sent before it.
      caf::anon_send(relay_for(r.room), atoms::relay::value,
                     relay_job{[m = *m, room = r.room, who = r.id, on = r.flag](caf::event_based_actor* self) {
                       self->send(m, atoms::member_saturated::value, room, who, on);
                     }});
      co_return out;
    }
    case op::joined: co_return notify(caf::make_message(atoms::joined_room::value, r.room));
    case op::left: co_return notify(caf::make_message(atoms::left_room::value, r.room));
    case op::invited: co_return notify(caf::make_message(atoms::invited::value, r.room, r.by, r.role));
    case op::granted: co_return notify(caf::make_message(atoms::turn_granted::value, r.room, r.turn));
  }
  co_return unexpected{errc::invalid_argument, "unknown room call"};
}

task<expected<federation::remote_reply>> node::impl::serve_room_post(federation::remote_request r) {
  if (!r.msg.to.is_room())
    co_return unexpected{errc::invalid_argument, "a room post names a room"};
  auto m = room_actor(r.msg.to.id);
  if (!m)
    co_return unexpected{m.error()};
  // The sending node's agent actor checked and prepared the message.
  const auto& relay = relay_for(r.msg.to.id);
  auto got = co_await ask_async_on<send_receipt>(relay, *m, atoms::post_to_room::value, std::move(r.msg), r.flag);
  if (!got)
    co_return unexpected{got.error()};
  federation::remote_reply out;
  out.status = got->status;
  out.sent_at = got->sent_at;
  co_return out;
}

// The room's node stored the post and its inbox entries for its own
// members; this node stores its members' entries (under its own delivery
// number), then hands each the post, as a moderator here would.
task<expected<federation::remote_reply>> node::impl::serve_room_delivery(federation::remote_request r) {
  federation::remote_reply out;
  std::vector<agent_id> here;
  std::vector<caf::actor> actors;
  for (auto& id : r.agents) {
    if (rt.place(id).at != placement::where::here) {
      out.agents.push_back(id); // the sender resolves it again
      continue;
    }
    auto a = agent(id);
    if (!a)
      continue; // retired or erased since: nobody to deliver to
    here.push_back(id);
    actors.push_back(*a);
  }
  if (here.empty())
    co_return out;
  auto& m = r.msg;
  if (store) {
    m.delivery = rt.next_delivery();
    m.status = message_status::delivered;
    storage::write_batch b;
    storage::add_message(b, m, here, m.delivery);
    // The room's node sends it again until it hears that this node took it
    // (its durable outbox): a post stored here already was delivered here.
    storage::guard_idempotency(b, m, rt.now() - rt.limits.idempotency_window_ms);
    // Through the room's relay: its posts are stored and handed over in
    // the order they came.
    auto ok = co_await commit_async(std::move(b), relay_for(m.to.id));
    if (!ok)
      co_return unexpected{ok.error()};
    if (ok->already_present)
      co_return out;
  } else {
    m.delivery = 0; // the room node's number means nothing here
  }
  auto post = caf::make_message(atoms::deliver_post::value, std::move(m));
  for (auto& a : actors)
    caf::anon_send(a, post);
  co_return out;
}

} // namespace parley
