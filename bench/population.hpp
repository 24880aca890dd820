#pragma once

// The populations the Parley benchmark programs build (agents_bench,
// storage_bench): agent names, the skill catalogue and realistic manifests.

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <iterator>
#include <string>
#include <vector>

#include "bench_params.hpp"
#include "parley/model/random.hpp"
#include "parley/node/node.hpp"

/// The benchmarks act as the node's admin (authorization is checked all the
/// same: its cost is part of every figure).
inline const parley::principal as_admin = parley::principal::admin("bench");

namespace bench {

inline std::string agent_name(uint64_t i) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "agent-%07llu", static_cast<unsigned long long>(i));
  return buf;
}

/// The skill catalogue agents draw from: distinct ids, names, tags and a
/// one-line description each.
inline std::vector<parley::skill> make_catalogue() {
  static const char* const areas[] = {"research", "planning", "writing", "review", "translation",
                                      "scheduling", "analysis", "support", "design", "testing"};
  std::vector<parley::skill> out;
  for (uint64_t i = 0; i < skill_catalogue; ++i) {
    const std::string area = areas[i % std::size(areas)];
    parley::skill s;
    s.id = "skill-" + std::to_string(i);
    s.name = area + " level " + std::to_string(i / std::size(areas) + 1);
    s.tags = {area, "level-" + std::to_string(i / std::size(areas) + 1)};
    s.description = "Handles " + area + " tasks of level " + std::to_string(i / std::size(areas) + 1)
                    + " and reports the outcome in plain words.";
    out.push_back(std::move(s));
  }
  return out;
}

/// A realistic manifest: display name, a one-sentence bio, 3 distinct skills
/// from the catalogue (seeded per agent).
inline parley::agent_spec make_spec(uint64_t i, const std::vector<parley::skill>& catalogue,
                                    parley::behavior_spec::kind k) {
  parley::agent_spec s;
  s.man.id = agent_name(i);
  s.man.display_name = "Agent " + std::to_string(i);
  s.man.bio = "Agent " + std::to_string(i)
              + " helps small teams plan their week, review drafts and summarise long threads.";
  uint64_t rng = i * 0x9e3779b97f4a7c15ULL + 1;
  std::vector<uint64_t> picked;
  while (picked.size() < 3) {
    auto x = parley::splitmix64(rng) % catalogue.size();
    if (std::find(picked.begin(), picked.end(), x) == picked.end())
      picked.push_back(x);
  }
  for (auto x : picked)
    s.man.skills.push_back(catalogue[x]);
  s.behavior.k = k;
  return s;
}

} // namespace bench
