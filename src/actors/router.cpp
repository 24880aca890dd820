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
  {
    std::shared_lock guard{s.mtx};
    auto i = s.map.find(id);
    if (i == s.map.end())
      return {};
    if (i->second || !activate_)
      return i->second;
  }
  // Dormant: wake it under the exclusive lock, so that racing lookups make
  // one actor, not one each.
  std::unique_lock guard{s.mtx};
  auto i = s.map.find(id);
  if (i == s.map.end())
    return {};
  if (!i->second) {
    i->second = activate_(id);
    if (i->second)
      active_.fetch_add(1, std::memory_order_relaxed);
  }
  return i->second;
}

actor_directory::presence actor_directory::lookup(const std::string& id) const {
  auto& s = shard_for(id);
  std::shared_lock guard{s.mtx};
  auto i = s.map.find(id);
  if (i == s.map.end())
    return presence::absent;
  return i->second ? presence::active : presence::dormant;
}

bool actor_directory::try_reserve(const std::string& id) {
  auto& s = shard_for(id);
  std::unique_lock guard{s.mtx};
  if (s.map.count(id))
    return false;
  return s.reserved.insert(id).second;
}

void actor_directory::publish(const std::string& id, caf::actor a) {
  auto& s = shard_for(id);
  std::unique_lock guard{s.mtx};
  s.reserved.erase(id);
  auto [i, added] = s.map.try_emplace(id);
  if (added)
    published_.fetch_add(1, std::memory_order_relaxed);
  if (!i->second && a)
    active_.fetch_add(1, std::memory_order_relaxed);
  else if (i->second && !a)
    active_.fetch_sub(1, std::memory_order_relaxed);
  i->second = std::move(a);
}

bool actor_directory::publish_dormant(std::string id) {
  auto& s = shard_for(id);
  std::unique_lock guard{s.mtx};
  if (s.reserved.count(id))
    return false;
  if (!s.map.try_emplace(std::move(id)).second)
    return false;
  published_.fetch_add(1, std::memory_order_relaxed);
  return true;
}

void actor_directory::erase(const std::string& id) {
  auto& s = shard_for(id);
  std::unique_lock guard{s.mtx};
  s.reserved.erase(id);
  auto i = s.map.find(id);
  if (i == s.map.end())
    return;
  published_.fetch_sub(1, std::memory_order_relaxed);
  if (i->second)
    active_.fetch_sub(1, std::memory_order_relaxed);
  s.map.erase(i);
}

std::vector<std::pair<std::string, caf::actor>> actor_directory::take_if(
  const std::function<bool(const std::string&)>& pred, bool* reserved_left) {
  std::vector<std::pair<std::string, caf::actor>> out;
  bool reserved = false;
  for (auto& s : shards_) {
    std::unique_lock guard{s.mtx};
    for (auto i = s.map.begin(); i != s.map.end();) {
      if (!pred(i->first)) {
        ++i;
        continue;
      }
      published_.fetch_sub(1, std::memory_order_relaxed);
      if (i->second)
        active_.fetch_sub(1, std::memory_order_relaxed);
      out.emplace_back(i->first, std::move(i->second));
      i = s.map.erase(i);
    }
    for (auto& id : s.reserved)
      reserved = reserved || pred(id);
  }
  if (reserved_left)
    *reserved_left = reserved;
  return out;
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
  out.reserve(active());
  for (auto& s : shards_) {
    std::shared_lock guard{s.mtx};
    for (auto& [k, v] : s.map)
      if (v)
        out.emplace_back(k, v);
  }
  return out;
}

std::vector<std::string> actor_directory::ids() const {
  std::vector<std::string> out;
  out.reserve(size());
  for (auto& s : shards_) {
    std::shared_lock guard{s.mtx};
    for (auto& [k, v] : s.map)
      out.push_back(k);
  }
  return out;
}

void actor_directory::clear() {
  for (auto& s : shards_) {
    std::unique_lock guard{s.mtx};
    s.map.clear();
    s.reserved.clear();
  }
  published_.store(0, std::memory_order_relaxed);
  active_.store(0, std::memory_order_relaxed);
}

} // namespace parley
