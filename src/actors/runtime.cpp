#include "actors/runtime.hpp"

#include <algorithm>

#include "actors/messages.hpp"

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

bool actor_directory::try_insert(const std::string& id, caf::actor a) {
  auto& s = shard_for(id);
  std::unique_lock guard{s.mtx};
  return s.map.try_emplace(id, std::move(a)).second;
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

void actor_directory::erase(const std::string& id) {
  auto& s = shard_for(id);
  std::unique_lock guard{s.mtx};
  s.map.erase(id);
}

size_t actor_directory::size() const {
  size_t n = 0;
  for (auto& s : shards_) {
    std::shared_lock guard{s.mtx};
    n += s.map.size();
  }
  return n;
}

std::vector<std::pair<std::string, caf::actor>> actor_directory::snapshot() const {
  std::vector<std::pair<std::string, caf::actor>> out;
  for (auto& s : shards_) {
    std::shared_lock guard{s.mtx};
    for (auto& [k, v] : s.map)
      out.emplace_back(k, v);
  }
  return out;
}

void actor_directory::clear() {
  for (auto& s : shards_) {
    std::unique_lock guard{s.mtx};
    s.map.clear();
  }
}

size_t striped_counter::slot() noexcept {
  // Threads take slots in turn, so two scheduler workers never share one.
  static std::atomic<size_t> next{0};
  thread_local const size_t mine = next.fetch_add(1) % cell_count;
  return mine;
}

size_t skill_catalog::hash::operator()(const skill& s) const noexcept {
  auto h = std::hash<std::string>{}(s.id);
  h ^= std::hash<std::string>{}(s.name) * 31;
  h ^= std::hash<std::string>{}(s.description) * 131;
  for (auto& t : s.tags)
    h = h * 17 + std::hash<std::string>{}(t);
  return h;
}

std::shared_ptr<const skill> skill_catalog::intern(const skill& s) {
  {
    // Usually known already (a population shares a catalogue): no copy.
    std::lock_guard guard{mtx_};
    if (auto i = set_.find(s); i != set_.end())
      return *i;
  }
  auto candidate = std::make_shared<const skill>(s);
  std::lock_guard guard{mtx_};
  return *set_.insert(std::move(candidate)).first;
}

size_t skill_catalog::size() const {
  std::lock_guard guard{mtx_};
  return set_.size();
}

void runtime::publish_all(std::vector<event> es) const {
  const auto t = now();
  for (auto& e : es)
    if (e.at == 0)
      e.at = t;
  caf::anon_send(bus, atoms::publish::value, std::move(es));
}

void runtime::publish(event e) const {
  if (topic_of(e.kind) == topic::message && !wants(topic::message))
    return;
  if (e.at == 0)
    e.at = now();
  caf::anon_send(bus, atoms::publish::value, std::move(e));
}

std::string runtime::generated_id(std::string_view prefix, uint64_t n) const {
  std::string id{prefix};
  if (incarnation != 0)
    id.append(std::to_string(incarnation)).push_back('.');
  id.append(std::to_string(n));
  return id;
}

} // namespace parley
