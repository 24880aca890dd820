// Parley storage figures, each measured through the public node facade (and
// parley::storage for building a large store) in fresh processes, and
// reported beside the raw RocksDB baseline that scripts/bench measured just
// before (passed in with --baseline-*). The rates and times are the median
// of 3 fresh processes (1 with --quick).
//
//   storage_bench sync          acknowledged messages/s, durability sync:
//                               64 closed-loop senders on node::send_async
//   storage_bench async         the same with durability async
//   storage_bench memory        the same on a node without a store
//                               (analysis only; scripts/bench skips it)
//   storage_bench ack           ack latency p50 and p99 (two rows; the p99
//                               row takes the --baseline2-* baseline), sends
//                               paced at half the sync rate measured first,
//                               open loop (one pacing thread on
//                               node::send_async; latency from each send's
//                               due time, so a late pacer counts too)
//   storage_bench build-store --dir D
//                               writes the recovery store into D (1M agents,
//                               10M messages; not a figure)
//   storage_bench recovery --dir D
//                               seconds from node::start on (a checkpoint
//                               of) D until the node answers a call
//   storage_bench bytes         bytes on disk per message sent through a
//                               node, after a full compaction
//
// The sync, async, ack and bytes runs use a node with 1,000 silent agents
// (they serve each message and answer nothing) in a fresh store under /tmp,
// removed afterwards.

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <rocksdb/db.h>
#include <rocksdb/memtablerep.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>
#include <spdlog/spdlog.h>

#include "bench_params.hpp"
#include "bench_report.hpp"
#include "parley/model/random.hpp"
#include "parley/node/node.hpp"
#include "parley/storage/message_log.hpp"
#include "parley/storage/records.hpp"
#include "population.hpp"

namespace fs = std::filesystem;

namespace {

using namespace parley;
using bench::agent_name;

[[noreturn]] void fail(const std::string& what, const parley::error& e) {
  std::cerr << "storage_bench: " << what << ": " << to_string(e) << "\n";
  bench::fast_exit(1);
}

[[noreturn]] void fail(const std::string& what, const rocksdb::Status& s) {
  std::cerr << "storage_bench: " << what << ": " << s.ToString() << "\n";
  bench::fast_exit(1);
}

std::unique_ptr<node> start_node(storage::durability d, const std::string& dir) {
  node_config cfg;
  cfg.scheduler_threads = bench::scheduler_threads;
  cfg.call_timeout = std::chrono::milliseconds(60000);
  cfg.durability = d;
  cfg.data_dir = dir;
  auto n = node::start(cfg);
  if (!n)
    fail("node::start", n.error());
  return std::move(*n);
}

/// A durable node in this run's fresh directory with `storage_agents`
/// silent agents (introduced in one call: one batch per 10,000).
std::unique_ptr<node> start_population(storage::durability d) {
  auto nd = start_node(d, bench::run_dir());
  const auto catalogue = bench::make_catalogue();
  std::vector<agent_spec> specs;
  for (uint64_t i = 0; i < bench::storage_agents; ++i)
    specs.push_back(bench::make_spec(i, catalogue, behavior_spec::kind::silent));
  if (auto r = nd->introduce_many(as_admin, std::move(specs)); !r)
    fail("introduce_many", r.error());
  return nd;
}

unsigned sender_threads(const bench::options& o) {
  return static_cast<unsigned>(
    std::min<uint64_t>(o.threads != 0 ? o.threads : bench::storage_senders, bench::storage_agents));
}

/// The message sender `k` sends as its `n`-th: a direct message with
/// ~100 bytes of text to a recipient drawn from `rng` (not itself), id
/// t<k>-<n> (distinct per sender: every send is a new idempotency key).
message make_message(unsigned k, uint64_t n, uint64_t& rng) {
  uint64_t to = parley::splitmix64(rng) % (bench::storage_agents - 1);
  if (to >= k)
    ++to;
  message m;
  m.from = agent_name(k);
  m.to = address::agent(agent_name(to));
  m.id = "t" + std::to_string(k) + "-" + std::to_string(n);
  m.content = bench::message_content(n * 1000 + k);
  return m;
}

/// What the record and key of a benchmark message are when stored (the raw
/// baselines write records of bench::message_record_bytes).
std::string record_sizes() {
  uint64_t rng = 1;
  auto m = make_message(12, 123456, rng);
  m.sent_at = 1'790'000'000'000;
  m.status = message_status::delivered;
  m.delivery = (uint64_t{1} << 40) + 123456;
  storage::write_batch b;
  storage::add_message(b, m, {m.to.id}, m.delivery);
  size_t total = 0;
  for (auto& op : b.ops())
    total += op.key.size() + op.value.size();
  return "a message writes " + std::to_string(b.size()) + " entries, "
         + std::to_string(total) + " bytes (its record " + std::to_string(storage::encode(m).size())
         + " + key " + std::to_string(storage::message_key(m.to, m.from, m.id).size())
         + " bytes; the raw records are " + std::to_string(bench::message_record_bytes) + " + "
         + std::to_string(bench::message_key_bytes) + "), then 1 delete when it is served";
}

// -- senders ------------------------------------------------------------------------

struct alignas(64) thread_count {
  std::atomic<uint64_t> ok{0};
  std::atomic<uint64_t> failed{0};
};

/// `senders` closed-loop senders, sender k sending as agent k through the
/// asynchronous facade (node::send_async), one send in flight each: the
/// next send starts when the last was acknowledged, from its completion.
/// No client thread waits for a send, so the figure measures the node, not
/// the kernel switching 64 blocked client threads (which cost 40% of the
/// CPU when each sender was a thread calling node::send). `limit` sends per
/// sender (0 = until stop()).
class closed_loop {
public:
  closed_loop(node& nd, unsigned senders, uint64_t limit = 0)
    : nd_(nd), counts_(senders), limit_(limit), running_(senders) {
    for (unsigned k = 0; k < senders; ++k)
      launch(k, 0, 0x5eed + k);
  }
  ~closed_loop() { stop(); }

  uint64_t acknowledged() const {
    uint64_t sum = 0;
    for (auto& c : counts_)
      sum += c.ok.load(std::memory_order_relaxed);
    return sum;
  }
  uint64_t failed() const {
    uint64_t sum = 0;
    for (auto& c : counts_)
      sum += c.failed.load(std::memory_order_relaxed);
    return sum;
  }
  void stop() {
    stop_ = true;
    join();
  }
  /// Waits until every sender has stopped (sent its `limit` messages).
  void join() {
    std::unique_lock lock{mtx_};
    idle_.wait(lock, [this] { return running_ == 0; });
  }

private:
  // Sends sender k's n-th message and, when it is answered, the next. A
  // send answered before start() returns continues in this loop instead
  // (no recursion): whichever of the two sides swaps `first` second goes on.
  void launch(unsigned k, uint64_t n, uint64_t rng) {
    for (;; ++n) {
      if (stop_ || (limit_ != 0 && n >= limit_)) {
        std::lock_guard lock{mtx_};
        if (--running_ == 0)
          idle_.notify_all();
        return;
      }
      auto first = std::make_shared<std::atomic<bool>>(true);
      auto m = make_message(k, n, rng);
      start(nd_.send_async(as_admin, std::move(m)), [this, k, n, rng, first](expected<message> r) {
        count(k, r);
        if (!first->exchange(false))
          launch(k, n + 1, rng);
      });
      if (first->exchange(false))
        return; // the answer comes later and continues
    }
  }

  void count(unsigned k, const expected<message>& r) {
    if (r)
      counts_[k].ok.fetch_add(1, std::memory_order_relaxed);
    else if (counts_[k].failed.fetch_add(1, std::memory_order_relaxed) == 0)
      std::cerr << "storage_bench: send failed: " << to_string(r.error()) << "\n";
  }

  node& nd_;
  std::vector<thread_count> counts_;
  const uint64_t limit_;
  std::atomic<bool> stop_{false};
  std::mutex mtx_;
  std::condition_variable idle_;
  unsigned running_;
};

struct rate_result {
  double rate = 0;
  uint64_t failed = 0;
  double cpu_s = 0;
};

/// Acknowledged sends per second over a window of `secs` after the warm-up.
rate_result measure_rate(node& nd, unsigned threads, double secs) {
  closed_loop load{nd, threads};
  std::this_thread::sleep_for(std::chrono::duration<double>(bench::warmup_s));
  const double cpu0 = bench::process_cpu_s();
  const auto [a, b, elapsed] =
    bench::measure_window(0, secs, [&] { return load.acknowledged(); });
  rate_result r;
  r.cpu_s = bench::process_cpu_s() - cpu0;
  load.stop();
  r.rate = static_cast<double>(b - a) / elapsed;
  r.failed = load.failed();
  return r;
}

// -- 1, 2. durable messages per second --------------------------------------------------

[[noreturn]] void run_rate(const bench::options& o, storage::durability d) {
  const double secs = o.duration(bench::seconds_full, bench::seconds_quick);
  const unsigned threads = sender_threads(o);
  auto nd = start_population(d);
  const auto r = measure_rate(*nd, threads, secs);
  bench::sample s;
  s.value = r.rate;
  s.notes.push_back(std::to_string(bench::storage_agents) + " silent agents, durability "
                    + std::string{to_string(d)} + ", " + std::to_string(threads)
                    + " closed-loop senders (node::send_async, no client threads) each sending as its own agent to random agents; "
                    + "failed sends " + std::to_string(r.failed) + "; process CPU "
                    + bench::human(r.cpu_s / secs) + " cores, "
                    + bench::human(r.cpu_s / secs / r.rate * 1e6) + " us per message");
  s.notes.push_back(record_sizes());
  bench::deliver(s);
}

[[noreturn]] void run_sync(const bench::options& o) {
  run_rate(o, durability::sync);
}
[[noreturn]] void run_async(const bench::options& o) {
  run_rate(o, durability::async);
}
/// Analysis only (not in scripts/bench): the same load on a node without a
/// store, what the sends cost apart from storage.
[[noreturn]] void run_memory(const bench::options& o) {
  run_rate(o, durability::memory);
}

// -- 3. ack latency at half the sync rate --------------------------------------------------

/// Open loop: send i is due at start + i / rate, whoever sends it; its
/// latency runs from that due time to the acknowledgement, so a send that
/// starts late because every thread was busy counts its wait (no
/// coordinated omission). Sends due before `record_from` only warm up.
[[noreturn]] void run_ack(const bench::options& o) {
  const double secs = o.duration(bench::seconds_full, bench::seconds_quick);
  const unsigned threads = sender_threads(o);
  auto nd = start_population(durability::sync);
  const auto full = measure_rate(*nd, threads, secs);
  const double rate = full.rate / 2;

  // Open loop: one pacing thread starts each send at its due time through
  // node::send_async and the completion records how long after its due
  // time it was acknowledged. (Before, 64 client threads slept until their
  // due times and called node::send; their wake-ups on 2 cores were part
  // of every latency.)
  using clk = bench::clock_type;
  const auto t0 = clk::now() + std::chrono::milliseconds(20);
  const auto record_from = t0 + std::chrono::duration_cast<clk::duration>(
                                     std::chrono::duration<double>(bench::warmup_s));
  const auto end = record_from + std::chrono::duration_cast<clk::duration>(
                                   std::chrono::duration<double>(secs));
  const auto total = static_cast<uint64_t>(rate * (bench::warmup_s + secs)) + 1;
  std::vector<double> latency(total, -1); // ms; < 0: not recorded
  std::atomic<uint64_t> failed{0};
  std::atomic<uint64_t> open{0};
  std::vector<uint64_t> rngs(threads);
  for (unsigned k = 0; k < threads; ++k)
    rngs[k] = 0xacc + k;
  for (uint64_t i = 0; i < total; ++i) {
    const auto due = t0 + std::chrono::duration_cast<clk::duration>(
                               std::chrono::duration<double>(static_cast<double>(i) / rate));
    if (due >= end)
      break;
    std::this_thread::sleep_until(due);
    const auto k = static_cast<unsigned>(i % threads);
    const bool record = due >= record_from;
    open.fetch_add(1, std::memory_order_relaxed);
    // ids apart from the rate phase's
    start(nd->send_async(as_admin, make_message(k, 1'000'000'000 + i, rngs[k])),
          [&, i, due, record](expected<message> r) {
            const auto done = clk::now();
            if (!r)
              failed.fetch_add(1, std::memory_order_relaxed);
            else if (record)
              latency[i] = std::chrono::duration<double, std::milli>(done - due).count();
            open.fetch_sub(1, std::memory_order_release);
          });
  }
  while (open.load(std::memory_order_acquire) != 0)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  std::vector<std::vector<double>> lat(1);
  for (auto v : latency)
    if (v >= 0)
      lat[0].push_back(v);
  std::vector<double> all;
  for (auto& v : lat)
    all.insert(all.end(), v.begin(), v.end());
  const double p50 = bench::percentile(all, 0.50), p99 = bench::percentile(all, 0.99);
  const double p999 = bench::percentile(all, 0.999), max = bench::percentile(all, 1.0);

  bench::sample s;
  s.value = p50;
  s.more = {p99};
  s.notes.push_back("sends paced at " + bench::human(rate) + " msgs/s = half the "
                    + bench::human(full.rate) + " msgs/s measured first in the same process ("
                    + std::to_string(threads) + " closed-loop senders, durability sync), open loop "
                    "(one pacing thread, node::send_async, as " + std::to_string(threads) + " agents); "
                    + std::to_string(all.size()) + " sends timed from their due time, "
                    + std::to_string(failed.load()) + " failed; p99.9 " + bench::human(p999)
                    + " ms, max " + bench::human(max) + " ms");
  bench::deliver(s);
}

// -- 4. recovery ---------------------------------------------------------------------------

/// A RocksDB handle on a Parley store's column families, for bulk loading
/// and for compacting (the store itself must be closed).
class raw_store {
public:
  raw_store(const std::string& dir, bool bulk) {
    rocksdb::Options ro;
    ro.IncreaseParallelism(2);
    ro.max_background_jobs = 2;
    ro.compression = rocksdb::kLZ4Compression;
    if (bulk) {
      // Appends instead of skip-list inserts (no reads during the load),
      // no compaction and no write stalls until the end: one pass over the
      // data.
      ro.memtable_factory = std::make_shared<rocksdb::VectorRepFactory>();
      ro.allow_concurrent_memtable_write = false;
      ro.disable_auto_compactions = true;
      ro.level0_slowdown_writes_trigger = 1 << 30;
      ro.level0_stop_writes_trigger = 1 << 30;
      ro.soft_pending_compaction_bytes_limit = 0;
      ro.hard_pending_compaction_bytes_limit = 0;
      ro.max_write_buffer_number = 4;
      ro.max_subcompactions = 2;
    }
    std::vector<std::string> names;
    if (auto s = rocksdb::DB::ListColumnFamilies(ro, dir, &names); !s.ok())
      fail("list column families of " + dir, s);
    std::vector<rocksdb::ColumnFamilyDescriptor> descs;
    for (auto& n : names)
      descs.emplace_back(n, rocksdb::ColumnFamilyOptions{ro});
    rocksdb::DB* raw = nullptr;
    if (auto s = rocksdb::DB::Open(ro, dir, descs, &handles_, &raw); !s.ok())
      fail("open " + dir, s);
    db_.reset(raw);
    names_ = std::move(names);
  }
  ~raw_store() {
    for (auto* h : handles_)
      db_->DestroyColumnFamilyHandle(h).PermitUncheckedError();
    db_->Close().PermitUncheckedError();
  }
  raw_store(const raw_store&) = delete;
  raw_store& operator=(const raw_store&) = delete;

  /// Applies a batch made by parley::storage, without the write-ahead log.
  void write(const storage::write_batch& b) {
    rocksdb::WriteBatch wb;
    for (auto& op : b.ops()) {
      auto* h = handle(storage::to_string(op.col));
      auto s = op.erase ? wb.Delete(h, op.key) : wb.Put(h, op.key, op.value);
      if (!s.ok())
        fail("build a write batch", s);
    }
    rocksdb::WriteOptions w;
    w.disableWAL = true;
    if (auto s = db_->Write(w, &wb); !s.ok())
      fail("bulk write", s);
  }

  /// Flushes every column family and compacts it fully (the bottommost
  /// level too, dropping deleted entries and their tombstones). Returns the
  /// SST bytes per column family; `before` gets the total after the flush,
  /// before compacting.
  std::vector<std::pair<std::string, uint64_t>> flush_and_compact(uint64_t* before) {
    rocksdb::CompactRangeOptions c;
    c.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
    std::vector<std::pair<std::string, uint64_t>> out;
    *before = 0;
    for (size_t i = 0; i < handles_.size(); ++i) {
      if (auto s = db_->Flush(rocksdb::FlushOptions{}, handles_[i]); !s.ok())
        fail("flush", s);
      uint64_t v = 0;
      db_->GetIntProperty(handles_[i], rocksdb::DB::Properties::kTotalSstFilesSize, &v);
      *before += v;
      if (auto s = db_->CompactRange(c, handles_[i], nullptr, nullptr); !s.ok())
        fail("compact", s);
      db_->GetIntProperty(handles_[i], rocksdb::DB::Properties::kTotalSstFilesSize, &v);
      out.emplace_back(names_[i], v);
    }
    return out;
  }

  /// Column families with a compaction pending or running (0: settled).
  uint64_t compactions_pending() {
    uint64_t n = 0;
    for (auto* h : handles_) {
      uint64_t v = 0;
      db_->GetIntProperty(h, rocksdb::DB::Properties::kCompactionPending, &v);
      n += v;
    }
    uint64_t running = 0;
    db_->GetIntProperty(rocksdb::DB::Properties::kNumRunningCompactions, &running);
    return n + running;
  }

  /// Entries of column family `name`.
  uint64_t count(std::string_view name) {
    uint64_t n = 0;
    std::unique_ptr<rocksdb::Iterator> it{db_->NewIterator(rocksdb::ReadOptions{}, handle(name))};
    for (it->SeekToFirst(); it->Valid(); it->Next())
      ++n;
    return n;
  }

private:
  rocksdb::ColumnFamilyHandle* handle(std::string_view name) {
    for (size_t i = 0; i < names_.size(); ++i)
      if (names_[i] == name)
        return handles_[i];
    fail("column family " + std::string{name},
         rocksdb::Status::NotFound("not in the store"));
  }

  std::unique_ptr<rocksdb::DB> db_;
  std::vector<std::string> names_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
};

/// Builds the recovery store in `o.dir`: agents with realistic manifests
/// (silent behaviour), then direct messages between random agents as the
/// node stores them (record and history entry, made by
/// storage::add_message), one in recovery_inbox_every still in its
/// recipient's inbox; then a full compaction, so that the node opens a
/// settled store. The store is created by open_store (its meta record)
/// and filled by a bulk loader (RocksDB without the write-ahead log, with
/// a vector memtable and no compaction until the end): the same records,
/// several times faster. Not a figure.
int build_store(const bench::options& o) {
  if (o.dir.empty()) {
    std::cerr << "storage_bench build-store needs --dir\n";
    return 2;
  }
  const uint64_t agents = o.quick ? bench::recovery_agents_quick : bench::recovery_agents_full;
  const uint64_t messages = o.size(bench::recovery_messages_full, bench::recovery_messages_quick);
  auto t0 = bench::clock_type::now();
  {
    storage::store_options so;
    so.path = o.dir;
    so.mode = durability::async;
    auto made = storage::open_store(so);
    if (!made)
      fail("open_store " + o.dir, made.error());
  }
  const timestamp now = 1'790'000'000'000;
  std::atomic<uint64_t> inbox{0};
  double agents_s = 0, messages_s = 0, compact_s = 0;
  uint64_t before = 0;
  {
    raw_store store{o.dir, /*bulk=*/true};
    // Agents, in batches of 1,000.
    const auto catalogue = bench::make_catalogue();
    for (uint64_t b = 0; b < agents; b += 1000) {
      storage::write_batch batch;
      for (uint64_t i = b; i < std::min(agents, b + 1000); ++i) {
        auto spec = bench::make_spec(i, catalogue, behavior_spec::kind::silent);
        spec.man.last_updated = now;
        spec.man.last_seen = now;
        batch.put(storage::column::agents, storage::agent_key(spec.man.id),
                  storage::encode(storage::agent_record{spec.man, spec.behavior, 1}));
      }
      store.write(batch);
    }
    agents_s = bench::seconds_since(t0);

    // Messages, in batches of 1,000, made by 2 threads (encoding costs as
    // much as writing).
    auto writer = [&](uint64_t part, uint64_t parts) {
      uint64_t rng = 0xb111d + part;
      for (uint64_t b = part * 1000; b < messages; b += parts * 1000) {
        storage::write_batch batch;
        for (uint64_t i = b; i < std::min(messages, b + 1000); ++i) {
          const uint64_t from = parley::splitmix64(rng) % agents;
          uint64_t to = parley::splitmix64(rng) % (agents - 1);
          if (to >= from)
            ++to;
          message m;
          m.id = "h" + std::to_string(i);
          m.from = agent_name(from);
          m.to = address::agent(agent_name(to));
          m.sent_at = now - static_cast<timestamp>(messages - i);
          m.content = bench::message_content(i);
          m.status = message_status::delivered;
          if (i % bench::recovery_inbox_every == bench::recovery_inbox_every / 2) {
            // Delivery numbers of incarnation 0: below any the node issues.
            m.delivery = i + 1;
            storage::add_message(batch, m, {m.to.id}, m.delivery);
            inbox.fetch_add(1, std::memory_order_relaxed);
          } else {
            storage::add_message(batch, m, {}, 0);
          }
        }
        store.write(batch);
      }
    };
    {
      std::thread other{writer, 1, 2};
      writer(0, 2);
      other.join();
    }
    messages_s = bench::seconds_since(t0) - agents_s;
    auto t1 = bench::clock_type::now();
    (void) store.flush_and_compact(&before);
    compact_s = bench::seconds_since(t1);
  }
  // Opened as a node opens it (no bulk options), the store may still have
  // compactions to do (the compaction left everything on level 1, which
  // holds 256 MiB): let them finish, so that the node finds nothing to do.
  auto t2 = bench::clock_type::now();
  uint64_t pending = 0;
  {
    raw_store settled{o.dir, /*bulk=*/false};
    do
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    while ((pending = settled.compactions_pending()) != 0 && bench::seconds_since(t2) < 600);
  }
  const double settle_s = bench::seconds_since(t2);
  uint64_t bytes = 0;
  for (auto& e : fs::directory_iterator(o.dir))
    if (e.is_regular_file())
      bytes += e.file_size();
  std::cerr << "storage_bench build-store: " << o.dir << ": " << agents << " agents ("
            << bench::human(agents_s) << " s), " << messages << " messages of which "
            << inbox.load() << " in an inbox (" << bench::human(messages_s) << " s), flushed "
            << (before >> 20) << " MiB, compacted in " << bench::human(compact_s)
            << " s, settled in " << bench::human(settle_s) << " s ("
            << (pending == 0 ? "no compaction pending" : "COMPACTIONS STILL PENDING") << "); "
            << (bytes >> 20) << " MiB on disk\n";
  return 0;
}

[[noreturn]] void run_recovery(const bench::options& o) {
  if (o.dir.empty()) {
    std::cerr << "storage_bench recovery needs --dir (a store made by build-store)\n";
    bench::fast_exit(2);
  }
  // Every run starts from the same state: a checkpoint (hard links) of the
  // built store, since a start writes to its store (the incarnation, the
  // inbox entries it serves).
  const auto dir = bench::run_dir();
  {
    storage::store_options so;
    so.path = o.dir;
    so.mode = durability::async;
    so.create_if_missing = false;
    auto built = storage::open_store(so);
    if (!built)
      fail("open_store " + o.dir, built.error());
    if (auto ok = (*built)->checkpoint(dir); !ok)
      fail("checkpoint", ok.error());
  }
  const double cpu0 = bench::process_cpu_s();
  const auto rss0 = bench::rss_bytes();
  auto t0 = bench::clock_type::now();
  auto nd = start_node(durability::sync, dir);
  const double started = bench::seconds_since(t0);
  const uint64_t agents = o.quick ? bench::recovery_agents_quick : bench::recovery_agents_full;
  auto man = nd->get_manifest(as_admin, agent_name(agents - 1));
  if (!man)
    fail("get_manifest", man.error());
  const double ready = bench::seconds_since(t0);
  const double cpu = bench::process_cpu_s() - cpu0;
  const auto rss = bench::rss_bytes();
  const auto listed = nd->list_agents(as_admin)->size();
  // Not part of the figure: the redelivered inbox messages are served.
  const uint64_t messages = o.size(bench::recovery_messages_full, bench::recovery_messages_quick);
  const uint64_t inbox = messages / bench::recovery_inbox_every;
  const bool served =
    bench::wait_until([&] { return nd->stats().served >= inbox; }, 60);
  const double all_served = bench::seconds_since(t0);

  bench::sample s;
  s.value = ready;
  s.notes.push_back("node::start returned after " + bench::human(started) + " s, then get_manifest "
                    "of the last agent; " + std::to_string(listed) + " agents listed; process CPU "
                    + bench::human(cpu) + " s, RSS +" + std::to_string((rss - rss0) >> 20) + " MiB");
  s.notes.push_back(std::to_string(messages) + " stored messages; "
                    + std::to_string(nd->stats().served) + " of " + std::to_string(inbox)
                    + " redelivered inbox messages served " + (served ? "" : "(TIMED OUT) ")
                    + "after " + bench::human(all_served) + " s");
  bench::deliver(s);
}

// -- 5. bytes on disk per message ----------------------------------------------------------

[[noreturn]] void run_bytes(const bench::options& o) {
  const uint64_t n = o.size(bench::bytes_messages_full, bench::bytes_messages_quick);
  const unsigned threads = sender_threads(o);
  const uint64_t per_thread = (n + threads - 1) / threads;
  auto nd = start_population(durability::async);
  uint64_t sent = 0, failed = 0;
  {
    closed_loop load{*nd, threads, per_thread};
    load.join();
    sent = load.acknowledged();
    failed = load.failed();
  }
  // Let the agents serve the last messages (their inbox entries are then
  // deleted), then close the store.
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  nd->stop();
  nd.reset();
  uint64_t before = 0, inbox_left = 0;
  std::vector<std::pair<std::string, uint64_t>> sizes;
  {
    raw_store store{bench::run_dir(), /*bulk=*/false};
    sizes = store.flush_and_compact(&before);
    inbox_left = store.count("inbox");
  }
  uint64_t msg_bytes = 0, all_bytes = 0;
  std::string per_cf;
  for (auto& [name, bytes] : sizes) {
    all_bytes += bytes;
    if (name == "messages" || name == "message_index" || name == "inbox") {
      msg_bytes += bytes;
      per_cf += " " + name + " " + bench::human(static_cast<double>(bytes) / static_cast<double>(sent));
    }
  }
  bench::sample s;
  s.value = static_cast<double>(msg_bytes) / static_cast<double>(sent);
  s.notes.push_back(std::to_string(sent) + " messages sent with node::send (durability async, "
                    + std::to_string(failed) + " failed), store closed, then every column "
                    + "family flushed and fully compacted; bytes/msg by column:" + per_cf);
  s.notes.push_back("all columns " + bench::human(static_cast<double>(all_bytes) / static_cast<double>(sent))
                    + " bytes/msg (agents and events included); before the compaction "
                    + bench::human(static_cast<double>(before) / static_cast<double>(sent))
                    + " bytes/msg of SST; " + std::to_string(inbox_left)
                    + " inbox entries left (messages not yet served when the node stopped)");
  bench::deliver(s);
}

const bench::figure_def figures[] = {
  {"sync", "sync_msgs_per_s", "msgs/s", bench::goal::at_least_baseline, 0.5, run_sync},
  {"async", "async_msgs_per_s", "msgs/s", bench::goal::at_least_baseline, 0.5, run_async},
  {"memory", "memory_msgs_per_s", "msgs/s", bench::goal::report_only, 0, run_memory},
  // The p50 is the sample's value, the p99 its further value (with the
  // second baseline, the raw p99).
  {"ack", "ack_p50_ms", "ms", bench::goal::report_only, 0, run_ack, "ack_p99_ms",
   bench::goal::at_most_absolute, 10},
  {"recovery", "recovery_time", "s", bench::goal::at_most_absolute, 3, run_recovery},
  {"bytes", "bytes_per_msg", "bytes", bench::goal::report_only, 0, run_bytes, nullptr,
   bench::goal::report_only, 0, true},
};

} // namespace

int main(int argc, char** argv) {
  auto o = bench::options::parse(argc, argv);
  // The node logs what it recovered at info level on stdout, where the
  // table goes: keep it quiet.
  spdlog::set_level(spdlog::level::warn);
  if (o.figure == "build-store")
    return build_store(o);
  // No gRPC server and no node before the fork: every run starts its own.
  if (bench::run_figure(o, figures))
    return 0;
  std::cerr << "usage: storage_bench sync|async|memory|ack|recovery|bytes|build-store [--quick] "
               "[--json FILE] [--dir DIR] [--threads T] [--n N] [--seconds S] [--repeats R] "
               "--baseline-name NAME --baseline-value V --baseline-unit UNIT "
               "[--baseline2-name NAME --baseline2-value V --baseline2-unit UNIT]\n";
  return 2;
}
