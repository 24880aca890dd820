// Raw CAF baselines: what the actor library alone does on this machine, with
// the same scheduler (2 workers) as a Parley node. Each run is one figure in
// a fresh process (the median of 3 for the time and rate baselines, 1 with
// --quick); the answer is one line `name value unit` on stdout for
// scripts/bench to hand to agents_bench, details go to stderr.
//
//   raw_caf mem       RSS growth per idle stateful actor, 1M actors
//   raw_caf spawn     seconds to sys.spawn 1M stateful actors (not lazy_init)
//   raw_caf pairs     msgs/s, 10,000 actors in 5,000 ping-pong pairs
//   raw_caf fanout    deliveries/s, one actor sending one shared message to
//                     1,000 actors, in windows
//   raw_caf rr        request/response round trips/s over 1,000 actor pairs

#include <atomic>
#include <cstdint>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include <caf/all.hpp>

#include "bench_params.hpp"
#include "bench_report.hpp"

namespace {

using ping_atom_t = caf::atom_constant<caf::atom("bping")>;
using peer_atom_t = caf::atom_constant<caf::atom("bpeer")>;
using fan_atom_t = caf::atom_constant<caf::atom("bfan")>;
using go_atom_t = caf::atom_constant<caf::atom("bgo")>;
using rr_atom_t = caf::atom_constant<caf::atom("brr")>;

caf::actor_system_config make_config() {
  caf::actor_system_config cfg;
  cfg.set("scheduler.max-threads", static_cast<size_t>(bench::scheduler_threads));
  return cfg;
}

// Counters shared by the actors of a run, each on its own cache line.
struct alignas(64) counter {
  std::atomic<uint64_t> n{0};
};
counter g_inits;
std::atomic<bool> g_stop{false};

/// Counting actors keep their count in their own state (written by that
/// actor only: the baseline pays for no shared cache line and no extra
/// memory); each registers the address at start and the main thread sums.
using count_t = std::atomic<uint64_t>;
std::vector<std::atomic<count_t*>> g_counts;

void make_counters(size_t n) {
  g_counts = std::vector<std::atomic<count_t*>>(n);
}

/// Waits until every counting actor has registered its counter.
void await_counters() {
  bench::wait_until(
    [] {
      for (auto& c : g_counts)
        if (c.load() == nullptr)
          return false;
      return true;
    },
    60);
}

uint64_t total_count() {
  uint64_t sum = 0;
  for (auto& c : g_counts)
    sum += c.load(std::memory_order_relaxed)->load(std::memory_order_relaxed);
  return sum;
}

void bump(count_t& c) {
  c.store(c.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
}

// -- mem and spawn: an idle stateful actor -------------------------------------

/// 32 bytes, like a small real state.
struct idle_state {
  uint64_t a = 0, b = 0, c = 0, d = 0;
  static inline const char* name = "bench.idle";
};

caf::behavior idle_actor(caf::stateful_actor<idle_state>* self) {
  g_inits.n.fetch_add(1, std::memory_order_relaxed);
  return {
    [self](ping_atom_t, uint64_t x) { self->state.a += x; },
  };
}

void kill_all(const std::vector<caf::actor>& actors) {
  for (auto& a : actors)
    caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
}

[[noreturn]] void run_mem(const bench::options& o) {
  const uint64_t n = o.size(bench::agents_full, bench::agents_quick);
  caf::actor_system_config cfg = make_config();
  caf::actor_system sys{cfg};
  std::vector<caf::actor> actors;
  bench::trim_heap();
  const auto before = bench::rss_bytes();
  actors.reserve(n);
  for (uint64_t i = 0; i < n; ++i)
    actors.push_back(sys.spawn(idle_actor));
  // Every actor ran its initialisation: it is idle now.
  bench::wait_until([&] { return g_inits.n.load() >= n; }, 120);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  const auto untrimmed = bench::rss_bytes();
  bench::trim_heap();
  const auto after = bench::rss_bytes();
  const double per = static_cast<double>(after - before) / static_cast<double>(n);
  std::cerr << "raw_caf mem: " << n << " actors, RSS " << before / 1048576 << " MiB -> "
            << after / 1048576 << " MiB (" << untrimmed / 1048576 << " MiB before trim), "
            << per << " bytes/actor (the handle vector included)\n";
  bench::deliver({per, {}});
}

[[noreturn]] void run_spawn(const bench::options& o) {
  const uint64_t n = o.size(bench::agents_full, bench::agents_quick);
  caf::actor_system_config cfg = make_config();
  caf::actor_system sys{cfg};
  std::vector<caf::actor> actors;
  actors.reserve(n);
  const double cpu0 = bench::thread_cpu_s(), pcpu0 = bench::process_cpu_s();
  const long faults0 = bench::page_faults();
  auto t0 = bench::clock_type::now();
  for (uint64_t i = 0; i < n; ++i)
    actors.push_back(sys.spawn(idle_actor));
  const double spawn_s = bench::seconds_since(t0);
  const double cpu = bench::thread_cpu_s() - cpu0, pcpu = bench::process_cpu_s() - pcpu0;
  const long faults = bench::page_faults() - faults0;
  bench::wait_until([&] { return g_inits.n.load() >= n; }, 120);
  const double all_init_s = bench::seconds_since(t0);
  std::cerr << "raw_caf spawn: " << n << " actors spawned in " << spawn_s << " s ("
            << static_cast<double>(n) / spawn_s << " /s), all initialised after " << all_init_s
            << " s; CPU: calling thread " << cpu << " s, process " << pcpu << " s; " << faults
            << " page faults\n";
  bench::deliver({spawn_s, {}});
}

// -- pairs: ping-pong ----------------------------------------------------------

struct pair_state {
  caf::actor peer;
  count_t count{0};
  static inline const char* name = "bench.pinger";
};

caf::behavior pinger(caf::stateful_actor<pair_state>* self, size_t index) {
  g_counts[index] = &self->state.count;
  return {
    [self](peer_atom_t, const caf::actor& p) { self->state.peer = p; },
    [self](ping_atom_t, uint64_t x) {
      bump(self->state.count);
      if (!g_stop.load(std::memory_order_relaxed))
        self->send(self->state.peer, ping_atom_t::value, x + 1);
    },
  };
}

[[noreturn]] void run_pairs(const bench::options& o) {
  const uint64_t n = o.size(bench::pair_agents, bench::pair_agents) / 2 * 2;
  const double secs = o.duration(bench::seconds_full, bench::seconds_quick);
  const uint32_t balls = o.balls != 0 ? o.balls : bench::balls_per_pair;
  caf::actor_system_config cfg = make_config();
  caf::actor_system sys{cfg};
  std::vector<caf::actor> actors;
  make_counters(n);
  for (uint64_t i = 0; i < n; ++i)
    actors.push_back(sys.spawn(pinger, static_cast<size_t>(i)));
  await_counters();
  for (uint64_t i = 0; i < n; i += 2) {
    caf::anon_send(actors[i], peer_atom_t::value, actors[i + 1]);
    caf::anon_send(actors[i + 1], peer_atom_t::value, actors[i]);
  }
  for (uint64_t i = 0; i < n; i += 2)
    for (uint32_t b = 0; b < balls; ++b)
      caf::anon_send(actors[i], ping_atom_t::value, uint64_t{0});
  const auto [m0, m1, elapsed] = bench::measure_window(bench::warmup_s, secs, total_count);
  g_stop = true;
  kill_all(actors);
  const double rate = static_cast<double>(m1 - m0) / elapsed;
  std::cerr << "raw_caf pairs: " << n << " actors, " << n / 2 << " pairs x "
            << balls << " balls, " << m1 - m0 << " msgs in " << elapsed
            << " s\n";
  bench::deliver({rate, {}});
}

// -- fanout: one sender, a shared message ---------------------------------------

struct fan_receiver_state {
  count_t count{0};
  static inline const char* name = "bench.fan_receiver";
};

caf::behavior fan_receiver(caf::stateful_actor<fan_receiver_state>* self, size_t index) {
  g_counts[index] = &self->state.count;
  return {
    [self](fan_atom_t, const std::string&) { bump(self->state.count); },
  };
}

struct fan_state {
  std::vector<caf::actor> receivers;
  static inline const char* name = "bench.fan_sender";
};

caf::behavior fan_sender(caf::stateful_actor<fan_state>* self, std::vector<caf::actor> rs) {
  self->state.receivers = std::move(rs);
  return {
    [self](go_atom_t, uint32_t window) {
      for (uint32_t w = 0; w < window; ++w) {
        // One message per round, its payload shared by every receiver.
        auto msg = caf::make_message(fan_atom_t::value, std::string{bench::room_content});
        for (auto& r : self->state.receivers)
          self->send(r, msg);
      }
    },
  };
}

[[noreturn]] void run_fanout(const bench::options& o) {
  const uint64_t members = o.size(bench::room_members, bench::room_members);
  const double secs = o.duration(bench::seconds_full, bench::seconds_quick);
  caf::actor_system_config cfg = make_config();
  caf::actor_system sys{cfg};
  std::vector<caf::actor> receivers;
  make_counters(members);
  for (uint64_t i = 0; i < members; ++i)
    receivers.push_back(sys.spawn(fan_receiver, static_cast<size_t>(i)));
  await_counters();
  auto sender = sys.spawn(fan_sender, receivers);
  const uint64_t per_window = members * bench::fanout_window;
  uint64_t expected = 0;
  auto window = [&] {
    expected += per_window;
    caf::anon_send(sender, go_atom_t::value, static_cast<uint32_t>(bench::fanout_window));
    bench::wait_until([&] { return total_count() >= expected; }, 60);
  };
  auto w0 = bench::clock_type::now();
  while (bench::seconds_since(w0) < bench::warmup_s)
    window();
  const auto m0 = total_count();
  auto t0 = bench::clock_type::now();
  while (bench::seconds_since(t0) < secs)
    window();
  const auto m1 = total_count();
  const double elapsed = bench::seconds_since(t0);
  receivers.push_back(sender);
  kill_all(receivers);
  std::cerr << "raw_caf fanout: " << members << " receivers, windows of "
            << bench::fanout_window << " messages, " << m1 - m0 << " deliveries in " << elapsed
            << " s\n";
  bench::deliver({static_cast<double>(m1 - m0) / elapsed, {}});
}

// -- rr: request / response round trips -----------------------------------------

caf::behavior rr_server(caf::event_based_actor*) {
  return {
    [](rr_atom_t, uint64_t x) { return x + 1; },
  };
}

struct rr_client_state {
  caf::actor server;
  count_t count{0};
  static inline const char* name = "bench.rr_client";
};

void rr_issue(caf::stateful_actor<rr_client_state>* self, uint64_t x) {
  self->request(self->state.server, caf::infinite, rr_atom_t::value, x)
    .then([self](uint64_t y) {
      bump(self->state.count);
      if (!g_stop.load(std::memory_order_relaxed))
        rr_issue(self, y);
    });
}

caf::behavior rr_client(caf::stateful_actor<rr_client_state>* self, caf::actor server,
                        size_t index) {
  self->state.server = std::move(server);
  g_counts[index] = &self->state.count;
  return {
    [self](go_atom_t, uint32_t) { rr_issue(self, 0); },
  };
}

[[noreturn]] void run_rr(const bench::options& o) {
  const uint64_t pairs = o.size(bench::turn_rooms, bench::turn_rooms);
  const double secs = o.duration(bench::seconds_full, bench::seconds_quick);
  caf::actor_system_config cfg = make_config();
  caf::actor_system sys{cfg};
  std::vector<caf::actor> actors;
  make_counters(pairs);
  for (uint64_t i = 0; i < pairs; ++i) {
    auto s = sys.spawn(rr_server);
    actors.push_back(s);
    actors.push_back(sys.spawn(rr_client, s, static_cast<size_t>(i)));
  }
  await_counters();
  for (uint64_t i = 0; i < pairs; ++i)
    caf::anon_send(actors[2 * i + 1], go_atom_t::value, uint32_t{0});
  const auto [m0, m1, elapsed] = bench::measure_window(bench::warmup_s, secs, total_count);
  g_stop = true;
  kill_all(actors);
  std::cerr << "raw_caf rr: " << pairs << " client/server pairs, " << m1 - m0
            << " round trips in " << elapsed << " s\n";
  bench::deliver({static_cast<double>(m1 - m0) / elapsed, {}});
}

const bench::baseline_def baselines[] = {
  {"mem", "raw_caf.idle_actor_rss", "bytes", run_mem, nullptr, true},
  {"spawn", "raw_caf.spawn_time", "s", run_spawn},
  {"pairs", "raw_caf.many_pairs", "msgs/s", run_pairs},
  {"fanout", "raw_caf.fanout", "deliveries/s", run_fanout},
  {"rr", "raw_caf.request_response", "round-trips/s", run_rr},
};

} // namespace

int main(int argc, char** argv) {
  auto o = bench::options::parse(argc, argv);
  if (bench::run_baseline(o, baselines))
    return 0;
  std::cerr << "usage: raw_caf mem|spawn|pairs|fanout|rr [--quick] [--n N] [--seconds S] "
               "[--repeats R]\n";
  return 2;
}
