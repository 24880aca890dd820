#pragma once

// parleyd's membership in its network (docs/federation.md): `single` (the
// default: the node is its own network) or `etcd`. The node joins when it
// serves and leaves when it drains; a lost lease ends the process, whose
// restart is a new incarnation.

#include <atomic>
#include <chrono>
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
  /// The coordinator gives out shards only once this many members are up,
  /// so that the first node of a starting network does not take them all
  /// (shards move only on a drain, never on their own). Default: 1.
  uint32_t min_members = 1;
  /// PEM file of the CA of the peers' server certificates (TLS between
  /// nodes); empty = plaintext (loopback or a private network only).
  std::string peer_ca_file;
  /// The certificate (and key) this node presents to its peers: its node
  /// identity (mutual TLS). Empty: a token minted from the token key.
  std::string peer_cert_file;
  std::string peer_key_file;
  /// Requests (and their bytes) waiting for one peer, sent or not; beyond
  /// either, calls that need the peer fail at once with RESOURCE_EXHAUSTED
  /// and a retry hint, so a slow or paused peer never grows memory without
  /// bound. Defaults: 100,000 and 64 MiB.
  uint32_t peer_outbox_limit = 100000;
  uint64_t peer_outbox_bytes = uint64_t{64} << 20;
  /// Pause of each shard move of a hand-off once the shard is marked
  /// moving (node_config::move_pause). Default: 0.
  uint32_t move_pause_ms = 0;
  /// How long a send to an agent of another node waits for that node's
  /// answer before it is answered SENT from the durable outbox
  /// (node_config::outbox_wait). Default: 500.
  uint32_t outbox_wait_ms = 500;
};

class cluster_membership {
public:
  /// Connects to the backend (etcd: loads the members and the shard map)
  /// without joining yet: the node starts with its view (network()).
  static parley::expected<std::unique_ptr<cluster_membership>> connect(const cluster_options& opt,
                                                                      const std::string& node);
  /// Joins as the node (state up), reachable at `advertise` unless the
  /// options name another address. Refused with already_exists while
  /// another live process holds the name.
  parley::expected<void> join(const std::string& advertise, uint64_t incarnation);

  /// The network as the node sees it; nullptr for backend single (the node
  /// is alone and owns every shard without asking).
  std::shared_ptr<parley::coordination::coordination> network() const {
    return opt_.backend == "single" ? nullptr : coord_;
  }
  /// host:port of member `node`; empty if it is not a member now.
  std::string address_of(const std::string& node) const;
  /// Waits until every shard has an owner, up to `timeout`; false if not.
  bool wait_for_shards(std::chrono::milliseconds timeout);

  /// True once the lease is lost: the node must stop.
  bool lost() const noexcept { return lost_->load(); }
  /// The members as this node sees them.
  std::vector<parley::coordination::member> members() const { return coord_->members(); }
  /// Once a second: claims the coordinator's role if it is free and, while
  /// this node holds it, gives unowned shards to up members (256 a round).
  void tick();
  /// Whether this node was the coordinator at the last tick.
  bool coordinating() const noexcept { return coordinating_; }
  /// Marks the node leaving, then removes it (at once, not after a TTL).
  void leave();

private:
  cluster_options opt_;
  std::string node_;
  std::shared_ptr<parley::coordination::coordination> coord_;
  bool coordinating_ = false;
  std::shared_ptr<std::atomic<bool>> lost_ = std::make_shared<std::atomic<bool>>(false);
};

} // namespace parleyd
