// Parley across nodes: real parleyd processes in a network coordinated by a
// real etcd (a throwaway one on /dev/shm, tests/support/etcd_process.hpp),
// called through the gRPC API by clients in this process. Every run starts
// a fresh etcd and two fresh nodes, node-a and node-b (both with
// --min-members 2, so the 1,024 shards are split between them, 2 scheduler
// threads each, `limits.requests_per_second: 0` as api_bench's server),
// and kills them at its end. The figures are the median of 3 fresh runs (1
// with --quick). The program needs the parleyd binary: --parleyd PATH.
//
// The workload is api_bench's `link` figure: 2 external agents (introduced
// with Agents.Introduce, KIND_EXTERNAL), each with an AgentLink.Link on its
// own connection, writing send_batch of 1,000 messages to 1,000 silent
// agents, 4 batches in flight; a message counts when its SendResult comes
// back without an error; a 0.5 s warm-up, then a 5 s window (1 s with
// --quick). The senders always live in node-a's shards and the clients
// are linked to node-a; only where the recipients live differs:
//
//   cluster_bench local       BASELINE: the recipients in node-a's shards
//                             too (node-b is up, owns half the shards and
//                             carries nothing): Parley on one node, in a
//                             network, through the same API
//   cluster_bench cross       the recipients in node-b's shards: every
//                             message crosses the Federation link (target
//                             >= 0.5x local)
//   cluster_bench local_sync  BASELINE: local with --durability sync and a
//                             --data-dir per node (under /tmp, removed)
//   cluster_bench cross_sync  cross with the same (target >= 0.7x local_sync)
//   cluster_bench local_rtt   BASELINE: latency at half the maximum rate
//                             (two values, p50 and p99): the maximum is
//                             measured first (the `local` load, its own
//                             senders), then 2 other senders keep half of
//                             it with paced send_batch of 100, while a
//                             probe agent (linked to node-a) sends single
//                             messages to the recipients one at a time,
//                             timing each from its write to its SendResult
//   cluster_bench cross_rtt   the same with the recipients on node-b (p50
//                             and p99 rows; report only)
//   cluster_bench etcd_writes etcd revisions/s (every write to etcd makes
//                             one): the fresh etcd alone before any node
//                             starts (the first row's baseline), the network
//                             at rest after it formed and its agents were
//                             introduced (first row), and during the `cross`
//                             load (second row, its baseline the messages/s
//                             carried in that window, so that its ratio is
//                             etcd writes per message); 5 s windows at rest
//                             (2 s with --quick); target <= 1 revision/s
//   cluster_bench drain       seconds for node-b (sync) to hand all its
//                             shards to node-a (Admin.Drain hand_off, until
//                             NodeInfo.hand_off.done) with 100,000 silent
//                             agents and 1,000,000 messages (10,000 and
//                             100,000 with --quick) sent to them across
//                             from node-a first; beside it (raw baseline,
//                             same run) `cp -a` of node-b's store, and etcd
//                             revisions/s during the hand-off (report only)
//
// The baselines (local, local_sync, local_rtt) answer as the raw baseline
// programs do (`name value unit` on stdout, one line per value; facts on
// stderr); the Parley figures report a row beside the baseline passed in
// with --baseline-* (bench_report.hpp). `--raw-stream V` (results/s of
// `raw_grpc stream` in the same run, from scripts/bench) adds a note under
// the cross row naming that raw gRPC figure beside it.
//
// Analysis options (scripts/bench does not use them): --threads LINKS and
// --n BATCH set the number of linked senders and the batch size of the
// throughput figures; --seconds S and --repeats R as elsewhere. While a run
// measures, its stderr names the pids of its parleyd processes (for perf
// or gdb). The links are never cancelled with a batch in flight (the nodes
// are killed first): parleyd can crash when a link is cancelled while a
// send_batch of it is in flight (docs/performance.md, "Across nodes").

#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "bench_params.hpp"
#include "bench_report.hpp"
#include "grpc_load.hpp"
#include "link_load.hpp"
#include "parley/model/shard.hpp"
#include "parley/v1/api.grpc.pb.h"
#include "support/etcd_process.hpp"
#include "support/process.hpp"

namespace {

namespace pb = ::parley::v1;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

/// Set from the command line before bench::options::parse sees the rest.
std::string parleyd_path;
double raw_stream_value = 0; // 0: not given

/// What a failing run shows besides its reason (the nodes' last words).
void (*on_failure)() = nullptr;

[[noreturn]] void fail(const std::string& what, const std::string& why) {
  std::cerr << "cluster_bench: " << what << ": " << why << "\n";
  if (auto f = on_failure) {
    on_failure = nullptr;
    f();
  }
  bench::fast_exit(1);
}

std::string agent_name(uint64_t i) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "agent-%07llu", static_cast<unsigned long long>(i));
  return buf;
}

/// Sizes of the rtt figures' paced load.
constexpr size_t paced_batch = 100;
constexpr unsigned paced_window = 8;
/// Gap between two probes (a probe is one message, sequential).
constexpr auto probe_gap = 1ms;
/// Windows at rest of the etcd figure.
constexpr double rest_full_s = 5.0;
constexpr double rest_quick_s = 2.0;
/// Introductions in parallel while a run builds its population.
constexpr unsigned introduce_threads = 8;
/// Id ranges: recipients from 0, senders (and probes) from here.
constexpr uint64_t sender_ids_from = 1'000'000;

// -- processes ------------------------------------------------------------------------

/// CPU seconds (user + system) of process `pid` so far (0 if unreadable).
double cpu_of(pid_t pid) {
  std::ifstream f{"/proc/" + std::to_string(pid) + "/stat"};
  std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  auto close = text.rfind(')');
  if (close == std::string::npos)
    return 0;
  std::istringstream in{text.substr(close + 2)};
  std::string field;
  unsigned long long utime = 0, stime = 0;
  // Fields after the name: state(3) ... utime(14) stime(15).
  for (int k = 3; k <= 15 && in >> field; ++k) {
    if (k == 14)
      utime = std::stoull(field);
    if (k == 15)
      stime = std::stoull(field);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

/// The pid of this process's child whose command line has `--node-id id`
/// (child_process keeps its pid to itself); -1 if none.
pid_t child_pid_of_node(const std::string& id) {
  DIR* d = opendir("/proc");
  if (!d)
    return -1;
  pid_t found = -1;
  const pid_t self = getpid();
  while (auto* e = readdir(d)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9')
      continue;
    const std::string dir = std::string{"/proc/"} + e->d_name;
    std::ifstream st{dir + "/stat"};
    std::string text((std::istreambuf_iterator<char>(st)), std::istreambuf_iterator<char>());
    auto close = text.rfind(')');
    if (close == std::string::npos)
      continue;
    std::istringstream in{text.substr(close + 2)};
    std::string state;
    long ppid = 0;
    in >> state >> ppid;
    if (ppid != self)
      continue;
    std::ifstream cl{dir + "/cmdline"};
    std::string cmd((std::istreambuf_iterator<char>(cl)), std::istreambuf_iterator<char>());
    std::vector<std::string> args;
    for (size_t at = 0; at < cmd.size();) {
      auto end = cmd.find('\0', at);
      if (end == std::string::npos)
        end = cmd.size();
      args.push_back(cmd.substr(at, end - at));
      at = end + 1;
    }
    for (size_t k = 0; k + 1 < args.size(); ++k)
      if (args[k] == "--node-id" && args[k + 1] == id)
        found = static_cast<pid_t>(std::stol(e->d_name));
  }
  closedir(d);
  return found;
}

// -- the network --------------------------------------------------------------------------

enum class mode { memory, sync };

struct node_proc {
  std::string id;
  std::unique_ptr<parley::test::child_process> proc;
  pid_t pid = -1;
  std::string address;
};

/// A fresh etcd and two parleyd (node-a, node-b) whose shards are all given
/// out; killed (SIGKILL) and their directories removed when it goes away.
class network {
public:
  /// `before_nodes` runs once etcd answers, before any node starts.
  explicit network(mode m, const std::function<void(network&)>& before_nodes = {})
    : dir_(bench::run_dir()), etcd_(std::make_unique<parley::test::etcd_process>()) {
    // A failure from here on cleans up (fail() exits without destructors).
    current_ = this;
    on_failure = [] {
      if (current_)
        current_->abandon();
    };
    if (!etcd_->running())
      fail("etcd", "did not start (is etcd-server installed? /usr/bin/etcd)");
    fs::create_directories(dir_);
    if (before_nodes)
      before_nodes(*this);
    const auto cfg = (fs::path{dir_} / "bench.yaml").string();
    // As api_bench's server: admission runs, but the one principal of the
    // benchmark is not rate-limited; no summary line every second.
    std::ofstream(cfg) << "limits:\n  requests_per_second: 0\nlog:\n  summary: false\n";
    first_revision_ = revision();
    for (const char* id : {"node-a", "node-b"}) {
      std::vector<std::string> args{parleyd_path, "--node-id", id, "--listen", "127.0.0.1:0", "--no-demo",
                                    "--etcd", etcd_->endpoint(), "--min-members", "2", "--threads",
                                    std::to_string(bench::scheduler_threads), "--config", cfg,
                                    "--log-level", "info"};
      if (m == mode::sync) {
        args.insert(args.end(), {"--durability", "sync", "--data-dir", (fs::path{dir_} / id).string()});
      } else {
        args.insert(args.end(), {"--durability", "memory"});
      }
      auto n = std::make_unique<node_proc>();
      n->id = id;
      // Development nodes whatever this shell holds: no token key.
      n->proc = std::make_unique<parley::test::child_process>(
        args, std::string{}, std::vector<std::string>{"PARLEY_TOKEN_KEY=", "PARLEY_TOKEN_KEY_FILE="}, true);
      nodes_.push_back(std::move(n));
    }
    static const std::regex listening{"gRPC API listening on (127\\.0\\.0\\.1:[0-9]+)"};
    for (auto& n : nodes_) {
      if (!n->proc->wait_for_output("is a member of the network", 30s))
        fail(n->id, "did not become a member within 30 s; it logged:\n" + n->proc->output());
      std::smatch mm;
      if (!std::regex_search(n->proc->output(), mm, listening))
        fail(n->id, "no 'gRPC API listening on' line; it logged:\n" + n->proc->output());
      n->address = mm[1];
      n->pid = child_pid_of_node(n->id);
    }
    // Every shard has an owner, some on each node.
    auto t0 = bench::clock_type::now();
    while (read_map() < parley::shard_count || owned("node-a") == 0 || owned("node-b") == 0) {
      if (bench::seconds_since(t0) > 30)
        fail("the shard map", std::to_string(map_.size()) + " of " + std::to_string(parley::shard_count)
                                + " shards given out after 30 s");
      for (auto& n : nodes_)
        n->proc->read_for(25ms);
    }
    formed_revision_ = revision();
    // From now on one thread reads what the nodes log, so that none blocks
    // on a full pipe.
    drainer_ = std::thread([this] {
      while (!stop_drain_.load())
        for (auto& n : nodes_)
          n->proc->read_for(50ms);
    });
  }

  ~network() {
    current_ = nullptr;
    on_failure = nullptr;
    stop_drain_ = true;
    if (drainer_.joinable())
      drainer_.join();
    nodes_.clear(); // SIGKILL, reaped
    etcd_.reset();  // SIGKILL, its /dev/shm directory removed
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  network(const network&) = delete;
  network& operator=(const network&) = delete;

  node_proc& node(const std::string& id) {
    for (auto& n : nodes_)
      if (n->id == id)
        return *n;
    fail("network", "no node " + id);
  }

  /// Agent ids agent_name(from), agent_name(from + 1), ... whose shards
  /// `node` owns, the first `n` of them.
  std::vector<std::string> ids_on(const std::string& node, size_t n, uint64_t from) const {
    std::vector<std::string> out;
    for (uint64_t i = from; out.size() < n; ++i) {
      auto id = agent_name(i);
      auto it = map_.find(parley::shard_of(id));
      if (it != map_.end() && it->second == node)
        out.push_back(id);
    }
    return out;
  }

  /// etcd's revision (every write makes one).
  uint64_t revision() const {
    static const std::regex rev{"\"revision\":([0-9]+)"};
    for (int attempt = 0; attempt < 5; ++attempt) {
      auto out = etcd_->ctl("--command-timeout=5s endpoint status -w json");
      std::smatch m;
      if (std::regex_search(out, m, rev))
        return std::stoull(m[1]);
      std::this_thread::sleep_for(100ms);
    }
    fail("etcdctl endpoint status", "no revision in its answer");
  }

  size_t owned(const std::string& node) const {
    size_t n = 0;
    for (auto& [s, who] : map_)
      n += who == node ? 1 : 0;
    return n;
  }

  /// Revisions etcd made while the network formed (joins, shard map,
  /// coordinator), from a fresh etcd.
  uint64_t formation_revisions() const { return formed_revision_ - first_revision_; }

  /// "node-a pid P, node-b pid Q".
  std::string pids() const {
    std::string out;
    for (auto& n : nodes_)
      out += (out.empty() ? "" : ", ") + n->id + " pid " + std::to_string(n->pid);
    return out;
  }

  /// On a failure (the run then exits without destructors): whether each
  /// node still runs and the end of its log; then the processes are
  /// killed and the directories removed.
  void abandon() {
    stop_drain_ = true;
    if (drainer_.joinable() && drainer_.get_id() != std::this_thread::get_id())
      drainer_.join();
    for (auto& n : nodes_) {
      const int code = n->proc->wait_exit(200ms);
      const auto& out = n->proc->output();
      std::cerr << "---- " << n->id << (code == -1000 ? " (running)" : " exited with " + std::to_string(code))
                << ", the end of its log:\n"
                << out.substr(out.size() > 4000 ? out.size() - 4000 : 0) << "\n";
    }
    nodes_.clear();
    etcd_.reset();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

private:
  static inline network* current_ = nullptr;

  size_t read_map() {
    std::istringstream lines(etcd_->ctl("get --prefix /parley/shards/"));
    std::string key, value;
    map_.clear();
    static const std::regex owner{"\"node\":\"([a-z-]+)\""};
    while (std::getline(lines, key) && std::getline(lines, value)) {
      std::smatch m;
      if (key.rfind("/parley/shards/", 0) == 0 && std::regex_search(value, m, owner))
        map_[static_cast<parley::shard_id>(std::stoul(key.substr(15)))] = m[1];
    }
    return map_.size();
  }

  std::string dir_;
  std::unique_ptr<parley::test::etcd_process> etcd_;
  std::vector<std::unique_ptr<node_proc>> nodes_;
  std::map<parley::shard_id, std::string> map_;
  uint64_t first_revision_ = 0;
  uint64_t formed_revision_ = 0;
  std::atomic<bool> stop_drain_{false};
  std::thread drainer_;
};

// -- the API side ---------------------------------------------------------------------------

/// Introduces `ids` (behaviour `kind`) through the node at `address`, from
/// a few threads at once (setup, not measured). An owner that has not yet
/// seen the whole map is asked again.
void introduce_all(const std::string& address, const std::vector<std::string>& ids, pb::Behavior::Kind kind) {
  auto channel = bench::own_channel(address);
  std::atomic<size_t> next{0};
  std::mutex mtx;
  std::string first_error;
  std::vector<std::thread> threads;
  for (unsigned t = 0; t < introduce_threads; ++t)
    threads.emplace_back([&] {
      auto stub = pb::Agents::NewStub(channel);
      for (size_t i; (i = next.fetch_add(1)) < ids.size();) {
        pb::IntroduceRequest req;
        req.mutable_manifest()->set_id(ids[i]);
        req.mutable_manifest()->set_display_name("Agent " + ids[i]);
        req.mutable_manifest()->set_bio(kind == pb::Behavior::KIND_EXTERNAL
                                          ? "A process outside the node, linked through AgentLink.Link."
                                          : "Helps small teams plan their week and summarise long threads.");
        req.mutable_behavior()->set_kind(kind);
        grpc::Status s;
        for (int attempt = 0; attempt < 20; ++attempt) {
          grpc::ClientContext ctx;
          ctx.set_deadline(std::chrono::system_clock::now() + 30s);
          ctx.set_wait_for_ready(true);
          pb::Manifest out;
          s = stub->Introduce(&ctx, req, &out);
          if (s.ok() || s.error_code() == grpc::StatusCode::ALREADY_EXISTS)
            break;
          std::this_thread::sleep_for(100ms);
        }
        if (!s.ok() && s.error_code() != grpc::StatusCode::ALREADY_EXISTS) {
          std::lock_guard guard{mtx};
          if (first_error.empty())
            first_error = ids[i] + ": " + s.error_message();
        }
      }
    });
  for (auto& t : threads)
    t.join();
  if (!first_error.empty())
    fail("Agents.Introduce", first_error);
}

// -- one run's setup --------------------------------------------------------------------------

/// Where the recipients live.
enum class placement { local, cross };

const char* target_node(placement p) { return p == placement::local ? "node-a" : "node-b"; }

/// A network with the link figure's population: 1,000 silent recipients in
/// the target node's shards, `senders` external agents in node-a's shards.
struct population {
  std::vector<std::string> recipients;
  std::vector<std::string> senders;
};

population populate(network& net, placement where, size_t senders) {
  population p;
  const std::string target = target_node(where);
  p.recipients = net.ids_on(target, bench::api_recipients, 0);
  p.senders = net.ids_on("node-a", senders, sender_ids_from);
  // Each through the node that owns it (setup: no forwarding to time).
  introduce_all(net.node(target).address, p.recipients, pb::Behavior::KIND_SILENT);
  introduce_all(net.node("node-a").address, p.senders, pb::Behavior::KIND_EXTERNAL);
  return p;
}

/// CPU seconds of node-a, node-b and this process, read together.
struct cpu_reading {
  double a = 0, b = 0, self = 0;
};
cpu_reading read_cpu(network& net) {
  return {cpu_of(net.node("node-a").pid), cpu_of(net.node("node-b").pid), bench::process_cpu_s()};
}

std::string cpu_note(const cpu_reading& c0, const cpu_reading& c1, double elapsed, double messages) {
  auto per = [&](double a, double b) {
    return bench::human((b - a) / elapsed) + " cores, " + bench::human((b - a) / messages * 1e6) + " us/msg";
  };
  return "CPU: node-a " + per(c0.a, c1.a) + "; node-b " + per(c0.b, c1.b) + "; clients (this process) "
         + per(c0.self, c1.self) + "; machine load " + [] {
             std::ifstream f{"/proc/loadavg"};
             std::string l1;
             f >> l1;
             return l1;
           }();
}

const char* mode_name(mode m) { return m == mode::sync ? "sync" : "memory"; }

// -- throughput --------------------------------------------------------------------------------

[[noreturn]] void run_link(const bench::options& o, placement where, mode m) {
  const double secs = o.duration(bench::seconds_full, bench::seconds_quick);
  bench::sample s;
  {
    auto net = std::make_unique<network>(m);
    // --threads and --n (analysis only): links and batch size.
    auto p = populate(*net, where, o.threads != 0 ? o.threads : bench::api_link_clients);
    std::cerr << "cluster_bench: " << net->pids() << "\n";
    bench::link_load load{net->node("node-a").address, p.senders, p.recipients, fail,
                          {.batch = o.n != 0 ? o.n : bench::api_batch}};
    std::this_thread::sleep_for(std::chrono::duration<double>(bench::warmup_s));
    const auto c0 = read_cpu(*net);
    const auto [a, b, elapsed] = bench::measure_window(0, secs, [&] { return load.acknowledged(); });
    const auto c1 = read_cpu(*net);
    const double n = static_cast<double>(b - a);
    s.value = n / elapsed;
    s.notes.push_back(std::to_string(p.senders.size()) + " senders on node-a (linked there) x "
                      + std::to_string(bench::api_batches_in_flight) + " send_batch of "
                      + std::to_string(o.n != 0 ? o.n : bench::api_batch) + " in flight, to "
                      + std::to_string(p.recipients.size()) + " silent agents on " + target_node(where)
                      + " (" + mode_name(m) + "); " + std::to_string(b - a) + " acknowledged in "
                      + bench::human(elapsed) + " s, " + load.problems());
    s.notes.push_back(cpu_note(c0, c1, elapsed, n));
    if (where == placement::cross && raw_stream_value > 0)
      s.notes.push_back("for reference, raw gRPC bidi streaming in this run (raw_grpc stream, one process, "
                        "no node): " + bench::human(raw_stream_value) + " results/s; this figure is "
                        + bench::human(s.value / raw_stream_value) + "x of it");
    net.reset(); // the nodes go first: no link is cancelled with a batch in flight
  }
  bench::deliver(s);
}

[[noreturn]] void run_local(const bench::options& o) { run_link(o, placement::local, mode::memory); }
[[noreturn]] void run_cross(const bench::options& o) { run_link(o, placement::cross, mode::memory); }
[[noreturn]] void run_local_sync(const bench::options& o) { run_link(o, placement::local, mode::sync); }
[[noreturn]] void run_cross_sync(const bench::options& o) { run_link(o, placement::cross, mode::sync); }

// -- latency at half the maximum rate ---------------------------------------------------------------

[[noreturn]] void run_rtt(const bench::options& o, placement where) {
  const double secs = o.duration(bench::seconds_full, bench::seconds_quick);
  bench::sample s;
  auto net = std::make_unique<network>(mode::memory);
  // 2 senders for the maximum, 2 for the paced load, 1 probe.
  auto p = populate(*net, where, 2 * bench::api_link_clients + 1);
  std::cerr << "cluster_bench: " << net->pids() << "\n";
  const auto a_addr = net->node("node-a").address;
  const std::vector<std::string> max_senders(p.senders.begin(), p.senders.begin() + bench::api_link_clients);
  const std::vector<std::string> paced_senders(p.senders.begin() + bench::api_link_clients,
                                               p.senders.begin() + 2 * bench::api_link_clients);
  const std::string probe_id = p.senders.back();

  // 1. The maximum, with the throughput figure's load (batches of 1,000,
  // 4 in flight per link); then those links stop writing and go idle
  // (open: see bench::batch_pump).
  bench::link_load full{a_addr, max_senders, p.recipients, fail};
  const auto [a, b, max_elapsed] =
    bench::measure_window(bench::warmup_s, secs, [&] { return full.acknowledged(); });
  const double max_rate = static_cast<double>(b - a) / max_elapsed;
  for (auto& q : full.pumps)
    q->stop_writing();
  for (auto& q : full.pumps)
    if (!q->wait_idle(30s))
      fail("the maximum's links", "their last batches were not answered within 30 s");
  const uint64_t max_failed = full.failed();

  // 2. Half of it, paced, and the probe.
  const double per_link = max_rate / 2 / static_cast<double>(paced_senders.size());
  bench::link_load paced{a_addr, paced_senders, p.recipients, fail,
                         {.batch = paced_batch, .window = paced_window, .prebuilt = 64, .per_s = per_link}};
  auto probe = bench::open_link(bench::own_channel(a_addr), probe_id, 0, fail);
  const auto& texts = bench::api_texts();
  pb::LinkClient ping;
  pb::LinkServer in;
  uint64_t n = 0;
  auto one = [&]() -> double {
    ping.mutable_send()->set_to_agent(p.recipients[(n * 7919) % p.recipients.size()]);
    ping.mutable_send()->set_content(texts[n % texts.size()]);
    ++n;
    const auto t0 = bench::clock_type::now();
    if (!probe.stream->Write(ping))
      fail("the probe's link", "write failed");
    for (;;) {
      if (!probe.stream->Read(&in))
        fail("the probe's link", probe.stream->Finish().error_message());
      if (in.has_sent())
        break;
    }
    const double ms = bench::seconds_since(t0) * 1e3;
    if (in.sent().error_code() != 0)
      fail("a probe", in.sent().error_message());
    std::this_thread::sleep_for(probe_gap);
    return ms;
  };
  const auto w0 = bench::clock_type::now();
  while (bench::seconds_since(w0) < bench::warmup_s)
    (void) one();
  const uint64_t before = paced.acknowledged(), late0 = paced.late();
  const auto c0 = read_cpu(*net);
  std::vector<double> ms;
  const auto t1 = bench::clock_type::now();
  while (bench::seconds_since(t1) < secs)
    ms.push_back(one());
  const double elapsed = bench::seconds_since(t1);
  const auto c1 = read_cpu(*net);
  const uint64_t carried = paced.acknowledged() - before;
  const uint64_t failed = paced.failed();
  const double p50 = bench::percentile(ms, 0.50), p99 = bench::percentile(ms, 0.99);
  s.value = p50;
  s.more = {p99};
  s.notes.push_back("maximum first: " + bench::human(max_rate) + " msgs/s (failed " + std::to_string(max_failed)
                    + "); then 2 other links paced at " + bench::human(per_link)
                    + " msgs/s each in send_batch of " + std::to_string(paced_batch) + ": "
                    + bench::human(static_cast<double>(carried) / elapsed) + " msgs/s carried, failed "
                    + std::to_string(failed) + ", batches late " + std::to_string(paced.late() - late0));
  s.notes.push_back(std::to_string(ms.size()) + " probes (one message each, sequential, 1 ms apart) from node-a to "
                    "silent agents on " + target_node(where) + ", write to SendResult: p90 "
                    + bench::human(bench::percentile(ms, 0.90)) + " ms, p99.9 "
                    + bench::human(bench::percentile(ms, 0.999)) + " ms, max "
                    + bench::human(bench::percentile(ms, 1.0)) + " ms");
  s.notes.push_back(cpu_note(c0, c1, elapsed, static_cast<double>(carried + ms.size())));
  net.reset(); // the nodes go first: no link is cancelled with a batch in flight
  bench::deliver(s);
}

[[noreturn]] void run_local_rtt(const bench::options& o) { run_rtt(o, placement::local); }
[[noreturn]] void run_cross_rtt(const bench::options& o) { run_rtt(o, placement::cross); }

// -- etcd writes --------------------------------------------------------------------------------------

/// value: revisions/s at rest; more: {under load, etcd alone, messages/s
/// carried under load, revisions while the network formed}.
[[noreturn]] void run_etcd_writes(const bench::options& o) {
  const double secs = o.duration(bench::seconds_full, bench::seconds_quick);
  const double rest = o.quick ? rest_quick_s : rest_full_s;
  bench::sample s;
  {
    double alone = 0;
    auto net = std::make_unique<network>(mode::memory, [&](network& fresh) {
                  const auto r0 = fresh.revision();
                  const auto t0 = bench::clock_type::now();
                  std::this_thread::sleep_for(std::chrono::duration<double>(rest));
                  alone = static_cast<double>(fresh.revision() - r0) / bench::seconds_since(t0);
                });
    auto p = populate(*net, placement::cross, bench::api_link_clients);
    std::cerr << "cluster_bench: " << net->pids() << "\n";
    // At rest: the network formed, its agents introduced, nothing sent.
    const auto r0 = net->revision();
    const auto t0 = bench::clock_type::now();
    std::this_thread::sleep_for(std::chrono::duration<double>(rest));
    const auto r1 = net->revision();
    const double at_rest = static_cast<double>(r1 - r0) / bench::seconds_since(t0);
    // Under the cross-node load.
    bench::link_load load{net->node("node-a").address, p.senders, p.recipients, fail};
    std::this_thread::sleep_for(std::chrono::duration<double>(bench::warmup_s));
    // The revision window holds the message window (etcdctl takes a while).
    const auto r2 = net->revision();
    const auto m0 = load.acknowledged();
    const auto t2 = bench::clock_type::now();
    std::this_thread::sleep_for(std::chrono::duration<double>(secs));
    const auto m1 = load.acknowledged();
    const double elapsed = bench::seconds_since(t2);
    const auto r3 = net->revision();
    const double under_load = static_cast<double>(r3 - r2) / elapsed;
    const double msgs = static_cast<double>(m1 - m0) / elapsed;
    s.value = at_rest;
    s.more = {under_load, alone, msgs, static_cast<double>(net->formation_revisions())};
    s.notes.push_back("etcd revision " + std::to_string(r0) + " -> " + std::to_string(r1) + " in "
                      + bench::human(rest) + " s at rest (2 nodes, 1,024 shards given out, "
                      + std::to_string(p.recipients.size() + p.senders.size())
                      + " agents introduced, nothing sent); forming the network took "
                      + std::to_string(net->formation_revisions()) + " revisions");
    s.notes.push_back("under the cross load: revision " + std::to_string(r2) + " -> " + std::to_string(r3)
                      + " in " + bench::human(elapsed) + " s while " + std::to_string(m1 - m0)
                      + " messages crossed from node-a to node-b (" + bench::human(msgs) + " msgs/s, "
                      + load.problems() + ")");
    net.reset(); // the nodes go first: no link is cancelled with a batch in flight
  }
  bench::deliver(s);
}

void report_etcd_writes(const bench::options& o) {
  auto samples = bench::run_forked(o.runs(), [&] { run_etcd_writes(o); });
  auto& median = samples[samples.size() / 2];
  auto rest = bench::make_figure("etcd_writes_per_s_at_rest", "revisions/s", bench::goal::at_most_absolute, 1.0,
                                 median.value, "etcd_alone", bench::median_of_more(samples, 1), "revisions/s");
  rest.notes = median.notes;
  std::vector<double> values;
  for (auto& x : samples)
    values.push_back(x.value);
  if (auto all = bench::all_runs(values); !all.empty())
    rest.notes.push_back(all);
  bench::report(rest, o.json_file);
  auto load = bench::make_figure("etcd_writes_per_s_under_load", "revisions/s", bench::goal::at_most_absolute, 1.0,
                                 bench::median_of_more(samples, 0), "cross_msgs_in_window",
                                 bench::median_of_more(samples, 2), "msgs/s");
  load.notes.push_back("its ratio is etcd writes per cross-node message; etcd_alone: the fresh etcd before any "
                       "node started, same window");
  std::vector<double> more;
  for (auto& x : samples)
    more.push_back(x.more.empty() ? 0.0 : x.more[0]);
  if (auto all = bench::all_runs(more); !all.empty())
    load.notes.push_back(all);
  bench::report(load, o.json_file);
}

// -- drain ----------------------------------------------------------------------------------------------

/// Sizes of the drain figure: agents in node-b's shards and the messages
/// sent to them before node-b hands its shards to node-a.
constexpr size_t drain_agents_full = 100'000, drain_agents_quick = 10'000;
constexpr uint64_t drain_messages_full = 1'000'000, drain_messages_quick = 100'000;

/// Bytes of the files under `dir`.
uint64_t bytes_under(const std::string& dir) {
  uint64_t total = 0;
  std::error_code ec;
  for (auto& e : fs::recursive_directory_iterator(dir, ec))
    if (e.is_regular_file(ec))
      total += e.file_size(ec);
  return total;
}

/// value: seconds from Admin.Drain(hand_off) to NodeInfo.hand_off.done;
/// more: {seconds to copy node-b's store with cp -a (the raw baseline),
/// etcd revisions/s during the hand-off, store bytes}.
[[noreturn]] void run_drain(const bench::options& o) {
  const size_t agents = o.quick ? drain_agents_quick : drain_agents_full;
  const uint64_t messages = o.quick ? drain_messages_quick : drain_messages_full;
  bench::sample s;
  {
    auto net = std::make_unique<network>(mode::sync);
    population p;
    p.recipients = net->ids_on("node-b", agents, 0);
    p.senders = net->ids_on("node-a", bench::api_link_clients, sender_ids_from);
    introduce_all(net->node("node-b").address, p.recipients, pb::Behavior::KIND_SILENT);
    introduce_all(net->node("node-a").address, p.senders, pb::Behavior::KIND_EXTERNAL);
    {
      // The messages (setup): across from node-a, stopped without a batch
      // in flight.
      bench::link_load load{net->node("node-a").address, p.senders, p.recipients, fail};
      while (load.acknowledged() < messages)
        std::this_thread::sleep_for(50ms);
      for (auto& pump : load.pumps)
        pump->stop_writing();
      for (auto& pump : load.pumps)
        if (!pump->wait_idle(60s))
          fail("the drain figure's messages", "batches still unanswered after 60 s");
      if (load.failed() > 0)
        fail("the drain figure's messages", load.problems());
      std::cerr << "cluster_bench: " << load.acknowledged() << " messages to " << agents << " agents on node-b ("
                << net->pids() << ")\n";
    }
    // The raw baseline: node-b's store copied by the file system.
    const auto store = (fs::path{bench::run_dir()} / "node-b").string();
    const auto copy = (fs::path{bench::run_dir()} / "copy-of-node-b").string();
    const uint64_t bytes = bytes_under(store);
    const auto c0 = bench::clock_type::now();
    if (std::system(("cp -a '" + store + "' '" + copy + "'").c_str()) != 0)
      fail("the raw baseline", "cp -a of node-b's store failed");
    const double copy_s = bench::seconds_since(c0);
    fs::remove_all(copy);
    // The hand-off.
    auto admin = pb::Admin::NewStub(bench::own_channel(net->node("node-b").address));
    const auto r0 = net->revision();
    const auto t0 = bench::clock_type::now();
    {
      grpc::ClientContext ctx;
      pb::DrainRequest req;
      req.set_node("node-b");
      req.set_hand_off(true);
      pb::DrainResponse out;
      if (auto st = admin->Drain(&ctx, req, &out); !st.ok())
        fail("Admin.Drain(hand_off)", st.error_message());
    }
    for (;;) {
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + 5s);
      pb::NodeInfoResponse info;
      auto st = admin->NodeInfo(&ctx, pb::NodeInfoRequest{}, &info);
      if (!st.ok() || info.hand_off().done())
        break; // done (a node that is done leaves and stops answering)
      if (!info.hand_off().running())
        fail("the hand-off", "stopped: " + info.hand_off().error());
      std::this_thread::sleep_for(20ms);
    }
    const double secs = bench::seconds_since(t0);
    const auto r1 = net->revision();
    // Every agent is node-a's now.
    auto a = pb::Admin::NewStub(bench::own_channel(net->node("node-a").address));
    grpc::ClientContext ctx;
    pb::NodeInfoResponse info;
    if (auto st = a->NodeInfo(&ctx, pb::NodeInfoRequest{}, &info); !st.ok())
      fail("NodeInfo of node-a", st.error_message());
    if (info.agents() != agents + p.senders.size() || info.shards() != parley::shard_count)
      fail("the hand-off", "node-a has " + std::to_string(info.agents()) + " agents and " + std::to_string(info.shards())
                             + " shards after it");
    s.value = secs;
    s.more = {copy_s, static_cast<double>(r1 - r0) / secs, static_cast<double>(bytes)};
    s.notes.push_back("node-b (sync) handed its " + std::to_string(parley::shard_count - net->owned("node-a"))
                      + " shards to node-a: " + std::to_string(agents) + " agents and "
                      + std::to_string(messages) + "+ messages (" + bench::human(static_cast<double>(bytes) / 1e6)
                      + " MB of store) in " + bench::human(secs) + " s; cp -a of the store took "
                      + bench::human(copy_s) + " s; etcd " + std::to_string(r1 - r0) + " revisions meanwhile");
    net.reset();
  }
  bench::deliver(s);
}

void report_drain(const bench::options& o) {
  auto samples = bench::run_forked(o.runs(), [&] { run_drain(o); });
  auto& median = samples[samples.size() / 2];
  auto f = bench::make_figure("drain_seconds", "s", bench::goal::report_only, 0, median.value, "raw_cp_of_store",
                              bench::median_of_more(samples, 0), "s");
  f.notes = median.notes;
  bench::report(f, o.json_file);
  auto etcd = bench::make_figure("etcd_writes_per_s_during_drain", "revisions/s", bench::goal::report_only, 0,
                                 bench::median_of_more(samples, 1), "drain_seconds", median.value, "s");
  etcd.notes.push_back("two compare-and-swaps per shard moved (mark moving, flip)");
  bench::report(etcd, o.json_file);
}

// -- the program's figures ---------------------------------------------------------------------------

const bench::figure_def figures[] = {
  {"cross", "cross_node_msgs_per_s", "msgs/s", bench::goal::at_least_baseline, 0.5, run_cross},
  {"cross_sync", "cross_node_sync_msgs_per_s", "msgs/s", bench::goal::at_least_baseline, 0.7, run_cross_sync},
  {"cross_rtt", "cross_node_rtt_p50_ms", "ms", bench::goal::report_only, 0, run_cross_rtt,
   "cross_node_rtt_p99_ms"},
};

/// The baselines answer as raw_grpc does: the facts of the median run on
/// stderr, `name value unit` lines on stdout.
const bench::baseline_def baselines[] = {
  {"local", "cluster_bench.local", "msgs/s", run_local},
  {"local_sync", "cluster_bench.local_sync", "msgs/s", run_local_sync},
  {"local_rtt", "cluster_bench.local_rtt_p50", "ms", run_local_rtt, "cluster_bench.local_rtt_p99"},
};

} // namespace

int main(int argc, char** argv) {
  // Our own options first; the rest is bench::options'.
  std::vector<char*> rest{argv[0]};
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "--parleyd" && i + 1 < argc) {
      parleyd_path = argv[++i];
      continue;
    }
    if (a == "--raw-stream" && i + 1 < argc) {
      raw_stream_value = std::stod(argv[++i]);
      continue;
    }
    rest.push_back(argv[i]);
  }
  auto o = bench::options::parse(static_cast<int>(rest.size()), rest.data());
  if (!o.figure.empty() && (parleyd_path.empty() || access(parleyd_path.c_str(), X_OK) != 0)) {
    std::cerr << "cluster_bench: --parleyd PATH must name the parleyd binary (got '" << parleyd_path << "')\n";
    return 2;
  }
  // No gRPC and no child process before the fork: every run starts its own.
  if (o.figure == "etcd_writes") {
    (void) bench::scratch_dir();
    report_etcd_writes(o);
    return 0;
  }
  if (o.figure == "drain") {
    (void) bench::scratch_dir();
    report_drain(o);
    return 0;
  }
  if (bench::run_baseline(o, baselines, {.scratch = true, .called = "fresh runs"})
      || bench::run_figure(o, figures))
    return 0;
  std::cerr << "usage: cluster_bench local|cross|local_sync|cross_sync|local_rtt|cross_rtt|etcd_writes|drain "
               "--parleyd PATH [--quick] [--json FILE] [--seconds S] [--repeats R] [--raw-stream V] "
               "[--threads LINKS] [--n BATCH] "
               "[--baseline-name NAME --baseline-value V --baseline-unit UNIT "
               "[--baseline2-name NAME --baseline2-value V --baseline2-unit UNIT]]\n";
  return 2;
}
