#include "actors/runtime.hpp"

#include <algorithm>
#include <charconv>

#include "actors/messages.hpp"

namespace parley {

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
  auto [it, added] = set_.insert(std::move(candidate));
  auto out = *it;
  if (added && ++added_since_sweep_ >= sweep_every) {
    added_since_sweep_ = 0;
    std::erase_if(set_, [](const std::shared_ptr<const skill>& k) { return k.use_count() == 1; });
  }
  return out;
}

size_t skill_catalog::release_unused() {
  // References are only made by intern(), under this lock, so a count of one
  // cannot grow behind our back.
  std::lock_guard guard{mtx_};
  return std::erase_if(set_, [](const std::shared_ptr<const skill>& k) { return k.use_count() == 1; });
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

void runtime::publish(event_kind k, agent_id agent, room_id room, std::string detail) const {
  if (topic_of(k) == topic::message && !wants(topic::message))
    return;
  event e;
  e.kind = k;
  e.agent = std::move(agent);
  e.room = std::move(room);
  e.detail = std::move(detail);
  e.at = now();
  caf::anon_send(bus, atoms::publish::value, std::move(e));
}

void runtime::publish(event e) const {
  if (topic_of(e.kind) == topic::message && !wants(topic::message))
    return;
  if (e.at == 0)
    e.at = now();
  caf::anon_send(bus, atoms::publish::value, std::move(e));
}

error runtime::missing_agent(const std::string& id) const {
  if (routes.agents().lookup(id) == actor_directory::presence::dormant)
    return {errc::storage_failure, "agent '" + id + "' could not be woken from the store (see the node's log)"};
  return {errc::not_found, "agent '" + id + "' does not exist"};
}

std::string runtime::generated_id(std::string_view prefix, uint64_t n) const {
  // One id per message sent by a behaviour: no temporaries.
  char buf[64];
  char* end = buf + std::min(prefix.size(), size_t{20});
  std::copy_n(prefix.data(), end - buf, buf);
  if (incarnation != 0) {
    end = std::to_chars(end, buf + sizeof buf, incarnation).ptr;
    *end++ = '.';
  }
  end = std::to_chars(end, buf + sizeof buf, n).ptr;
  return std::string(buf, end);
}

caf::message runtime::notice_for(const caf::actor& h, const agent_id& who, caf::message notice) const {
  if (!elsewhere(h))
    return notice;
  return caf::make_message(atoms::member_notice::value, who, std::move(notice));
}

placement runtime::place(std::string_view id) const {
  placement p;
  p.shard = shard_of(id);
  if (!cluster)
    return p;
  auto o = cluster->owner(p.shard);
  p.epoch = o.epoch;
  if (o.epoch == 0 || o.node.empty()) {
    p.at = placement::where::nowhere;
  } else if (!o.moving_to.empty() || (o.node == node_id && adopting[p.shard].load(std::memory_order_acquire))) {
    p.at = placement::where::moving;
    p.node = o.moving_to.empty() ? std::move(o.node) : std::move(o.moving_to);
  } else if (o.node != node_id) {
    p.at = placement::where::there;
    p.node = std::move(o.node);
  }
  return p;
}

} // namespace parley
