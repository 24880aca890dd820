// Parley figures, each measured through the public node facade in a fresh
// process and reported beside the raw CAF baseline that scripts/bench
// measured just before (passed in with --baseline-*). The time and rate
// figures are the median of 3 fresh processes (1 with --quick), the memory
// figure one process.
//
//   agents_bench mem        RSS growth per idle agent: 1M agents with
//                           realistic manifests, 2 rooms each
//   agents_bench introduce  seconds for introduce_many of 1M pre-built specs
//   agents_bench pairs      direct messages/s, 10,000 echo agents in pairs
//   agents_bench fanout     deliveries/s in one moderated 1,000-member room
//   agents_bench turns      turn cycles/s over 1,000 two-agent rooms

#include <algorithm>
#include <cstdint>
#include <iostream>
#include <limits>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include "bench_params.hpp"
#include "bench_report.hpp"
#include "parley/model/random.hpp"
#include "parley/node/node.hpp"
#include "population.hpp"

namespace {

using namespace parley;
using bench::agent_name;
using bench::make_catalogue;
using bench::make_spec;

bool g_manual_clock = false;

std::unique_ptr<node> start_node() {
  node_config cfg;
  if (g_manual_clock)
    cfg.time_source = std::make_shared<manual_clock>();
  cfg.scheduler_threads = bench::scheduler_threads;
  cfg.call_timeout = std::chrono::milliseconds(60000);
  // The pairs figure measures echo agents answering each other for the
  // whole window: a reply chain without end, which the hop limit exists to
  // stop in production.
  cfg.limits.max_reply_hops = std::numeric_limits<uint32_t>::max();
  auto n = node::start(cfg);
  if (!n) {
    std::cerr << "node::start failed: " << to_string(n.error()) << "\n";
    bench::fast_exit(1);
  }
  return std::move(*n);
}

[[noreturn]] void fail(const std::string& what, const parley::error& e) {
  std::cerr << "agents_bench: " << what << ": " << to_string(e) << "\n";
  bench::fast_exit(1);
}

bench::figure base_figure(const bench::options& o) {
  bench::figure f;
  f.baseline = o.baseline_name;
  f.baseline_value = o.baseline_value;
  f.baseline_unit = o.baseline_unit;
  return f;
}

/// Introduces agents [first, first + n) in batches (so the specs never all
/// exist at once).
void introduce_population(node& nd, uint64_t first, uint64_t n, const std::vector<skill>& cat,
                          behavior_spec::kind k) {
  constexpr uint64_t batch = 10'000;
  for (uint64_t b = first; b < first + n; b += batch) {
    std::vector<agent_spec> specs;
    const uint64_t end = std::min(first + n, b + batch);
    specs.reserve(end - b);
    for (uint64_t i = b; i < end; ++i)
      specs.push_back(make_spec(i, cat, k));
    if (auto r = nd.introduce_many(as_admin, std::move(specs)); !r)
      fail("introduce_many", r.error());
  }
}

/// Waits until the event bus has worked through what was published so far.
void settle(node& nd) {
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  (void) nd.events_since(as_admin, ~uint64_t{0}, 1);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
}

// -- 1. memory per idle agent ----------------------------------------------------

[[noreturn]] void run_mem(const bench::options& o) {
  const uint64_t n = o.size(bench::agents_full, bench::agents_quick);
  const uint64_t rooms = std::min<uint64_t>(bench::population_rooms, n / 2);
  auto nd = start_node();
  const auto catalogue = make_catalogue();
  settle(*nd);
  bench::trim_heap();
  const auto before = bench::rss_bytes();
  auto t0 = bench::clock_type::now();
  introduce_population(*nd, 0, n, catalogue, behavior_spec::kind::silent);
  const double t_intro = bench::seconds_since(t0);
  settle(*nd);
  bench::trim_heap();
  const auto after_intro = bench::rss_bytes();

  // Rooms: open groups, fifo; room r is created by agent r (its owner).
  std::vector<room_id> room_ids;
  group_spec gs;
  gs.rules.policy = speaker_policy::fifo;
  for (uint64_t r = 0; r < rooms; ++r) {
    gs.topic = "Room " + std::to_string(r) + ": weekly planning and reviews";
    auto made = nd->create_group(as_admin, agent_name(r), gs);
    if (!made)
      fail("create_group", made.error());
    room_ids.push_back(made->id);
  }
  // Every agent in 2 distinct rooms, a = k % rooms and b (a function of k
  // that differs from a); room r's creator, agent r, is in it already.
  auto t1 = bench::clock_type::now();
  uint64_t joins = 0;
  {
    std::vector<std::vector<agent_id>> lists(rooms);
    for (uint64_t k = 0; k < n; ++k) {
      const uint64_t a = k % rooms;
      const uint64_t b = (a + 1 + (k / rooms) % (rooms - 1)) % rooms;
      if (k != a)
        lists[a].push_back(agent_name(k));
      lists[b].push_back(agent_name(k));
    }
    for (uint64_t r = 0; r < rooms; ++r) {
      auto j = nd->join_many(as_admin, room_ids[r], lists[r]);
      if (!j)
        fail("join_many " + room_ids[r], j.error());
      joins += *j;
    }
  }
  const double t_join = bench::seconds_since(t1);
  settle(*nd);
  const auto untrimmed = bench::rss_bytes();
  bench::trim_heap();
  const auto after = bench::rss_bytes();
  const auto st = nd->stats();

  bench::sample f;
  f.value = static_cast<double>(after - before) / static_cast<double>(n);
  f.notes.push_back(std::to_string(n) + " agents (3 of " + std::to_string(catalogue.size())
                    + " skills, bio, 2 rooms each), " + std::to_string(rooms) + " rooms, "
                    + std::to_string(joins) + " joins; RSS " + std::to_string(before >> 20)
                    + " -> " + std::to_string(after >> 20) + " MiB ("
                    + std::to_string(untrimmed >> 20) + " MiB before malloc_trim)");
  f.notes.push_back("after introduce (before rooms) "
                    + bench::human(static_cast<double>(after_intro - before) / static_cast<double>(n))
                    + " bytes/agent; heap in use " + bench::human(bench::heap_in_use() / static_cast<double>(n)) + " bytes/agent");
  f.notes.push_back("introduce " + bench::human(t_intro) + " s, joins " + bench::human(t_join)
                    + " s; node counts " + std::to_string(st.agents) + " agents, "
                    + std::to_string(st.rooms) + " rooms");
  bench::deliver(f);
}

// -- 2. time to introduce ----------------------------------------------------------

[[noreturn]] void run_introduce(const bench::options& o) {
  const uint64_t n = o.size(bench::agents_full, bench::agents_quick);
  auto nd = start_node();
  const auto catalogue = make_catalogue();
  std::vector<agent_spec> specs;
  specs.reserve(n);
  for (uint64_t i = 0; i < n; ++i)
    specs.push_back(make_spec(i, catalogue, behavior_spec::kind::silent));
  const double cpu0 = bench::thread_cpu_s(), pcpu0 = bench::process_cpu_s();
  const long faults0 = bench::page_faults();
  auto t0 = bench::clock_type::now();
  auto r = nd->introduce_many(as_admin, std::move(specs));
  const double secs = bench::seconds_since(t0);
  const double cpu = bench::thread_cpu_s() - cpu0, pcpu = bench::process_cpu_s() - pcpu0;
  const long faults = bench::page_faults() - faults0;
  if (!r)
    fail("introduce_many", r.error());

  bench::sample f;
  f.value = secs;
  f.notes.push_back(std::to_string(*r) + " agents introduced, "
                    + bench::human(static_cast<double>(n) / secs) + " agents/s; CPU: calling thread "
                    + bench::human(cpu) + " s, process " + bench::human(pcpu) + " s; "
                    + std::to_string(faults) + " page faults");
  bench::deliver(f);
}

// -- 3. direct messages ------------------------------------------------------------

[[noreturn]] void run_pairs(const bench::options& o) {
  const uint64_t n = o.size(bench::pair_agents, bench::pair_agents) / 2 * 2;
  const double secs = o.duration(bench::seconds_full, bench::seconds_quick);
  const uint32_t balls = o.balls != 0 ? o.balls : bench::balls_per_pair;
  auto nd = start_node();
  const auto catalogue = make_catalogue();
  introduce_population(*nd, 0, n, catalogue, behavior_spec::kind::echo);
  // Random pairs from a seeded shuffle.
  std::vector<uint64_t> perm(n);
  std::iota(perm.begin(), perm.end(), 0);
  uint64_t rng = 42;
  for (uint64_t i = n - 1; i > 0; --i)
    std::swap(perm[i], perm[splitmix64(rng) % (i + 1)]);
  const auto s0 = nd->stats();
  for (uint64_t i = 0; i < n; i += 2) {
    message m;
    m.from = agent_name(perm[i]);
    m.to = address::agent(agent_name(perm[i + 1]));
    m.content = std::string{bench::direct_content};
    for (uint32_t b = 0; b < balls; ++b)
      if (auto ok = nd->post(as_admin, m); !ok)
        fail("post", ok.error());
  }
  const auto [a, b, elapsed] =
    bench::measure_window(bench::warmup_s, secs, [&] { return nd->stats(); });

  bench::sample f;
  f.value = static_cast<double>(b.deliveries - a.deliveries) / elapsed;
  f.notes.push_back(std::to_string(n) + " echo agents in " + std::to_string(n / 2)
                    + " seeded random pairs x " + std::to_string(balls)
                    + " messages; refused = " + std::to_string(b.refused - s0.refused)
                    + ", served/s = "
                    + bench::human(static_cast<double>(b.served - a.served) / elapsed));
  bench::deliver(f);
}

// -- 4. fan-out in one moderated room ------------------------------------------------

[[noreturn]] void run_fanout(const bench::options& o) {
  const uint64_t members = o.size(bench::room_members, bench::room_members);
  const double secs = o.duration(bench::seconds_full, bench::seconds_quick);
  auto nd = start_node();
  const auto catalogue = make_catalogue();
  // Agent 0 speaks (echo: it keeps a granted turn); the others are silent.
  introduce_population(*nd, 0, 1, catalogue, behavior_spec::kind::echo);
  introduce_population(*nd, 1, members - 1, catalogue, behavior_spec::kind::silent);
  const auto speaker = agent_name(0);
  group_spec gs;
  gs.id = "stage";
  gs.topic = "one speaker, many listeners";
  gs.rules.policy = speaker_policy::fifo;
  gs.rules.max_messages_per_turn = 0;
  gs.rules.turn_slot_ms = 0;
  auto room = nd->create_group(as_admin, speaker, gs);
  if (!room)
    fail("create_group", room.error());
  std::vector<agent_id> listeners;
  for (uint64_t i = 1; i < members; ++i)
    listeners.push_back(agent_name(i));
  if (auto j = nd->join_many(as_admin, room->id, listeners); !j)
    fail("join_many", j.error());
  if (auto t = nd->request_turn(as_admin, room->id, speaker); !t)
    fail("request_turn", t.error());
  bench::wait_until(
    [&] {
      auto t = nd->turns(as_admin, room->id);
      return t && t->current && t->current->speaker == speaker;
    },
    10);

  message m;
  m.from = speaker;
  m.to = address::room(room->id);
  m.content = std::string{bench::room_content};
  const auto s0 = nd->stats();
  const uint64_t per_window = (members - 1) * bench::fanout_window;
  uint64_t expected = s0.deliveries;
  bool stalled = false;
  auto window = [&] {
    expected += per_window;
    for (uint32_t w = 0; w < bench::fanout_window; ++w)
      if (auto ok = nd->post(as_admin, m); !ok)
        fail("post", ok.error());
    // The next window only when every member has this one in its inbox.
    if (!bench::wait_until([&] { return nd->stats().deliveries >= expected; }, 30))
      stalled = true;
  };
  auto w0 = bench::clock_type::now();
  while (!stalled && bench::seconds_since(w0) < bench::warmup_s)
    window();
  const auto a = nd->stats();
  auto t0 = bench::clock_type::now();
  while (!stalled && bench::seconds_since(t0) < secs)
    window();
  const auto b = nd->stats();
  const double elapsed = bench::seconds_since(t0);

  bench::sample f;
  f.value = static_cast<double>(b.deliveries - a.deliveries) / elapsed;
  f.notes.push_back(std::to_string(members) + "-member fifo room, 1 echo speaker holding the turn, "
                    + std::to_string(members - 1) + " silent listeners, windows of "
                    + std::to_string(bench::fanout_window) + " posts; refused = "
                    + std::to_string(b.refused - s0.refused) + (stalled ? ", STALLED" : ""));
  bench::deliver(f);
}

// -- 5. turn cycles ------------------------------------------------------------------

[[noreturn]] void run_turns(const bench::options& o) {
  const uint64_t rooms = o.size(bench::turn_rooms, bench::turn_rooms);
  const double secs = o.duration(bench::seconds_full, bench::seconds_quick);
  auto nd = start_node();
  const auto catalogue = make_catalogue();
  std::vector<agent_spec> specs;
  for (uint64_t i = 0; i < 2 * rooms; ++i) {
    auto s = make_spec(i, catalogue, behavior_spec::kind::chatty);
    s.behavior.reply_probability = 0;
    s.behavior.messages_per_turn = 1;
    s.behavior.rerequest_after_yield = true;
    s.behavior.seed = 7;
    specs.push_back(std::move(s));
  }
  if (auto r = nd->introduce_many(as_admin, std::move(specs)); !r)
    fail("introduce_many", r.error());
  // Turns end by yielding: no message limit, no time slot.
  group_spec gs;
  gs.rules.policy = speaker_policy::fifo;
  gs.rules.max_messages_per_turn = 0;
  gs.rules.turn_slot_ms = 0;
  for (uint64_t r = 0; r < rooms; ++r) {
    gs.id = "table-" + std::to_string(r);
    auto made = nd->create_group(as_admin, agent_name(2 * r), gs);
    if (!made)
      fail("create_group", made.error());
    if (auto j = nd->join(as_admin, made->id, agent_name(2 * r + 1)); !j)
      fail("join", j.error());
  }
  settle(*nd);
  const auto s0 = nd->stats();
  for (uint64_t i = 0; i < 2 * rooms; ++i)
    if (auto ok = nd->nudge(as_admin, agent_name(i)); !ok)
      fail("nudge", ok.error());
  const auto [a, b, elapsed] =
    bench::measure_window(bench::warmup_s, secs, [&] { return nd->stats(); });

  bench::sample f;
  f.value = static_cast<double>(b.turns_granted - a.turns_granted) / elapsed;
  f.notes.push_back(std::to_string(rooms) + " fifo rooms x 2 chatty agents (request -> grant -> "
                    "message -> yield); room messages/s = "
                    + bench::human(static_cast<double>(b.messages_sent - a.messages_sent) / elapsed)
                    + ", refused = " + std::to_string(b.refused - s0.refused));
  bench::deliver(f);
}

/// What is measured, by name: how to report it and how to take one sample.
struct figure_def {
  const char* arg;
  const char* name;
  const char* unit;
  bench::goal g;
  double threshold;
  void (*measure)(const bench::options&);
  /// Memory: one run (it is a steady state, not a noisy rate).
  bool single_run = false;
};

const figure_def figures[] = {
  {"mem", "agent_rss_per_idle_agent", "bytes", bench::goal::at_most_absolute, 2048, run_mem, true},
  {"introduce", "introduce_time", "s", bench::goal::at_most_baseline, 2, run_introduce},
  {"pairs", "direct_msgs_per_s", "msgs/s", bench::goal::at_least_baseline, 0.6, run_pairs},
  {"fanout", "room_fanout_deliveries_per_s", "deliveries/s", bench::goal::at_least_baseline, 0.6,
   run_fanout},
  {"turns", "turn_cycles_per_s", "turns/s", bench::goal::report_only, 0, run_turns},
};

} // namespace

int main(int argc, char** argv) {
  auto o = bench::options::parse(argc, argv);
  g_manual_clock = o.manual_clock;
  if (o.figure == "header") {
    bench::print_header();
    return 0;
  }
  for (auto& def : figures) {
    if (o.figure != def.arg)
      continue;
    const unsigned runs = def.single_run ? 1 : o.runs();
    auto samples = bench::run_forked(runs, [&] { return def.measure(o); });
    auto& median = samples[samples.size() / 2];
    auto f = base_figure(o);
    f.name = def.name;
    f.unit = def.unit;
    f.g = def.g;
    f.threshold = def.threshold;
    f.value = median.value;
    f.notes = median.notes;
    if (runs > 1) {
      std::string all = "median of " + std::to_string(runs) + " fresh processes:";
      for (auto& x : samples)
        all += " " + bench::human(x.value);
      f.notes.push_back(all);
    }
    bench::report(f, o.json_file);
    return 0;
  }
  std::cerr << "usage: agents_bench header|mem|introduce|pairs|fanout|turns [--quick] "
               "[--json FILE] [--n N] [--seconds S] [--repeats R] --baseline-name NAME "
               "--baseline-value V --baseline-unit UNIT\n";
  return 2;
}
