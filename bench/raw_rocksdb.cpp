// Raw RocksDB baselines for the storage figures: what RocksDB 7.8 alone does
// on this machine, with the options a Parley store uses (LZ4, paranoid
// checks, 2 background jobs) but one column family, no Protobuf and no
// actors. Each run is a fresh process (the median of 3, 1 with --quick) with
// a fresh database in a temporary directory under /tmp, removed afterwards.
// The answer is one line `name value unit` on stdout (two for fsync) for
// scripts/bench to hand to storage_bench; details go to stderr.
//
//   raw_rocksdb wb1000sync   records/s, WriteBatch of 1,000 records, sync
//   raw_rocksdb wb100async   records/s, WriteBatch of 100 records, no sync
//   raw_rocksdb fsync        latency of a single-record synced WriteBatch:
//                            p50 and p99 in ms (two lines)
//   raw_rocksdb scan --dir D seconds to open the store in D and read every
//                            entry of the columns a node reads at start
//   raw_rocksdb bytes        bytes on disk per record after a full
//                            compaction
//   raw_rocksdb layout_sync  analysis only: messages/s when RocksDB alone
//                            writes the node's entries per message (4 puts,
//                            1 delete), 1,000 messages per synced batch
//
// Records have the size of a Parley message record (bench_params.hpp:
// message_record_bytes, message_key_bytes) with the same kind of text.

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>

#include "bench_params.hpp"
#include "bench_report.hpp"

namespace {

rocksdb::Options store_options() {
  // The same as a Parley store's (src/storage/rocksdb_store.cpp).
  rocksdb::Options o;
  o.create_if_missing = true;
  o.paranoid_checks = true;
  o.IncreaseParallelism(2);
  o.max_background_jobs = 2;
  o.compression = rocksdb::kLZ4Compression;
  return o;
}

[[noreturn]] void fail(const std::string& what, const rocksdb::Status& s) {
  std::cerr << "raw_rocksdb: " << what << ": " << s.ToString() << "\n";
  bench::fast_exit(1);
}

std::unique_ptr<rocksdb::DB> open_db(const std::string& path) {
  rocksdb::DB* raw = nullptr;
  auto s = rocksdb::DB::Open(store_options(), path, &raw);
  if (!s.ok())
    fail("open " + path, s);
  return std::unique_ptr<rocksdb::DB>{raw};
}

/// Like a messages-column key: from \0 id (24 bytes for most i).
std::string record_key(uint64_t i) {
  char buf[64];
  const auto from = (i * 7919) % bench::storage_agents;
  const int n = std::snprintf(buf, sizeof buf, "agent-%07llu%ct%02llu-%06llu",
                              static_cast<unsigned long long>(from), '\0',
                              static_cast<unsigned long long>(i % 64),
                              static_cast<unsigned long long>(i));
  return std::string(buf, static_cast<size_t>(n));
}

/// A record of message_record_bytes holding what a message record holds
/// (id, sender, recipient, time, type, the content, status, delivery), as
/// text instead of Protobuf.
std::string record_value(uint64_t i) {
  char head[128];
  const int n = std::snprintf(head, sizeof head, "t%02llu-%06llu|agent-%07llu|agent-%07llu|%llu|text|",
                              static_cast<unsigned long long>(i % 64),
                              static_cast<unsigned long long>(i),
                              static_cast<unsigned long long>((i * 7919) % bench::storage_agents),
                              static_cast<unsigned long long>((i * 104729 + 1) % bench::storage_agents),
                              static_cast<unsigned long long>(1'790'000'000'000ULL + i));
  std::string v(head, static_cast<size_t>(n));
  v += bench::message_content(i);
  v += "|delivered|" + std::to_string((1ULL << 40) + i);
  v.resize(bench::message_record_bytes, '.');
  return v;
}

/// Values are made before the clock starts (record_value costs more than
/// RocksDB's Put): a pool of 4,096 distinct ones, cycled; keys are unique.
const std::vector<std::string>& value_pool() {
  static const std::vector<std::string> pool = [] {
    std::vector<std::string> out;
    for (uint64_t i = 0; i < 4096; ++i)
      out.push_back(record_value(i));
    return out;
  }();
  return pool;
}

void fill(rocksdb::WriteBatch& wb, uint64_t first, size_t n) {
  auto& pool = value_pool();
  wb.Clear();
  for (uint64_t i = first; i < first + n; ++i)
    wb.Put(record_key(i), pool[i % pool.size()]);
}

// -- records/s with batches -------------------------------------------------------

[[noreturn]] void run_batches(const bench::options& o, size_t batch, bool sync, const char* name) {
  const double secs = o.duration(bench::seconds_full, bench::seconds_quick);
  (void) value_pool();
  auto db = open_db(bench::run_dir());
  rocksdb::WriteOptions w;
  w.sync = sync;
  rocksdb::WriteBatch wb;
  uint64_t next = 0;
  auto write_one = [&] {
    fill(wb, next, batch);
    next += batch;
    if (auto s = db->Write(w, &wb); !s.ok())
      fail("write", s);
  };
  auto t0 = bench::clock_type::now();
  while (bench::seconds_since(t0) < bench::warmup_s)
    write_one();
  const uint64_t first = next;
  const double cpu0 = bench::process_cpu_s();
  auto t1 = bench::clock_type::now();
  while (bench::seconds_since(t1) < secs)
    write_one();
  const double elapsed = bench::seconds_since(t1);
  const double cpu = bench::process_cpu_s() - cpu0;
  const double rate = static_cast<double>(next - first) / elapsed;
  std::cerr << "raw_rocksdb " << name << ": " << next - first << " records ("
            << bench::message_key_bytes << "+" << bench::message_record_bytes
            << " bytes) in batches of " << batch << (sync ? ", sync" : ", no sync") << ", "
            << elapsed << " s, " << rate << " records/s, process CPU " << cpu << " s\n";
  bench::deliver({rate, {}});
}

// -- latency of one synced record ------------------------------------------------

[[noreturn]] void run_fsync(const bench::options& o) {
  const uint64_t n = o.size(bench::fsync_samples_full, bench::fsync_samples_quick);
  auto db = open_db(bench::run_dir());
  rocksdb::WriteOptions w;
  w.sync = true;
  rocksdb::WriteBatch wb;
  std::vector<double> ms;
  ms.reserve(n);
  for (uint64_t i = 0; i < n + n / 10; ++i) {
    fill(wb, i, 1);
    auto t0 = bench::clock_type::now();
    if (auto s = db->Write(w, &wb); !s.ok())
      fail("write", s);
    if (i >= n / 10) // the first tenth warms up
      ms.push_back(bench::seconds_since(t0) * 1e3);
  }
  const double p50 = bench::percentile(ms, 0.50), p99 = bench::percentile(ms, 0.99);
  std::cerr << "raw_rocksdb fsync: " << n << " single-record synced WriteBatches, p50 " << p50
            << " ms, p99 " << p99 << " ms, max " << bench::percentile(ms, 1.0) << " ms\n";
  bench::sample s;
  s.value = p50;
  s.more = {p99};
  bench::deliver(s);
}

// -- opening a store and reading what a node reads at start ---------------------------

/// The column families a node reads entirely when it starts (agents,
/// attention knobs, rooms, moderator state, inboxes) and its meta record.
bool read_at_start(const std::string& cf) {
  return cf == "meta" || cf == "agents" || cf == "attention" || cf == "rooms"
         || cf == "moderators" || cf == "inbox";
}

[[noreturn]] void run_scan(const bench::options& o) {
  if (o.dir.empty()) {
    std::cerr << "raw_rocksdb scan needs --dir (a store built by storage_bench build-store)\n";
    bench::fast_exit(2);
  }
  auto t0 = bench::clock_type::now();
  std::vector<std::string> names;
  auto opts = store_options();
  opts.create_if_missing = false;
  if (auto s = rocksdb::DB::ListColumnFamilies(opts, o.dir, &names); !s.ok())
    fail("list column families of " + o.dir, s);
  std::vector<rocksdb::ColumnFamilyDescriptor> descs;
  for (auto& name : names)
    descs.emplace_back(name, rocksdb::ColumnFamilyOptions{opts});
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  if (auto s = rocksdb::DB::Open(opts, o.dir, descs, &handles, &raw); !s.ok())
    fail("open " + o.dir, s);
  std::unique_ptr<rocksdb::DB> db{raw};
  const double open_s = bench::seconds_since(t0);
  uint64_t keys = 0, bytes = 0;
  std::string counts;
  for (size_t i = 0; i < names.size(); ++i) {
    if (!read_at_start(names[i]))
      continue;
    uint64_t k = 0;
    std::unique_ptr<rocksdb::Iterator> it{db->NewIterator(rocksdb::ReadOptions{}, handles[i])};
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      ++k;
      bytes += it->key().size() + it->value().size();
    }
    if (!it->status().ok())
      fail("scan " + names[i], it->status());
    keys += k;
    counts += " " + names[i] + " " + std::to_string(k);
  }
  const double secs = bench::seconds_since(t0);
  std::cerr << "raw_rocksdb scan: opened " << o.dir << " in " << open_s << " s, read " << keys
            << " entries (" << bytes / 1048576 << " MiB;" << counts << ") in " << secs
            << " s in all\n";
  // No teardown: the parent measures nothing more, and the store stays as
  // it was for the Parley runs.
  bench::deliver({secs, {}});
}

// -- bytes on disk per record ----------------------------------------------------------

/// A full compaction that rewrites the bottommost level too, dropping
/// deleted entries and their tombstones (the default skips that level).
rocksdb::CompactRangeOptions force_bottommost() {
  rocksdb::CompactRangeOptions c;
  c.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
  return c;
}

uint64_t sst_bytes(rocksdb::DB& db) {
  uint64_t v = 0;
  db.GetIntProperty(rocksdb::DB::Properties::kTotalSstFilesSize, &v);
  return v;
}

[[noreturn]] void run_bytes(const bench::options& o) {
  const uint64_t n = o.size(bench::bytes_messages_full, bench::bytes_messages_quick);
  auto db = open_db(bench::run_dir());
  rocksdb::WriteOptions w;
  rocksdb::WriteBatch wb;
  for (uint64_t i = 0; i < n; i += bench::raw_sync_batch) {
    fill(wb, i, std::min<uint64_t>(bench::raw_sync_batch, n - i));
    if (auto s = db->Write(w, &wb); !s.ok())
      fail("write", s);
  }
  if (auto s = db->Flush(rocksdb::FlushOptions{}); !s.ok())
    fail("flush", s);
  const uint64_t flushed = sst_bytes(*db);
  if (auto s = db->CompactRange(force_bottommost(), nullptr, nullptr); !s.ok())
    fail("compact", s);
  const uint64_t compacted = sst_bytes(*db);
  const double per = static_cast<double>(compacted) / static_cast<double>(n);
  std::cerr << "raw_rocksdb bytes: " << n << " records of " << bench::message_key_bytes << "+"
            << bench::message_record_bytes << " bytes in batches of " << bench::raw_sync_batch
            << ": SST " << static_cast<double>(flushed) / static_cast<double>(n)
            << " bytes/record after the flush, " << per << " after a full compaction\n";
  bench::deliver({per, {}});
}

// -- analysis: Parley's layout written by RocksDB alone ------------------------------

/// Messages/s when RocksDB alone writes what the node writes per message
/// (record, history index entry, inbox entry, idempotency outcome in 4
/// column families, and the inbox entry's deletion once served), 1,000
/// messages per synced WriteBatch: the storage layout's cost without
/// actors, Protobuf or the node facade. Analysis only (scripts/bench does
/// not run it).
[[noreturn]] void run_layout(const bench::options& o) {
  const double secs = o.duration(bench::seconds_full, bench::seconds_quick);
  auto opts = store_options();
  opts.create_missing_column_families = true;
  const std::vector<std::string> names = {rocksdb::kDefaultColumnFamilyName, "messages",
                                          "message_index", "inbox", "idempotency"};
  std::vector<rocksdb::ColumnFamilyDescriptor> descs;
  for (auto& n : names)
    descs.emplace_back(n, rocksdb::ColumnFamilyOptions{opts});
  std::vector<rocksdb::ColumnFamilyHandle*> cf;
  rocksdb::DB* raw = nullptr;
  if (auto s = rocksdb::DB::Open(opts, bench::run_dir(), descs, &cf, &raw); !s.ok())
    fail("open", s);
  std::unique_ptr<rocksdb::DB> db{raw};
  auto& pool = value_pool();
  const std::string outcome(18, 'o');
  rocksdb::WriteOptions w;
  w.sync = true;
  rocksdb::WriteBatch wb;
  auto inbox_key = [](uint64_t i) {
    char buf[32];
    const int n = std::snprintf(buf, sizeof buf, "agent-%07llu%c%08llu",
                                static_cast<unsigned long long>((i * 104729 + 1) % bench::storage_agents),
                                '\0', static_cast<unsigned long long>(i));
    return std::string(buf, static_cast<size_t>(n));
  };
  uint64_t next = 0;
  auto write_one = [&] {
    wb.Clear();
    for (uint64_t i = next; i < next + bench::raw_sync_batch; ++i) {
      const auto key = record_key(i);
      char idx[96];
      const int n = std::snprintf(idx, sizeof idx, "direct:agent-%07llu|agent-%07llu%c%08llu%c",
                                  static_cast<unsigned long long>((i * 7919) % bench::storage_agents),
                                  static_cast<unsigned long long>((i * 104729 + 1) % bench::storage_agents),
                                  '\0', static_cast<unsigned long long>(i), '\0');
      wb.Put(cf[1], key, pool[i % pool.size()]);
      wb.Put(cf[2], std::string(idx, static_cast<size_t>(n)) + key, "");
      wb.Put(cf[3], inbox_key(i), key);
      wb.Put(cf[4], key, outcome);
      if (i >= bench::raw_sync_batch) // the previous batch's messages were served
        wb.Delete(cf[3], inbox_key(i - bench::raw_sync_batch));
    }
    next += bench::raw_sync_batch;
    if (auto s = db->Write(w, &wb); !s.ok())
      fail("write", s);
  };
  auto t0 = bench::clock_type::now();
  while (bench::seconds_since(t0) < bench::warmup_s)
    write_one();
  const uint64_t first = next;
  const double cpu0 = bench::process_cpu_s();
  auto t1 = bench::clock_type::now();
  while (bench::seconds_since(t1) < secs)
    write_one();
  const double elapsed = bench::seconds_since(t1);
  const double cpu = bench::process_cpu_s() - cpu0;
  const double rate = static_cast<double>(next - first) / elapsed;
  std::cerr << "raw_rocksdb layout_sync: " << next - first
            << " messages as the node stores them (4 puts + 1 delete each) in synced batches of "
            << bench::raw_sync_batch << " messages, " << rate << " messages/s, process CPU "
            << cpu / elapsed << " cores, " << cpu / static_cast<double>(next - first) * 1e6
            << " us per message\n";
  bench::deliver({rate, {}});
}

void run_wb_sync(const bench::options& o) {
  run_batches(o, bench::raw_sync_batch, true, "wb1000sync");
}
void run_wb_async(const bench::options& o) {
  run_batches(o, bench::raw_async_batch, false, "wb100async");
}

const bench::baseline_def baselines[] = {
  {"wb1000sync", "raw_rocksdb.wb1000_sync", "records/s", run_wb_sync},
  {"wb100async", "raw_rocksdb.wb100_async", "records/s", run_wb_async},
  {"fsync", "raw_rocksdb.fsync_p50", "ms", run_fsync, "raw_rocksdb.fsync_p99"},
  {"scan", "raw_rocksdb.open_and_scan", "s", run_scan},
  {"bytes", "raw_rocksdb.bytes_per_record", "bytes", run_bytes, nullptr, true},
  {"layout_sync", "raw_rocksdb.layout_sync", "msgs/s", run_layout},
};

} // namespace

int main(int argc, char** argv) {
  auto o = bench::options::parse(argc, argv);
  // scan reads the store given with --dir; the others write in run_dir().
  if (bench::run_baseline(o, baselines, {.scratch = o.figure != "scan"}))
    return 0;
  std::cerr << "usage: raw_rocksdb wb1000sync|wb100async|fsync|bytes|layout_sync|scan --dir DIR [--quick] "
               "[--n N] [--seconds S] [--repeats R]\n";
  return 2;
}
