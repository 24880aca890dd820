// A node in a network (node_config::cluster): it serves the agents of the
// shards it owns, hands the calls about the others to their owners
// (forward), and serves what other nodes hand it (serve_remote), after
// checking that it owns the shard at the epoch the sender resolved.

#include <random>

#include <spdlog/spdlog.h>

#include "actors/peer_gateway.hpp"
#include "node/node_impl.hpp"
#include "node/pair_history.hpp"

namespace parley {

namespace {

// Attempts of a forwarded call whose owner was stale (each resolves again),
// and the pause between them (the watch brings a new map within ~10 ms).
constexpr int max_forward_attempts = 4;
constexpr std::chrono::milliseconds stale_pause{50};

unexpected moving(const placement& where, const std::string& id) {
  return unexpected{errc::unavailable, "the shard of '" + id + "' (" + std::to_string(where.shard) + ") is moving to node '"
                                         + where.node + "'; retry shortly"};
}

unexpected no_owner(const placement& where, const std::string& id) {
  return unexpected{errc::unavailable, "the shard of '" + id + "' (" + std::to_string(where.shard)
                                         + ") has no owner yet: the network is still assigning shards; retry shortly"};
}

} // namespace

void node::impl::join_network() {
  rt.node_id = cfg.node_id;
  if (!cfg.cluster)
    return;
  rt.cluster = cfg.cluster;
  rt.peers = cfg.peers;
  room_salt = std::random_device{}();
  rt.gateway = sys.spawn<peer_gateway>(&rt, outbox_options{cfg.outbox_limit, cfg.outbox_wait});
  rt.routes.set_remote([this](const std::string& id) -> caf::actor {
    if (rt.place(id).at == placement::where::here)
      return {};
    return rt.gateway;
  });
}

void node::impl::resume_outbox() {
  if (!store)
    return;
  auto entries = storage::load_outbox(*store);
  if (!entries) {
    spdlog::error("the durable outbox cannot be read; its messages wait there: {}", to_string(entries.error()));
    return;
  }
  if (entries->empty())
    return;
  rt.outbox_seq = entries->back().seq; // oldest first: the last is the highest
  if (!rt.gateway) {
    spdlog::warn("{} message(s) for agents of other nodes wait in the outbox: they go when this node runs in its "
                 "network again",
                 entries->size());
    return;
  }
  spdlog::info("sending again {} message(s) for agents of other nodes from the outbox", entries->size());
  caf::anon_send(rt.gateway, atoms::resume_outbox::value, std::move(*entries));
}

expected<void> node::impl::serves(const std::string& id) const {
  auto where = rt.place(id);
  switch (where.at) {
    case placement::where::here: return {};
    case placement::where::nowhere: return no_owner(where, id);
    case placement::where::moving: return moving(where, id);
    case placement::where::there: break;
  }
  return unexpected{errc::unavailable, "'" + id + "' is in shard " + std::to_string(where.shard) + ", served by node '"
                                         + where.node + "': this call is not carried to it yet; call that node"};
}

std::optional<node::serving_node> node::served_elsewhere(const std::string& id) const {
  auto where = impl_->rt.place(id);
  if (where.at != placement::where::there)
    return std::nullopt;
  serving_node out{where.node, {}};
  for (auto& m : impl_->rt.cluster->members())
    if (m.node == where.node)
      out.address = m.address;
  return out;
}

task<expected<federation::remote_reply>> node::impl::forward(federation::remote_request req, std::string target) {
  // A shard that is moving is served again within a move's time: the call
  // waits for it, up to its timeout.
  const auto deadline = std::chrono::steady_clock::now() + cfg.call_timeout;
  for (int attempt = 1;; ++attempt) {
    if (stopping)
      co_return stopped();
    auto where = rt.place(target);
    if (where.at == placement::where::nowhere)
      co_return no_owner(where, target);
    if (where.at == placement::where::moving) {
      if (std::chrono::steady_clock::now() >= deadline)
        co_return moving(where, target);
      --attempt;
      if (auto ok = co_await pause_async(stale_pause); !ok)
        co_return unexpected{ok.error()};
      continue;
    }
    if (where.at == placement::where::here)
      co_return unexpected{errc::unavailable, "'" + target + "' is moving to this node; retry shortly"};
    req.shard = where.shard;
    req.epoch = where.epoch;
    auto r = co_await ask_node(where.node, req);
    if (r || !federation::is_stale_owner(r.error()) || attempt == max_forward_attempts)
      co_return r;
    if (auto ok = co_await pause_async(stale_pause); !ok)
      co_return unexpected{ok.error()};
  }
}

task<expected<federation::remote_reply>> node::impl::forward(federation::remote_request::kind what, principal caller,
                                                             agent_id id, uint32_t limit) {
  federation::remote_request req;
  req.what = what;
  req.caller = std::move(caller);
  req.id = id;
  req.limit = limit;
  co_return co_await forward(std::move(req), std::move(id));
}

task<expected<federation::remote_reply>> node::serve_remote(federation::remote_request r) {
  using kind = federation::remote_request::kind;
  auto& im = *impl_;
  if (!im.rt.cluster)
    co_return unexpected{errc::failed_precondition, "node '" + im.cfg.node_id + "' is not part of a network"};
  im.rt.counters.peer_requests_served.fetch_add(1, std::memory_order_relaxed);
  // A room's delivery names members of many shards: each is checked.
  if (r.what == kind::room_delivery)
    co_return co_await im.serve_room_delivery(std::move(r));
  // A poll of this node's event log is not about a shard either, nor is a
  // scrub of what it keeps of an erased agent.
  if (r.what == kind::events_since)
    co_return co_await im.serve_events(*this, std::move(r));
  if (r.what == kind::scrub_agent)
    co_return co_await im.serve_erasure(*this, std::move(r));
  if (r.what == kind::move_shards) {
    if (auto ok = move_shards_to(r.caller, r.id, r.limit); !ok)
      co_return unexpected{ok.error()};
    co_return federation::remote_reply{};
  }
  // A listing is about this node's agents or rooms, not a shard.
  if (r.what == kind::list_agents || r.what == kind::list_rooms) {
    if (r.limit == 0 || r.limit > max_list_page)
      co_return unexpected{errc::invalid_argument, "a listing's page size must be 1 to " + std::to_string(max_list_page)};
    federation::remote_reply out;
    if (r.what == kind::list_rooms) {
      auto page = im.rooms_here(*this, r.caller, r.limit, r.after);
      if (!page)
        co_return unexpected{page.error()};
      out.rooms = std::move(page->rooms);
      out.next_cursor = std::move(page->next);
      co_return out;
    }
    if (auto ok = authorize(r.caller, action::list_agents); !ok)
      co_return unexpected{ok.error()};
    agent_filter f;
    f.status = r.status;
    f.skill = std::move(r.skill);
    auto page = im.agents_here(*this, r.caller, f, r.limit, r.after);
    if (!page)
      co_return unexpected{page.error()};
    out.manifests = std::move(page->agents);
    out.next_cursor = std::move(page->next);
    co_return out;
  }
  // A shard moving between nodes: to its new owner, its files.
  if (r.what == kind::shard_chunk || r.what == kind::adopt_shard)
    co_return co_await im.serve_shard_move(std::move(r));
  auto owner = im.rt.cluster->owner(r.shard);
  // A shard that is moving is served by nobody: the asker waits for the
  // move to end and resolves its owner again.
  if (owner.node != im.cfg.node_id || owner.epoch != r.epoch || !owner.moving_to.empty()
      || im.rt.adopting[r.shard].load(std::memory_order_acquire))
    co_return unexpected{federation::stale_owner(r.shard, r.epoch, owner.node, owner.epoch)};
  // The request's agent (or room) must be in the shard it names: a peer
  // cannot reach one of another shard by naming a shard this node owns.
  const std::string& target = federation::target_of(r);
  if (shard_of(target) != r.shard || (r.what == kind::deliver_direct && r.msg.to.is_room()))
    co_return unexpected{errc::invalid_argument, std::string{"a "} + std::string{federation::to_string(r.what)}
                                                   + " request for '" + target + "' named shard "
                                                   + std::to_string(r.shard) + ", which is not its shard"};
  federation::remote_reply out;
  switch (r.what) {
    case kind::deliver_direct: {
      // The sending node authorized the send as r.msg.from; this node checks
      // the message as it would its own and commits it under its key.
      if (auto ok = validate(r.msg); !ok)
        co_return unexpected{ok.error()};
      auto a = im.agent(target);
      if (!a)
        co_return unexpected{a.error()};
      // Straight into the agent's mailbox before this suspends: requests
      // served in the link's order reach each agent in that order.
      auto send = [&](const std::shared_ptr<reply_sink<send_receipt>>& sink) {
        caf::anon_send(*a, atoms::deliver_direct::value, std::move(r.msg), receipt_reply{sink, 0});
      };
      auto rs = co_await im.call_direct<send_receipt>(1, send);
      auto& got = rs.front();
      if (!got)
        co_return unexpected{got.error()};
      out.status = got->status;
      out.sent_at = got->sent_at;
      co_return out;
    }
    case kind::send_as: {
      auto sent = co_await send_async(std::move(r.caller), std::move(r.msg));
      if (!sent)
        co_return unexpected{sent.error()};
      out.status = sent->status;
      out.sent_at = sent->sent_at;
      out.msg = std::move(*sent);
      co_return out;
    }
    case kind::read_manifest: {
      auto m = co_await get_manifest_async(std::move(r.caller), std::move(r.id));
      if (!m)
        co_return unexpected{m.error()};
      out.man = std::move(*m);
      co_return out;
    }
    case kind::introduce: {
      agent_spec spec;
      spec.man = std::move(r.man);
      spec.behavior = std::move(r.behavior);
      auto id = spec.man.id;
      if (auto ok = co_await introduce_async(r.caller, std::move(spec)); !ok)
        co_return unexpected{ok.error()};
      auto m = co_await get_manifest_async(std::move(r.caller), std::move(id));
      if (!m)
        co_return unexpected{m.error()};
      out.man = std::move(*m);
      co_return out;
    }
    case kind::retire: {
      if (auto ok = co_await retire_async(std::move(r.caller), std::move(r.id)); !ok)
        co_return unexpected{ok.error()};
      co_return out;
    }
    case kind::update_manifest: {
      auto m = co_await update_manifest_async(std::move(r.caller), std::move(r.man));
      if (!m)
        co_return unexpected{m.error()};
      out.man = std::move(*m);
      co_return out;
    }
    case kind::room_call: co_return co_await im.serve_room_call(*this, std::move(r));
    case kind::room_post: co_return co_await im.serve_room_post(std::move(r));
    case kind::room_delivery:
    case kind::list_agents:
    case kind::list_rooms:
    case kind::events_since:
    case kind::scrub_agent:
    case kind::shard_chunk:
    case kind::adopt_shard:
    case kind::move_shards: break; // above
    case kind::erase: co_return co_await im.serve_erasure(*this, std::move(r));
    case kind::read_history: {
      // Read from the store on this thread (the link's), as the API would.
      // flag: the half this node keeps of a pair split over two nodes (its
      // agent agents[0]'s received messages); the asker merges the halves.
      if (r.room.empty() && r.agents.size() != 2)
        co_return unexpected{errc::invalid_argument, "a history read names a room or a pair"};
      if (r.flag && r.room.empty())
        if (auto ok = authorize(r.caller, action::read_history, {r.agents[0], r.agents[1]}); !ok)
          co_return unexpected{ok.error()};
      auto page = r.room.empty() ? (r.flag ? kept_pair_history(im, r.agents[0], r.agents[1], r.query)
                                           : direct_history(r.caller, r.agents[0], r.agents[1], r.query))
                                 : room_history(r.caller, r.room, r.query);
      if (!page)
        co_return unexpected{page.error()};
      out.messages = std::move(page->messages);
      out.next_cursor = std::move(page->next_cursor);
      co_return out;
    }
    case kind::mark_read: {
      if (auto ok = co_await mark_read_async(std::move(r.caller), std::move(r.id), std::move(r.deliveries)); !ok)
        co_return unexpected{ok.error()};
      co_return out;
    }
    case kind::read_inbox: {
      // Read from the store on this thread (the link's), as the API would.
      auto got = inbox(r.caller, r.id, r.limit);
      if (!got)
        co_return unexpected{got.error()};
      out.messages = std::move(*got);
      co_return out;
    }
  }
  co_return unexpected{errc::invalid_argument, "unknown request kind"};
}

} // namespace parley
