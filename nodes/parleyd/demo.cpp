#include "demo.hpp"

#include <string>
#include <vector>

#include "parley/model/random.hpp"

namespace parleyd {

using namespace parley;

namespace {

const std::vector<skill>& skill_catalog() {
  static const std::vector<skill> skills = {
    {"summarize", "Summarize", {"text", "nlp"}, "Condenses long threads into key points."},
    {"translate", "Translate", {"text", "i18n"}, "Translates between common languages."},
    {"plan", "Plan", {"reasoning"}, "Breaks a goal into ordered steps."},
    {"code-review", "Code review", {"code"}, "Reviews patches for bugs and style."},
    {"search", "Search", {"retrieval"}, "Finds relevant documents."},
    {"critique", "Critique", {"reasoning", "debate"}, "Argues the other side."},
  };
  return skills;
}

constexpr speaker_policy policies[] = {speaker_policy::fifo, speaker_policy::round_robin,
                                       speaker_policy::priority, speaker_policy::random};

} // namespace

namespace {

// Up to two demo agents of each other node of the network join `room`. The
// other nodes build their populations at the same time: an agent that does
// not exist (yet) is skipped.
void join_others(node& n, const principal& as, const room_id& room, const demo_options& opt, uint64_t& rng) {
  auto& network = n.config().cluster;
  if (!network)
    return;
  for (auto& m : network->members()) {
    if (m.node == n.config().node_id)
      continue;
    for (int k = 0; k < 2; ++k) {
      auto who = m.node + "-agent-" + std::to_string(splitmix64(rng) % (opt.agents * 2));
      if (network->owner(shard_of(who)).node == m.node)
        (void) n.join(as, room, who);
    }
  }
}

} // namespace

expected<void> build_demo(node& n, const demo_options& opt) {
  // The daemon builds its demo as an operator: through the same checks as
  // any caller.
  const auto as = principal::operator_("parleyd-demo");
  uint64_t rng = opt.seed;
  auto& skills = skill_catalog();
  // In a network every node builds its own population under its name, of
  // agents whose shards it owns; its rooms live wherever their ids' shards
  // do, and take in agents of the other nodes too (others_of).
  auto& network = n.config().cluster;
  const std::string prefix = network ? n.config().node_id + "-" : "";
  auto mine = [&](const std::string& id) { return !network || network->owner(shard_of(id)).node == n.config().node_id; };
  std::vector<agent_id> ids;
  for (uint32_t i = 0, made = 0; made < opt.agents && i < opt.agents * 64; ++i) {
    agent_spec spec;
    spec.man.id = prefix + "agent-" + std::to_string(i);
    if (!mine(spec.man.id))
      continue;
    ++made;
    spec.man.display_name = "Agent " + std::to_string(i);
    spec.man.bio = "Demo agent " + std::to_string(i) + ", talks when nudged.";
    for (int k = 0; k < 3; ++k)
      spec.man.skills.push_back(skills[(i + static_cast<uint32_t>(k) * 2) % skills.size()]);
    spec.man.capacity = 32;
    spec.behavior.k = behavior_spec::kind::chatty;
    spec.behavior.seed = opt.seed;
    spec.behavior.reply_probability = 0.6;
    spec.behavior.messages_per_turn = 1 + static_cast<uint32_t>(splitmix64(rng) % 2);
    auto id = spec.man.id;
    if (auto ok = n.introduce(as, std::move(spec)); !ok)
      return ok;
    ids.push_back(std::move(id));
  }
  if (ids.size() < 2)
    return {};
  for (uint32_t r = 0; r < opt.group_rooms; ++r) {
    group_spec g;
    g.id = prefix + "lounge-" + std::to_string(r);
    g.topic = "Demo topic " + std::to_string(r);
    g.rules.policy = policies[r % std::size(policies)];
    g.rules.max_messages_per_turn = 2;
    g.rules.turn_slot_ms = 2000;
    g.rules.seed = opt.seed + r;
    auto owner = ids[splitmix64(rng) % ids.size()];
    auto made = n.create_group(as, owner, g);
    if (!made)
      return unexpected{made.error()};
    for (int k = 0; k < 7; ++k) {
      auto who = ids[splitmix64(rng) % ids.size()];
      if (auto ok = n.join(as, made->id, who); !ok && ok.error().code != errc::already_exists)
        return unexpected{ok.error()};
    }
    join_others(n, as, made->id, opt, rng);
  }
  for (uint32_t d = 0; d < opt.direct_rooms; ++d) {
    auto a = ids[splitmix64(rng) % ids.size()];
    auto b = ids[splitmix64(rng) % ids.size()];
    if (a == b)
      continue;
    if (auto made = n.create_direct(as, a, b); !made)
      return unexpected{made.error()};
  }
  return {};
}

} // namespace parleyd
