// The assignment of unowned shards (shard_planner.hpp).

#include "parley/coordination/shard_planner.hpp"

#include <algorithm>
#include <map>

namespace parley::coordination {

std::vector<assignment> plan_unassigned(const std::vector<shard_owner>& map, const std::vector<member>& members,
                                        size_t limit) {
  // How many shards each up member owns now (ordered by name for ties).
  std::map<std::string, size_t> load;
  for (auto& m : members)
    if (m.state == member_state::up)
      load[m.node] = 0;
  if (load.empty())
    return {};
  for (auto& o : map)
    if (auto it = load.find(o.node); it != load.end())
      ++it->second;
  std::vector<assignment> out;
  for (size_t s = 0; s < map.size() && out.size() < limit; ++s) {
    if (map[s].epoch != 0)
      continue;
    auto least = std::min_element(load.begin(), load.end(),
                                  [](auto& a, auto& b) { return a.second < b.second; });
    out.push_back({static_cast<shard_id>(s), 0, least->first});
    ++least->second;
  }
  return out;
}

std::vector<transfer> plan_rebalance(const std::vector<shard_owner>& map, const std::vector<member>& members,
                                     size_t limit) {
  std::map<std::string, size_t> load;
  for (auto& m : members)
    if (m.state == member_state::up)
      load[m.node] = 0;
  if (load.size() < 2)
    return {};
  for (auto& o : map) {
    if (o.epoch == 0 || !o.moving_to.empty())
      return {};
    if (auto it = load.find(o.node); it != load.end())
      ++it->second;
  }
  std::map<std::pair<std::string, std::string>, uint32_t> moves;
  for (size_t n = 0; n < limit; ++n) {
    auto most = std::max_element(load.begin(), load.end(), [](auto& a, auto& b) { return a.second < b.second; });
    auto least = std::min_element(load.begin(), load.end(), [](auto& a, auto& b) { return a.second < b.second; });
    if (most->second <= least->second + 1)
      break;
    --most->second;
    ++least->second;
    ++moves[{most->first, least->first}];
  }
  std::vector<transfer> out;
  for (auto& [pair, count] : moves)
    out.push_back({pair.first, pair.second, count});
  return out;
}

expected<size_t> assign_unassigned(coordination& c, size_t limit) {
  std::vector<shard_owner> map(shard_count);
  for (shard_id s = 0; s < shard_count; ++s)
    map[s] = c.owner(s);
  size_t done = 0;
  for (auto& step : plan_unassigned(map, c.members(), limit)) {
    auto r = c.assign(step.shard, step.expected_epoch, {step.node, 0, {}});
    if (r) {
      ++done;
      continue;
    }
    if (r.error().code != errc::failed_precondition)
      return unexpected{r.error()};
  }
  return done;
}

} // namespace parley::coordination
