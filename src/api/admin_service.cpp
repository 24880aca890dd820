// Admin: node information, backups, drain and erasure of personal data.

#include <map>

#include "api/convert.hpp"
#include "api/handler.hpp"
#include "parley/auth/access.hpp"

namespace parley::api {

namespace {

class admin_service final : public pb::Admin::Service {
public:
  explicit admin_service(api_state& st) : st_(st) {}

  grpc::Status NodeInfo(grpc::ServerContext* ctx, const pb::NodeInfoRequest*,
                        pb::NodeInfoResponse* out) override {
    // Answered while draining too: operators watch the drain with it.
    auto who = caller_of(*ctx, st_);
    if (!who)
      return to_status(who.error());
    if (auto ok = authorize(*who, action::node_info); !ok)
      return to_status(ok.error());
    auto s = st_.n.stats();
    auto& cfg = st_.n.config();
    out->set_node_id(cfg.node_id);
    out->set_version(PARLEY_VERSION);
    out->set_durability(std::string{to_string(cfg.durability)});
    out->set_agents(s.agents);
    out->set_agents_active(s.agents_active);
    out->set_rooms(s.rooms);
    out->set_messages_sent(s.messages_sent);
    out->set_deliveries(s.deliveries);
    out->set_turns_granted(s.turns_granted);
    out->set_peer_requests_served(s.peer_requests_served);
    out->set_outbox_pending(s.outbox_pending);
    out->set_started_at(st_.started_at);
    out->set_draining(st_.draining.load());
    out->set_caller(to_string(*who));
    out->set_security(st_.security);
    if (auto& net = cfg.cluster) {
      std::map<std::string, uint32_t> shards;
      for (uint32_t x = 0; x < shard_count; ++x) {
        auto o = net->owner(static_cast<shard_id>(x));
        ++shards[o.moving_to.empty() ? o.node : o.moving_to];
      }
      for (auto& m : net->members()) {
        auto* pm = out->add_members();
        pm->set_node(m.node);
        pm->set_address(m.address);
        pm->set_state(std::string{coordination::to_string(m.state)});
        pm->set_incarnation(m.incarnation);
        pm->set_shards(shards[m.node]);
      }
      auto h = st_.n.hand_off_progress();
      out->set_shards(h.left);
      auto* ph = out->mutable_hand_off();
      ph->set_running(h.running);
      ph->set_done(h.done);
      ph->set_moved(h.moved);
      ph->set_left(h.left);
      ph->set_error(h.error);
    } else {
      out->set_shards(shard_count);
    }
    return grpc::Status::OK;
  }

  grpc::Status Backup(grpc::ServerContext* ctx, const pb::BackupRequest* req,
                      pb::BackupResponse* out) override {
    return handle(st_, ctx, [&](const principal& p) {
      if (req->directory().empty())
        return grpc::Status{grpc::StatusCode::INVALID_ARGUMENT, "directory: required"};
      if (auto ok = st_.n.backup(p, req->directory()); !ok)
        return fail(st_, ctx, ok.error());
      out->set_directory(req->directory());
      return grpc::Status::OK;
    });
  }

  grpc::Status Drain(grpc::ServerContext* ctx, const pb::DrainRequest* req, pb::DrainResponse*) override {
    auto who = caller_of(*ctx, st_);
    if (!who)
      return to_status(who.error());
    const auto& self = st_.n.config().node_id;
    if (!req->node().empty() && req->node() != self) {
      if (auto ok = authorize(*who, action::drain); !ok)
        return to_status(ok.error());
      return grpc::Status{grpc::StatusCode::FAILED_PRECONDITION,
                          "this is node '" + self + "', not '" + req->node() + "': call that node to drain it"};
    }
    if (req->hand_off()) {
      // The node keeps serving while its shards move; parleyd leaves once
      // they are all gone (NodeInfo.hand_off.done).
      if (auto ok = st_.n.hand_off(*who); !ok)
        return to_status(ok.error());
      return grpc::Status::OK;
    }
    if (auto ok = st_.n.drain(*who); !ok)
      return to_status(ok.error());
    st_.begin_drain();
    return grpc::Status::OK;
  }

  grpc::Status RemoveNode(grpc::ServerContext* ctx, const pb::RemoveNodeRequest* req,
                          pb::RemoveNodeResponse* out) override {
    return handle(st_, ctx, [&](const principal& p) {
      if (req->node().empty())
        return grpc::Status{grpc::StatusCode::INVALID_ARGUMENT, "node: required"};
      if (!req->lost())
        return grpc::Status{grpc::StatusCode::INVALID_ARGUMENT,
                            "lost: required: removing a node gives its shards away empty, so it is only for a node "
                            "whose data is gone (to take a live node away, hand its shards off)"};
      auto n = st_.n.remove_lost(p, req->node());
      if (!n)
        return fail(st_, ctx, n.error());
      out->set_shards(*n);
      return grpc::Status::OK;
    });
  }

  grpc::Status Erase(grpc::ServerContext* ctx, const pb::EraseRequest* req, pb::Erasure* out) override {
    return handle(st_, ctx, [&](const principal& p) {
      auto e = st_.n.erase(p, req->agent());
      if (!e)
        return fail(st_, ctx, e.error());
      to_pb(*e, *out);
      return grpc::Status::OK;
    });
  }

  grpc::Status GetErasure(grpc::ServerContext* ctx, const pb::EraseRequest* req,
                          pb::Erasure* out) override {
    return handle(st_, ctx, [&](const principal& p) {
      auto e = st_.n.erasure_of(p, req->agent());
      if (!e)
        return fail(st_, ctx, e.error());
      to_pb(*e, *out);
      return grpc::Status::OK;
    });
  }

private:
  api_state& st_;
};

} // namespace

std::unique_ptr<grpc::Service> make_admin_service(api_state& st) {
  return std::make_unique<admin_service>(st);
}

} // namespace parley::api
