#include "actors/router.hpp"

#include <algorithm>
#include <functional>
#include <mutex>

namespace parley {

actor_directory::shard& actor_directory::shard_for(const std::string& id) const {
  return shards_[std::hash<std::string>{}(id) % shard_count];
}

caf::actor actor_directory::find(const std::string& id) const {
  auto& s = shard_for(id);
  std::shared_lock guard{s.mtx};
  auto i = s.map.find(id);
  return i == s.map.end() ? caf::actor{} : i->second;
}

bool actor_directory::try_reserve(const std::string& id) {
  auto& s = shard_for(id);
  std::unique_lock guard{s.mtx};
  return s.map.try_emplace(id).second;
}

void actor_directory::publish(const std::string& id, caf::actor a) {
  auto& s = shard_for(id);
  std::unique_lock guard{s.mtx};
  auto& slot = s.map[id];
  if (!slot)
    published_.fetch_add(1, std::memory_order_relaxed);
  slot = std::move(a);
}

void actor_directory::erase(const std::string& id) {
  auto& s = shard_for(id);
  std::unique_lock guard{s.mtx};
  auto i = s.map.find(id);
  if (i == s.map.end())
    return;
  if (i->second)
    published_.fetch_sub(1, std::memory_order_relaxed);
  s.map.erase(i);
}

void actor_directory::reserve(size_t n) {
  const size_t per_shard = n / shard_count + 1;
  for (auto& s : shards_) {
    std::unique_lock guard{s.mtx};
    const size_t want = s.map.size() + per_shard;
    // At least double when growing: many small batches must not rehash the
    // whole map once each.
    if (static_cast<double>(want) > static_cast<double>(s.map.bucket_count()) * s.map.max_load_factor())
      s.map.reserve(std::max(want, 2 * s.map.size()));
  }
}

std::vector<std::pair<std::string, caf::actor>> actor_directory::snapshot() const {
  std::vector<std::pair<std::string, caf::actor>> out;
  out.reserve(size());
  for (auto& s : shards_) {
    std::shared_lock guard{s.mtx};
    for (auto& [k, v] : s.map)
      if (v)
        out.emplace_back(k, v);
  }
  return out;
}

void actor_directory::clear() {
  for (auto& s : shards_) {
    std::unique_lock guard{s.mtx};
    s.map.clear();
  }
  published_.store(0, std::memory_order_relaxed);
}

} // namespace parley
