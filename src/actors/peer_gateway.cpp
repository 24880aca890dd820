#include "actors/peer_gateway.hpp"

#include <spdlog/spdlog.h>

namespace parley {

namespace {

using retry_remote = caf::atom_constant<caf::atom("remretry")>;

} // namespace

peer_gateway::peer_gateway(caf::actor_config& cfg, runtime* rt, outbox_options outbox)
  : caf::event_based_actor(cfg), rt_(rt), outbox_opts_(outbox) {
  // A message this gateway cannot carry: a request gets an error, anything
  // else is dropped (it named no agent).
  set_default_handler([](caf::scheduled_actor*, caf::message_view& x) -> caf::result<caf::message> {
    return to_caf(errc::unavailable, "this request cannot go to an agent of another node yet: "
                                       + x.content().stringify().substr(0, 80));
  });
}

void peer_gateway::start(federation::remote_request req, const std::string& target,
                         std::function<void(expected<federation::remote_reply>)> answer) {
  const auto id = next_id_++;
  calls_.emplace(id, call{std::move(req), target, std::move(answer), 0, 0});
  dispatch(id);
}

void peer_gateway::tell(federation::remote_request req, const std::string& target) {
  auto what = std::string{federation::to_string(req.what)};
  start(std::move(req), target, [this, target, what](expected<federation::remote_reply> r) {
    if (!r) {
      rt_->counters.refused.add();
      spdlog::warn("a {} for '{}' on another node was not carried: {}", what, target, to_string(r.error()));
    }
  });
}

void peer_gateway::dispatch(uint64_t id) {
  auto it = calls_.find(id);
  if (it == calls_.end())
    return;
  auto& c = it->second;
  ++c.attempts;
  auto where = rt_->place(c.target);
  if (where.at == placement::where::nowhere)
    return finish(id, unexpected{errc::unavailable, "the shard of '" + c.target + "' (" + std::to_string(where.shard)
                                                      + ") has no owner yet; retry shortly"});
  // A shard between owners: wait for the move to end (bounded).
  if (where.at == placement::where::moving && c.moving_waits++ < max_moving_waits) {
    --c.attempts;
    delayed_send(this, stale_pause, retry_remote::value, id);
    return;
  }
  if (where.at == placement::where::moving)
    return finish(id, unexpected{errc::unavailable, "the shard of '" + c.target + "' is still moving to node '"
                                                      + where.node + "'; retry shortly"});
  if (where.at == placement::where::here)
    return finish(id, unexpected{errc::unavailable, "agent '" + c.target
                                                      + "' is moving to this node; retry shortly"});
  c.req.shard = where.shard;
  c.req.epoch = where.epoch;
  // The answer comes on the transport's thread: back into this actor,
  // while the actor system lives.
  auto gate = rt_->gate;
  caf::actor me = caf::actor_cast<caf::actor>(this);
  rt_->peers->call(where.node, c.req, [gate, me, id](expected<federation::remote_reply> r) {
    gate->run([&] { caf::anon_send(me, atoms::remote_answer::value, remote_result{id, std::move(r)}); });
  });
}

void peer_gateway::finish(uint64_t id, expected<federation::remote_reply> r) {
  auto it = calls_.find(id);
  if (it == calls_.end())
    return;
  auto answer = std::move(it->second.answer);
  calls_.erase(it);
  answer(std::move(r));
}

caf::behavior peer_gateway::make_behavior() {
  caf::message_handler agents{
    [this](atoms::remote_answer, remote_result& res) {
      auto it = calls_.find(res.id);
      if (it == calls_.end())
        return;
      if (!res.reply && federation::is_stale_owner(res.reply.error()) && it->second.attempts < max_attempts) {
        delayed_send(this, stale_pause, retry_remote::value, res.id);
        return;
      }
      finish(res.id, std::move(res.reply));
    },
    [this](retry_remote, uint64_t id) { dispatch(id); },
    // A direct message from an agent here to one there: through the
    // durable outbox, answered with the owner's receipt or, if the owner
    // has not answered within outbox_options::wait, `sent`.
    [this](atoms::deliver_direct, message& m) -> caf::result<send_receipt> {
      auto rp = make_response_promise<send_receipt>();
      enqueue(storage::outbox_entry{0, storage::outbox_entry::kind::direct, std::move(m), {}}, rp);
      return rp;
    },
    // A behaviour's message (an automatic reply): nobody waits for it.
    // (A room's posts for members elsewhere come as deliver_room_post.)
    [this](atoms::deliver_post, message& m) {
      enqueue(storage::outbox_entry{0, storage::outbox_entry::kind::direct, std::move(m), {}}, std::nullopt);
    },
  };
  return agents.or_else(room_handlers()).or_else(outbox_handlers());
}

} // namespace parley
