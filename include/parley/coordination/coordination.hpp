#pragma once

// Coordination: who is in the network and which node owns which shard.
// One seam, two backends: `single` (one node, no etcd: it is the only
// member and owns every shard) and `etcd` (a cluster; etcd v3 holds the
// membership and the shard map, never the data). docs/federation.md has the
// key layout and the guarantees.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "parley/error.hpp"
#include "parley/model/shard.hpp"

namespace parley::coordination {

/// A node's life as the others see it. `suspect` is a routing hint set by
/// a peer whose link to the node failed; only the loss of the node's lease
/// makes it `down` (it is then gone from the member list).
enum class member_state : uint8_t { joining, up, suspect, down, leaving };

std::string_view to_string(member_state s) noexcept;
/// The state named `text`; invalid_argument if none is.
expected<member_state> parse_member_state(std::string_view text);

/// One node of the network.
struct member {
  std::string node;        ///< its name, unique in the network
  std::string address;     ///< host:port its peers reach it at
  uint64_t incarnation = 0; ///< start count of its store: a restart is a new incarnation
  member_state state = member_state::joining;

  friend bool operator==(const member&, const member&) = default;
};

/// Who owns a shard. `epoch` increases with every change of the entry (in
/// etcd, the revision that last wrote it); 0 means nobody was ever assigned.
/// A message for a shard carries the epoch its sender resolved, and the
/// owner refuses a stale one (docs/federation.md).
struct shard_owner {
  std::string node;
  uint64_t epoch = 0;
  /// Set while the shard moves to that node (drain, scale-out).
  std::string moving_to;

  friend bool operator==(const shard_owner&, const shard_owner&) = default;
};

/// What changed, as a backend tells its subscribers (in the order etcd
/// committed the changes).
struct change {
  enum class kind : uint8_t {
    member_joined,  ///< `who` appeared
    member_changed, ///< `who` changed (state, address)
    member_left,    ///< `who` left, or its lease expired
    shard_changed,  ///< `shard` has a new owner entry
    lease_lost,     ///< this node's lease is gone: it must stop acknowledging writes
  };
  kind what = kind::member_joined;
  member who;
  shard_id shard = 0;
  shard_owner owner;
};

std::string_view to_string(change::kind k) noexcept;

/// The coordination of one node. Reads answer from a cache kept current by
/// the backend (a watch in etcd); writes go to the engine and are
/// compare-and-swap where they can race.
class coordination {
public:
  virtual ~coordination() = default;

  /// Registers this node. Refused with already_exists while a live member
  /// of the same name holds its registration (two processes with one name).
  virtual expected<void> join(const member& self) = 0;
  /// Changes this node's advertised state (joining -> up -> leaving).
  virtual expected<void> set_state(member_state s) = 0;
  /// Removes this node's registration at once (not after a lease timeout).
  virtual expected<void> leave() = 0;
  /// Whether this node's registration is alive: false before join, after
  /// leave, and once the lease may have expired (checked on this process's
  /// monotonic clock, with a margin, not when etcd says so).
  virtual bool registered() const = 0;

  /// The members as last seen, sorted by name.
  virtual std::vector<member> members() const = 0;
  /// The owner entry of `shard` as last seen.
  virtual shard_owner owner(shard_id shard) const = 0;

  /// Sets the owner entry of `shard` if its epoch is still `expected_epoch`
  /// (0: never assigned). Returns the new epoch; failed_precondition with
  /// the current entry in the message when another change came first.
  virtual expected<uint64_t> assign(shard_id shard, uint64_t expected_epoch, const shard_owner& to) = 0;

  /// Tries to become the network's coordinator (the node that assigns
  /// shards); true if this node is it now. Held while registered.
  virtual expected<bool> claim_coordinator() = 0;
  /// The coordinator's name as last seen; empty if there is none.
  virtual std::string coordinator() const = 0;

  /// Calls `f` for every change from now on, on a thread of the backend.
  /// `f` must not block or call back into this object's writes.
  virtual void subscribe(std::function<void(const change&)> f) = 0;
};

/// One node alone: it is the only member, owns every shard at epoch 1 and is
/// the coordinator; assign() is refused (there is nowhere to move to).
std::unique_ptr<coordination> make_single(std::string node);

struct etcd_options {
  /// host:port of etcd's client URLs (plaintext on loopback or a private
  /// network; etcd's own TLS is configured in etcd).
  std::vector<std::string> endpoints;
  /// Every key lives under this prefix (one etcd can serve several networks).
  std::string prefix = "/parley";
  /// The node's lease: it expires this long after the last keepalive etcd saw.
  std::chrono::milliseconds lease_ttl{10000};
  /// How often the lease is renewed (well under lease_ttl).
  std::chrono::milliseconds keepalive_interval{3000};
  /// Deadline of each call to etcd.
  std::chrono::milliseconds call_timeout{5000};
};

/// Connects to etcd and loads the member list and the shard map. Fails with
/// unavailable if no endpoint answers within call_timeout.
expected<std::unique_ptr<coordination>> connect_etcd(const etcd_options& opts);

} // namespace parley::coordination
