#include "cluster.hpp"

#include <spdlog/spdlog.h>

#include "parley/coordination/shard_planner.hpp"

namespace parleyd {

namespace co = parley::coordination;

parley::expected<std::unique_ptr<cluster_membership>>
cluster_membership::join(const cluster_options& opt, const std::string& node, const std::string& advertise,
                         uint64_t incarnation) {
  auto m = std::unique_ptr<cluster_membership>(new cluster_membership);
  if (opt.backend == "single") {
    m->coord_ = co::make_single(node);
  } else {
    co::etcd_options eo;
    eo.endpoints = opt.etcd_endpoints;
    eo.prefix = opt.prefix;
    eo.lease_ttl = std::chrono::milliseconds(opt.lease_ttl_ms);
    eo.keepalive_interval = std::chrono::milliseconds(opt.keepalive_ms);
    auto c = co::connect_etcd(eo);
    if (!c)
      return parley::unexpected{c.error()};
    m->coord_ = std::move(*c);
  }
  m->coord_->subscribe([lost = m->lost_, self = node](const co::change& c) {
    switch (c.what) {
      case co::change::kind::member_joined:
        spdlog::info("node '{}' joined the network ({}, incarnation {})", c.who.node, c.who.address,
                     c.who.incarnation);
        break;
      case co::change::kind::member_left:
        spdlog::info("node '{}' left the network", c.who.node);
        break;
      case co::change::kind::member_changed:
        spdlog::info("node '{}' is {}", c.who.node, co::to_string(c.who.state));
        break;
      case co::change::kind::lease_lost:
        lost->store(true);
        break;
      case co::change::kind::shard_changed:
        break;
    }
  });
  co::member self{node, opt.advertise.empty() ? advertise : opt.advertise, incarnation,
                  co::member_state::joining};
  if (auto ok = m->coord_->join(self); !ok)
    return parley::unexpected{ok.error()};
  if (auto ok = m->coord_->set_state(co::member_state::up); !ok)
    return parley::unexpected{ok.error()};
  spdlog::info("node '{}' is a member of the network (coordination '{}', incarnation {})", node, opt.backend,
               incarnation);
  return m;
}

void cluster_membership::tick() {
  if (!coord_->registered())
    return;
  auto claimed = coord_->claim_coordinator();
  if (!claimed) {
    spdlog::warn("coordination: {}", parley::to_string(claimed.error()));
    return;
  }
  if (*claimed != coordinating_)
    spdlog::info(*claimed ? "this node is the network's coordinator" : "this node is no longer the coordinator");
  coordinating_ = *claimed;
  if (!coordinating_)
    return;
  auto n = co::assign_unassigned(*coord_, 256);
  if (!n)
    spdlog::warn("coordination: assigning shards: {}", parley::to_string(n.error()));
  else if (*n > 0)
    spdlog::info("coordinator: assigned {} unowned shards", *n);
}

void cluster_membership::leave() {
  if (!coord_->registered())
    return;
  (void) coord_->set_state(co::member_state::leaving);
  if (auto ok = coord_->leave(); !ok)
    spdlog::warn("leaving the network: {} (the lease ends on its own)", parley::to_string(ok.error()));
}

} // namespace parleyd
