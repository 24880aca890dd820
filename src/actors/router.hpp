#pragma once

// The router: the one place an id becomes an actor. The facade and the
// actors address agents and rooms by id through it (no actor handle travels
// in a message payload), so federation can later resolve an id to a remote
// node here without touching the actors.
//
// An id is first reserved (an introduction or a room creation in progress:
// taken, but invisible), then published once its record is committed, so
// no call sees an agent or room that a failed commit or a crash could take
// back. A recovered agent is published dormant (no actor yet): the first
// lookup wakes it through the directory's activator, once, so that a
// restart costs what is used, not what is stored. Thread-safe.

#include <array>
#include <atomic>
#include <functional>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include <caf/all.hpp>

namespace parley {

/// Map from id to actor, sharded so that a million concurrent introductions
/// and lookups rarely meet on one lock. A published entry with an invalid
/// handle is dormant; reservations are kept apart (they are few and short).
class actor_directory {
public:
  /// Makes the actor of a dormant entry, or returns an invalid handle if it
  /// cannot (the entry then stays dormant). Runs under the entry's shard
  /// lock: it must not use this directory.
  using activator = std::function<caf::actor(const std::string& id)>;
  /// Set before any entry is published dormant.
  void set_activator(activator f) { activate_ = std::move(f); }

  /// The actor for `id`, woken if it was dormant; an invalid handle if `id`
  /// is unknown, only reserved, or could not be woken.
  caf::actor find(const std::string& id) const;
  enum class presence { absent, dormant, active };
  /// Whether `id` is published, and how, without waking it.
  presence lookup(const std::string& id) const;
  /// Reserves `id`; false if it is reserved or published already.
  bool try_reserve(const std::string& id);
  /// Publishes `a` under a reserved (or free) `id`.
  void publish(const std::string& id, caf::actor a);
  /// Publishes `id` without an actor (recovery); false if it is taken.
  bool publish_dormant(std::string id);
  /// Removes `id`, reserved or published.
  void erase(const std::string& id);
  /// Removes every published entry whose id satisfies `pred` and returns
  /// them (an invalid handle for a dormant one): a shard leaving the node.
  /// `reserved_left`: whether reserved ids (creations under way) satisfy it.
  std::vector<std::pair<std::string, caf::actor>> take_if(const std::function<bool(const std::string&)>& pred,
                                                           bool* reserved_left = nullptr);
  /// Makes room for `n` more entries, so a mass introduction does not rehash
  /// its way up.
  void reserve(size_t n);
  /// Published entries, dormant or not.
  size_t size() const noexcept { return published_.load(std::memory_order_relaxed); }
  /// Published entries with a running actor.
  size_t active() const noexcept { return active_.load(std::memory_order_relaxed); }
  /// Every entry with a running actor, in no particular order.
  std::vector<std::pair<std::string, caf::actor>> snapshot() const;
  /// Every published id, dormant or not, in no particular order.
  std::vector<std::string> ids() const;
  void clear();

private:
  static constexpr size_t shard_count = 64;
  struct alignas(64) shard {
    mutable std::shared_mutex mtx;
    std::unordered_map<std::string, caf::actor> map;
    std::unordered_set<std::string> reserved;
  };
  shard& shard_for(const std::string& id) const;
  mutable std::array<shard, shard_count> shards_;
  activator activate_;
  std::atomic<size_t> published_{0};
  mutable std::atomic<size_t> active_{0};
};

class router {
public:
  /// Where an agent or room this node does not hold lives, if elsewhere:
  /// the actor that carries requests to its node (actors/peer_gateway.hpp),
  /// or an invalid handle when its shard is this node's (then it does not
  /// exist).
  using remote_resolver = std::function<caf::actor(const std::string& id)>;
  /// Set once, before any lookup (a node in a network).
  void set_remote(remote_resolver f) { remote_ = std::move(f); }

  /// The actor of agent `id`: on this node (a dormant agent is woken), or
  /// the gateway to the node that owns its shard; invalid if there is none.
  caf::actor agent(const std::string& id) const {
    auto a = agents_.find(id);
    if (!a && remote_)
      return remote_(id);
    return a;
  }
  /// The moderator of room `id` on this node, or the gateway to the node
  /// that owns its shard; invalid if there is none.
  caf::actor room(const std::string& id) const {
    auto a = rooms_.find(id);
    if (!a && remote_)
      return remote_(id);
    return a;
  }

  actor_directory& agents() noexcept { return agents_; }
  actor_directory& rooms() noexcept { return rooms_; }
  const actor_directory& agents() const noexcept { return agents_; }
  const actor_directory& rooms() const noexcept { return rooms_; }

private:
  actor_directory agents_;
  actor_directory rooms_;
  remote_resolver remote_;
};

} // namespace parley
