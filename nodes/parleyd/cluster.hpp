#pragma once

// parleyd's membership in its network (docs/federation.md): `single` (the
// default: the node is its own network) or `etcd`. The node joins when it
// serves and leaves when it drains; a lost lease ends the process, whose
// restart is a new incarnation.

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "parley/coordination/coordination.hpp"

namespace parleyd {

struct cluster_options {
  /// single | etcd
  std::string backend = "single";
  std::vector<std::string> etcd_endpoints;
  std::string prefix = "/parley";
  uint32_t lease_ttl_ms = 10000;
  uint32_t keepalive_ms = 3000;
  /// host:port the other nodes reach this one at (default: the API address).
  std::string advertise;
};

class cluster_membership {
public:
  /// Connects to the backend and joins as `node` (state up). Refused with
  /// already_exists while another live process holds the name.
  static parley::expected<std::unique_ptr<cluster_membership>>
  join(const cluster_options& opt, const std::string& node, const std::string& advertise, uint64_t incarnation);

  /// True once the lease is lost: the node must stop.
  bool lost() const noexcept { return lost_->load(); }
  /// The members as this node sees them.
  std::vector<parley::coordination::member> members() const { return coord_->members(); }
  /// Once a second: claims the coordinator's role if it is free and, while
  /// this node holds it, gives unowned shards to up members (256 a round).
  void tick();
  /// Marks the node leaving, then removes it (at once, not after a TTL).
  void leave();

private:
  std::unique_ptr<parley::coordination::coordination> coord_;
  bool coordinating_ = false;
  std::shared_ptr<std::atomic<bool>> lost_ = std::make_shared<std::atomic<bool>>(false);
};

} // namespace parleyd
