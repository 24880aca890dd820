#include "cluster.hpp"

#include <thread>

#include <spdlog/spdlog.h>

#include "parley/coordination/shard_planner.hpp"

namespace parleyd {

namespace co = parley::coordination;

parley::expected<std::unique_ptr<cluster_membership>> cluster_membership::connect(const cluster_options& opt,
                                                                                 const std::string& node) {
  auto m = std::unique_ptr<cluster_membership>(new cluster_membership);
  m->opt_ = opt;
  m->node_ = node;
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
  return m;
}

parley::expected<void> cluster_membership::join(const std::string& advertise, uint64_t incarnation) {
  co::member self{node_, opt_.advertise.empty() ? advertise : opt_.advertise, incarnation, co::member_state::joining};
  if (auto ok = coord_->join(self); !ok)
    return ok;
  if (auto ok = coord_->set_state(co::member_state::up); !ok)
    return ok;
  spdlog::info("node '{}' is a member of the network (coordination '{}', incarnation {})", node_, opt_.backend,
               incarnation);
  return {};
}

std::string cluster_membership::address_of(const std::string& node) const {
  for (auto& m : coord_->members())
    if (m.node == node)
      return m.address;
  return {};
}

bool cluster_membership::wait_for_shards(std::chrono::milliseconds timeout) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    // The coordinator may be this node: it assigns as it ticks.
    tick();
    parley::shard_id missing = 0;
    for (parley::shard_id s = 0; s < parley::shard_count; ++s)
      if (coord_->owner(s).epoch == 0)
        ++missing;
    if (missing == 0)
      return true;
    if (std::chrono::steady_clock::now() >= until || lost())
      return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
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
  size_t up = 0;
  for (auto& m : coord_->members())
    up += m.state == co::member_state::up ? 1 : 0;
  if (up < opt_.min_members)
    return;
  // Rounds of at most 256, back to back while there is more: a starting
  // network gets its map at once, each round a bounded piece of work.
  for (int round = 0; round < 8; ++round) {
    auto n = co::assign_unassigned(*coord_, 256);
    if (!n) {
      spdlog::warn("coordination: assigning shards: {}", parley::to_string(n.error()));
      return;
    }
    if (*n > 0)
      spdlog::info("coordinator: assigned {} unowned shards", *n);
    if (*n < 256)
      return;
  }
}

void cluster_membership::leave() {
  if (!coord_->registered())
    return;
  (void) coord_->set_state(co::member_state::leaving);
  if (auto ok = coord_->leave(); !ok)
    spdlog::warn("leaving the network: {} (the lease ends on its own)", parley::to_string(ok.error()));
}

} // namespace parleyd
