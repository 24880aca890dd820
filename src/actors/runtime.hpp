#pragma once

// What every actor of one node shares: the directories that map ids to
// actors, the event bus, the clock, the attention knobs and the counters.
// Owned by the node; actors hold a plain pointer because the node outlives
// them (it stops every actor before it destroys the runtime).

#include <array>
#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <caf/all.hpp>

#include "parley/model/attention.hpp"
#include "parley/model/clock.hpp"
#include "parley/model/event.hpp"
#include "parley/model/manifest.hpp"
#include "parley/storage/state_store.hpp"

namespace parley {

/// Thread-safe map from id to actor, sharded so that a million concurrent
/// introductions and lookups rarely meet on one lock.
class actor_directory {
public:
  /// The actor for `id`, or an invalid handle.
  caf::actor find(const std::string& id) const;
  /// Adds `id` unless present; false if it was.
  bool try_insert(const std::string& id, caf::actor a);
  /// Makes room for `n` more entries (spread evenly over the shards), so a
  /// mass introduction does not rehash its way up.
  void reserve(size_t n);
  void erase(const std::string& id);
  size_t size() const;
  /// Every (id, actor), in no particular order.
  std::vector<std::pair<std::string, caf::actor>> snapshot() const;
  void clear();

private:
  static constexpr size_t shard_count = 64;
  struct alignas(64) shard {
    mutable std::shared_mutex mtx;
    std::unordered_map<std::string, caf::actor> map;
  };
  shard& shard_for(const std::string& id) const;
  mutable std::array<shard, shard_count> shards_;
};

/// Identical skills are stored once per node: agents of a population share
/// a catalogue of skills, and a manifest's skills are then pointers.
class skill_catalog {
public:
  std::shared_ptr<const skill> intern(const skill& s);
  size_t size() const;

private:
  // Transparent, so intern() looks a skill up without copying it first.
  struct hash {
    using is_transparent = void;
    size_t operator()(const skill& s) const noexcept;
    size_t operator()(const std::shared_ptr<const skill>& s) const noexcept { return (*this)(*s); }
  };
  struct equal {
    using is_transparent = void;
    bool operator()(const std::shared_ptr<const skill>& a,
                    const std::shared_ptr<const skill>& b) const noexcept {
      return *a == *b;
    }
    bool operator()(const skill& a, const std::shared_ptr<const skill>& b) const noexcept {
      return a == *b;
    }
    bool operator()(const std::shared_ptr<const skill>& a, const skill& b) const noexcept {
      return *a == b;
    }
  };
  mutable std::mutex mtx_;
  std::unordered_set<std::shared_ptr<const skill>, hash, equal> set_;
};

/// Monotonic counters for the live summary and the benchmarks.
/// A counter that every scheduler thread bumps on the message path: each
/// thread adds to a cache line of its own, readers sum them, so the hot path
/// never bounces one line between cores.
class striped_counter {
public:
  void add(uint64_t n = 1) noexcept { cells_[slot()].v.fetch_add(n, std::memory_order_relaxed); }
  uint64_t load() const noexcept {
    uint64_t sum = 0;
    for (auto& c : cells_)
      sum += c.v.load(std::memory_order_relaxed);
    return sum;
  }

private:
  static constexpr size_t cell_count = 16;
  static size_t slot() noexcept;
  struct alignas(64) cell {
    std::atomic<uint64_t> v{0};
  };
  std::array<cell, cell_count> cells_;
};

struct node_counters {
  striped_counter messages_sent;
  striped_counter deliveries;
  striped_counter refused;
  striped_counter turns_granted;
  striped_counter served;
  std::atomic<uint64_t> rooms_closed{0};
  /// Events that could not be written to the durable log.
  std::atomic<uint64_t> event_log_failures{0};
};

class runtime {
public:
  runtime(caf::actor_system& sys, std::shared_ptr<const clock> clk, attention_params attention)
    : sys(sys), clk(std::move(clk)), attention(attention) {}

  timestamp now() const noexcept { return clk->now(); }

  /// Publishes on the bus. Events of topics nobody subscribes to are
  /// skipped (per-message events would otherwise cost more than delivery).
  void publish(event e) const;
  /// Publishes many events as one message to the bus (mass introductions):
  /// in order, as if published one by one.
  void publish_all(std::vector<event> es) const;
  bool wants(topic t) const noexcept {
    return (subscribed.load(std::memory_order_relaxed) & mask_of(t)) != 0;
  }

  caf::actor_system& sys;
  std::shared_ptr<const clock> clk;
  const attention_params attention;
  actor_directory agents;
  actor_directory rooms;
  skill_catalog skills;
  node_counters counters;
  caf::actor bus;
  /// The node's store and its one writer; nullptr / invalid for a node in
  /// durability mode memory.
  storage::state_store* store = nullptr;
  caf::actor writer;
  /// Which start of the store this is (1 for a new store, +1 per restart);
  /// 0 without a store. Generated message ids and delivery numbers carry
  /// it, so they never repeat after a restart (idempotency keys and inbox
  /// positions stay unique).
  uint64_t incarnation = 0;
  /// Publish message events even with no subscriber, so that a subscriber
  /// resuming later finds them in the log (node_config).
  bool record_message_events = false;
  /// A node-local id: "<prefix><n>" without a store, else
  /// "<prefix><incarnation>.<n>".
  std::string generated_id(std::string_view prefix, uint64_t n) const;
  /// The next inbox position; increases across restarts.
  uint64_t next_delivery() noexcept {
    return (incarnation << 40) + deliveries_issued.fetch_add(1, std::memory_order_relaxed) + 1;
  }
  std::atomic<uint64_t> deliveries_issued{0};
  /// Topics with at least one subscriber (maintained by the bus). The
  /// lifecycle, room and turn topics are always published, so that the
  /// retained ring has them; message events only when asked for.
  std::atomic<topic_mask> subscribed{0};
};

} // namespace parley
