// The RocksDB implementation of state_store. RocksDB types stay in this file
// (and backup.cpp through rocksdb_store.hpp).

#include "storage/rocksdb_store.hpp"

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <mutex>
#include <shared_mutex>

#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/file_system.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/table.h>
#include <rocksdb/options.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/utilities/checkpoint.h>
#include <rocksdb/write_batch.h>

#include "parley/storage/records.hpp"
#include "parley/v1/storage.pb.h"
#include "storage/migrate.hpp"
#include "storage/status.hpp"

namespace fs = std::filesystem;

namespace parley::storage {

namespace {

constexpr std::string_view meta_key = "store";
constexpr std::string_view magic = "parley";

std::vector<std::string> column_names() {
  std::vector<std::string> out;
  for (int i = 0; i < column_count; ++i)
    out.emplace_back(to_string(static_cast<column>(i)));
  return out;
}

rocksdb::Options base_options() {
  rocksdb::Options o;
  o.create_if_missing = false;
  o.paranoid_checks = true;
  // Two cores here: one flush and one compaction thread.
  o.IncreaseParallelism(2);
  o.max_background_jobs = 2;
  o.compression = rocksdb::kLZ4Compression;
  // Every API send looks up its idempotency key, which almost never
  // exists: a Bloom filter answers that without reading a block.
  rocksdb::BlockBasedTableOptions table;
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  o.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  return o;
}

// The owner part of a sharded key: shard(2), then the agent or room id (an
// inbox key) or a kind byte and the id (messages, index), up to its \0.
// An owner's keys are one range, and most arrive in order inside it (inbox
// deliveries, index times), so the memtable's skip-list starts each insert
// from where the owner's last one went instead of from the top: the search
// was most of the storage writer's time (docs/performance.md).
class owner_prefix final : public rocksdb::SliceTransform {
public:
  const char* Name() const override { return "parley.owner_prefix.v1"; }
  rocksdb::Slice Transform(const rocksdb::Slice& key) const override {
    return rocksdb::Slice{key.data(), end(key)};
  }
  bool InDomain(const rocksdb::Slice& key) const override { return end(key) != 0; }

private:
  // Length of the prefix including its \0, or 0 for a key without one.
  static size_t end(const rocksdb::Slice& key) {
    for (size_t i = 2; i < key.size(); ++i)
      if (key[i] == '\0')
        return i + 1;
    return 0;
  }
};

// Fails writes and syncs while the switch is on (see disk_faults).
class faulty_file final : public rocksdb::FSWritableFileOwnerWrapper {
public:
  faulty_file(std::unique_ptr<rocksdb::FSWritableFile> f, std::shared_ptr<disk_faults> faults)
    : FSWritableFileOwnerWrapper(std::move(f)), faults_(std::move(faults)) {}

  rocksdb::IOStatus Append(const rocksdb::Slice& d, const rocksdb::IOOptions& o,
                           rocksdb::IODebugContext* dbg) override {
    return check() ? target()->Append(d, o, dbg) : injected();
  }
  rocksdb::IOStatus Append(const rocksdb::Slice& d, const rocksdb::IOOptions& o,
                           const rocksdb::DataVerificationInfo& v,
                           rocksdb::IODebugContext* dbg) override {
    return check() ? target()->Append(d, o, v, dbg) : injected();
  }
  rocksdb::IOStatus Sync(const rocksdb::IOOptions& o, rocksdb::IODebugContext* dbg) override {
    faults_->before_sync();
    return faults_->sync_fails() ? injected() : target()->Sync(o, dbg);
  }
  rocksdb::IOStatus Fsync(const rocksdb::IOOptions& o, rocksdb::IODebugContext* dbg) override {
    faults_->before_sync();
    return faults_->sync_fails() ? injected() : target()->Fsync(o, dbg);
  }
  rocksdb::IOStatus RangeSync(uint64_t offset, uint64_t nbytes, const rocksdb::IOOptions& o,
                              rocksdb::IODebugContext* dbg) override {
    faults_->before_sync();
    return faults_->sync_fails() ? injected() : target()->RangeSync(offset, nbytes, o, dbg);
  }

private:
  bool check() const { return !faults_->failing(); }
  static rocksdb::IOStatus injected() { return rocksdb::IOStatus::IOError("injected write failure"); }
  std::shared_ptr<disk_faults> faults_;
};

class faulty_fs final : public rocksdb::FileSystemWrapper {
public:
  faulty_fs(std::shared_ptr<disk_faults> faults)
    : FileSystemWrapper(rocksdb::FileSystem::Default()), faults_(std::move(faults)) {}

  const char* Name() const override { return "parley_faulty_fs"; }

  rocksdb::IOStatus NewWritableFile(const std::string& f, const rocksdb::FileOptions& o,
                                    std::unique_ptr<rocksdb::FSWritableFile>* r,
                                    rocksdb::IODebugContext* dbg) override {
    if (faults_->failing())
      return rocksdb::IOStatus::IOError("injected write failure creating " + f);
    auto s = target()->NewWritableFile(f, o, r, dbg);
    if (s.ok())
      *r = std::make_unique<faulty_file>(std::move(*r), faults_);
    return s;
  }

private:
  std::shared_ptr<disk_faults> faults_;
};

// Visits entries from the iterator's position while their keys have
// `prefix`, forwards or backwards, until `fn` returns false.
expected<void> walk(rocksdb::Iterator& it, column c, std::string_view prefix, bool backwards,
                    const scan_fn& fn) {
  for (; it.Valid(); backwards ? it.Prev() : it.Next()) {
    auto k = it.key();
    std::string_view key{k.data(), k.size()};
    if (key.substr(0, prefix.size()) != prefix)
      break;
    auto v = it.value();
    if (!fn(key, std::string_view{v.data(), v.size()}))
      break;
  }
  if (!it.status().ok())
    return unexpected{status_error(it.status(), "scan " + std::string{to_string(c)})};
  return {};
}

unexpected closed_error(const std::string& path) {
  return unexpected{errc::storage_failure, "store '" + path + "' is closed after a failure"};
}

bool dir_has_entries(const fs::path& p) {
  std::error_code ec;
  return fs::exists(p, ec) && fs::is_directory(p, ec) && !fs::is_empty(p, ec);
}

// Reads the meta record of an existing RocksDB directory without writing
// anything to it; refuses a directory that is not a Parley store.
expected<v1::storage::StoreMeta> read_meta(const std::string& path) {
  std::vector<std::string> cfs;
  auto s = rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions{}, path, &cfs);
  if (!s.ok())
    return unexpected{errc::invalid_argument, "directory '" + path
                                                + "' is not a Parley store (no RocksDB files: "
                                                + s.ToString() + ")"};
  if (std::find(cfs.begin(), cfs.end(), "meta") == cfs.end())
    return unexpected{errc::invalid_argument,
                      "directory '" + path + "' is a RocksDB database but not a Parley store "
                                             "(no 'meta' column family); refusing to touch it"};
  std::vector<rocksdb::ColumnFamilyDescriptor> descs;
  for (auto& name : cfs)
    descs.emplace_back(name, rocksdb::ColumnFamilyOptions{});
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  auto opts = base_options();
  s = rocksdb::DB::OpenForReadOnly(opts, path, descs, &handles, &raw);
  if (!s.ok())
    return unexpected{status_error(s, "open '" + path + "' read-only")};
  std::unique_ptr<rocksdb::DB> db{raw};
  size_t meta_idx = 0;
  for (size_t i = 0; i < cfs.size(); ++i)
    if (cfs[i] == "meta")
      meta_idx = i;
  std::string value;
  s = db->Get(rocksdb::ReadOptions{}, handles[meta_idx], rocksdb::Slice{meta_key.data(), meta_key.size()},
              &value);
  for (auto* h : handles)
    db->DestroyColumnFamilyHandle(h);
  if (s.IsNotFound())
    return unexpected{errc::invalid_argument,
                      "directory '" + path + "' has no Parley meta record; refusing to touch it"};
  if (!s.ok())
    return unexpected{status_error(s, "read meta of '" + path + "'")};
  v1::storage::StoreMeta meta;
  if (!meta.ParseFromString(value) || meta.magic() != magic)
    return unexpected{errc::invalid_argument,
                      "directory '" + path + "' has an unreadable meta record: not a Parley store"};
  return meta;
}

} // namespace

constexpr std::string_view write_seq_key = "write_seq";

// Schema 1 kept a room's members and invitations inside its record; schema
// 2 keeps one member record each (a join writes one small record). The
// rewrite is one atomic batch, with schema version 2 in it.
rocksdb::Status migrate_v1(rocksdb::DB& db, const std::vector<rocksdb::ColumnFamilyHandle*>& cfs,
                           v1::storage::StoreMeta meta) {
  auto cf = [&](column c) { return cfs[static_cast<size_t>(c)]; };
  // Schema 2 member keys: room \0 agent (schema 3 adds the shard).
  auto member_key = [](const std::string& room, const std::string& agent) { return room + '\0' + agent; };
  rocksdb::WriteBatch wb;
  std::unique_ptr<rocksdb::Iterator> it{db.NewIterator(rocksdb::ReadOptions{}, cf(column::rooms))};
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    auto v = it->value();
    auto rec = decode_room(std::string_view{v.data(), v.size()});
    if (!rec)
      return rocksdb::Status::Corruption("migrating room record: " + rec.error().message);
    auto& r = rec->r;
    if (r.kind == room_kind::direct && r.pair.empty()) {
      std::vector<agent_id> pair{r.created_by};
      for (auto& m : r.members)
        if (m.id != r.created_by)
          pair.push_back(m.id);
      if (pair.size() == 2) {
        std::sort(pair.begin(), pair.end());
        r.pair = pair;
      }
    }
    for (size_t i = 0; i < r.members.size(); ++i) {
      auto& m = r.members[i];
      auto s = wb.Put(cf(column::members), member_key(r.id, m.id), encode(member_record{m.role, m.joined_at, i, false}));
      if (!s.ok())
        return s;
    }
    for (auto& [who, role] : rec->invitations) {
      auto s = wb.Put(cf(column::members), member_key(r.id, who), encode(member_record{role, 0, 0, true}));
      if (!s.ok())
        return s;
    }
    auto s = wb.Put(cf(column::rooms), r.id, encode(room_record{r, {}}));
    if (!s.ok())
      return s;
  }
  if (!it->status().ok())
    return it->status();
  meta.set_schema_version(2);
  auto s = wb.Put(cf(column::meta), rocksdb::Slice{meta_key.data(), meta_key.size()}, meta.SerializeAsString());
  if (!s.ok())
    return s;
  rocksdb::WriteOptions w;
  w.sync = true;
  return db.Write(w, &wb);
}

uint64_t read_write_seq(rocksdb::DB& db, rocksdb::ColumnFamilyHandle* meta_cf) {
  std::string v;
  if (!db.Get(rocksdb::ReadOptions{}, meta_cf, rocksdb::Slice{write_seq_key.data(), write_seq_key.size()}, &v).ok())
    return 0;
  return parse_u64_key(v);
}

struct rocksdb_store::impl {
  // Declared before db: the Env must outlive the database that uses it.
  std::unique_ptr<rocksdb::Env> env;
  rocksdb::Options opts;
  std::unique_ptr<rocksdb::DB> db;
  std::vector<rocksdb::ColumnFamilyHandle*> cfs; // indexed by column
  std::vector<rocksdb::ColumnFamilyHandle*> legacy; // of older schemas, dropped once migrated
  rocksdb::WriteOptions wopts;
  durability mode = durability::sync;
  std::string node_id;
  std::string path;
  // Readers and writers hold it shared; reopening after a failed write
  // holds it exclusively.
  mutable std::shared_mutex db_mtx;
  std::atomic<bool> needs_reopen{false};
  // Every write carries the next number under meta/write_seq: after a
  // failed write, the reopened store says for certain whether it landed.
  std::atomic<uint64_t> write_seq{0};

  ~impl() { close(); }

  void close() {
    if (!db)
      return;
    for (auto* h : cfs)
      db->DestroyColumnFamilyHandle(h).PermitUncheckedError();
    for (auto* h : legacy)
      db->DestroyColumnFamilyHandle(h).PermitUncheckedError();
    cfs.clear();
    legacy.clear();
    db->Close().PermitUncheckedError();
    db.reset();
  }

  rocksdb::Status open_db(bool read_only = false) {
    std::vector<rocksdb::ColumnFamilyDescriptor> descs;
    descs.emplace_back(rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions{opts});
    const auto known = column_names();
    for (auto& name : known)
      descs.emplace_back(name, family_options(name));
    // RocksDB opens a database only with all its families: those of older
    // schemas (migrated, then dropped) too.
    std::vector<std::string> existing;
    if (rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions{}, path, &existing).ok())
      for (auto& name : existing)
        if (name != rocksdb::kDefaultColumnFamilyName && std::find(known.begin(), known.end(), name) == known.end())
          descs.emplace_back(name, rocksdb::ColumnFamilyOptions{opts});
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* raw = nullptr;
    auto s = read_only ? rocksdb::DB::OpenForReadOnly(opts, path, descs, &handles, &raw)
                       : rocksdb::DB::Open(opts, path, descs, &handles, &raw);
    if (!s.ok())
      return s;
    db.reset(raw);
    // handles[0] is the default family, which Parley does not use.
    raw->DestroyColumnFamilyHandle(handles[0]).PermitUncheckedError();
    cfs.assign(handles.begin() + 1, handles.begin() + 1 + column_count);
    legacy.assign(handles.begin() + 1 + column_count, handles.end());
    return s;
  }

  // Drops the families of older schemas (after their migration).
  rocksdb::Status drop_legacy() {
    for (auto* h : legacy) {
      auto s = db->DropColumnFamily(h);
      db->DestroyColumnFamilyHandle(h).PermitUncheckedError();
      if (!s.ok())
        return s;
    }
    legacy.clear();
    return rocksdb::Status::OK();
  }

  rocksdb::ColumnFamilyHandle* cf(column c) const { return cfs[static_cast<size_t>(c)]; }

  rocksdb::ColumnFamilyOptions family_options(const std::string& name) const {
    rocksdb::ColumnFamilyOptions o{opts};
    // Every API send reads its idempotency key twice (the sender's early
    // answer, the writer's precondition), almost always absent and almost
    // always absent from the memtable too: a Bloom filter over the
    // memtable's whole keys answers that without a skip-list search.
    if (name == to_string(column::messages)) {
      o.memtable_whole_key_filtering = true;
      o.memtable_prefix_bloom_size_ratio = 0.02;
    }
    if (name == to_string(column::messages) || name == to_string(column::message_index)
        || name == to_string(column::inbox))
      o.memtable_insert_with_hint_prefix_extractor = std::make_shared<owner_prefix>();
    return o;
  }
};

rocksdb_store::rocksdb_store(std::unique_ptr<impl> p) : impl_(std::move(p)) {
}

rocksdb_store::~rocksdb_store() = default;

expected<std::unique_ptr<state_store>> rocksdb_store::open(const store_options& opt) {
  if (opt.path.empty())
    return unexpected{errc::invalid_argument, "store path is empty"};
  const bool existing = dir_has_entries(opt.path);
  std::optional<v1::storage::StoreMeta> meta;
  if (existing) {
    auto m = read_meta(opt.path);
    if (!m)
      return unexpected{m.error()};
    if (m->schema_version() > schema_version)
      return unexpected{errc::failed_precondition,
                        "store '" + opt.path + "' has schema version "
                          + std::to_string(m->schema_version())
                          + ", newer than this build reads (" + std::to_string(schema_version)
                          + "); use a newer parleyd"};
    meta = std::move(*m);
  } else if (!opt.create_if_missing) {
    return unexpected{errc::not_found, "store '" + opt.path + "' does not exist"};
  }

  auto p = std::make_unique<impl>();
  p->opts = base_options();
  if (opt.faults) {
    p->env = rocksdb::NewCompositeEnv(std::make_shared<faulty_fs>(opt.faults));
    p->opts.env = p->env.get();
  }
  p->opts.create_if_missing = !existing;
  p->opts.create_missing_column_families = true;
  p->mode = opt.mode;
  p->path = opt.path;
  p->wopts.sync = opt.mode == durability::sync;
  if (auto s = p->open_db(); !s.ok())
    return unexpected{status_error(s, "open store '" + opt.path + "'")};
  if (meta) {
    p->node_id = meta->node_id();
    auto migration_failed = [&](const std::string& why) {
      return unexpected{errc::storage_failure, "migrate store '" + opt.path + "' from schema version "
                                                 + std::to_string(meta->schema_version()) + ": " + why};
    };
    if (meta->schema_version() < 2)
      if (auto s = migrate_v1(*p->db, p->cfs, *meta); !s.ok())
        return migration_failed(s.ToString());
    p->write_seq = read_write_seq(*p->db, p->cf(column::meta));
    auto* raw = p.get();
    std::unique_ptr<rocksdb_store> store{new rocksdb_store(std::move(p))};
    if (meta->schema_version() < 3) {
      auto m = *meta;
      m.set_schema_version(3);
      if (auto ok = migrate_v2(*store, m.SerializeAsString()); !ok)
        return migration_failed(ok.error().message);
    }
    if (meta->schema_version() < 4) {
      // 3 -> 4: the outbox family, which the open created empty. The new
      // number keeps older builds away: they would drop a family they do
      // not know.
      auto m = *meta;
      m.set_schema_version(4);
      write_batch b;
      b.put(column::meta, std::string{meta_key}, m.SerializeAsString());
      if (auto ok = store->write(b); !ok)
        return migration_failed(ok.error().message);
    }
    if (auto s = raw->drop_legacy(); !s.ok())
      return unexpected{status_error(s, "drop the column families of older schemas in '" + opt.path + "'")};
    return std::unique_ptr<state_store>{std::move(store)};
  } else {
    v1::storage::StoreMeta m;
    m.set_schema_version(schema_version);
    m.set_node_id(opt.node_id);
    m.set_magic(std::string{magic});
    m.set_created_at(static_cast<int64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::system_clock::now().time_since_epoch())
        .count()));
    rocksdb::WriteOptions w;
    w.sync = true;
    auto s = p->db->Put(w, p->cf(column::meta), rocksdb::Slice{meta_key.data(), meta_key.size()},
                        m.SerializeAsString());
    if (!s.ok())
      return unexpected{status_error(s, "write meta of new store '" + opt.path + "'")};
    p->node_id = opt.node_id;
  }
  return std::unique_ptr<state_store>{new rocksdb_store(std::move(p))};
}

expected<void> rocksdb_store::reopen_after_failure() {
  // A failed WAL write leaves RocksDB refusing writes for good (a fatal
  // background error): the only way back is to reopen, which replays the
  // log of everything that was committed. Caller holds db_mtx exclusively.
  impl_->close();
  if (auto s = impl_->open_db(); !s.ok()) {
    // The disk still refuses: serve reads from a read-only instance and
    // try again on the next write.
    impl_->open_db(/*read_only=*/true).PermitUncheckedError();
    return unexpected{status_error(s, "reopen store '" + impl_->path + "' after a write failure")};
  }
  impl_->needs_reopen = false;
  return {};
}

expected<void> rocksdb_store::write(const write_batch& b) {
  if (b.empty())
    return {};
  if (impl_->needs_reopen.load()) {
    std::unique_lock guard{impl_->db_mtx};
    if (impl_->needs_reopen.load())
      if (auto ok = reopen_after_failure(); !ok)
        return ok;
  }
  const uint64_t seq = impl_->write_seq.fetch_add(1) + 1;
  {
    std::shared_lock guard{impl_->db_mtx};
    if (!impl_->db)
      return closed_error(impl_->path);
    rocksdb::WriteBatch wb;
    for (auto& op : b.ops()) {
      auto* cf = impl_->cf(op.col);
      auto s = op.range   ? wb.DeleteRange(cf, op.key, op.value)
               : op.erase ? wb.Delete(cf, op.key)
                          : wb.Put(cf, op.key, op.value);
      if (!s.ok())
        return unexpected{status_error(s, "build write batch")};
    }
    auto marker = u64_key(seq);
    if (auto s = wb.Put(impl_->cf(column::meta), rocksdb::Slice{write_seq_key.data(), write_seq_key.size()}, marker);
        !s.ok())
      return unexpected{status_error(s, "build write batch")};
    auto s = impl_->db->Write(impl_->wopts, &wb);
    if (s.ok())
      return {};
    impl_->needs_reopen = true;
    if (impl_->mode != durability::sync)
      return unexpected{status_error(s, "write batch of " + std::to_string(b.size()) + " changes")};
  }
  // The write failed, but its log record may have been appended before the
  // sync failed, and a reopen would then bring it back. Settle it now, before
  // anyone reads: reopen and look for this write's marker.
  std::unique_lock guard{impl_->db_mtx};
  const auto reopened = impl_->needs_reopen.load() ? reopen_after_failure() : expected<void>{};
  if (!impl_->db)
    return closed_error(impl_->path);
  const bool landed = read_write_seq(*impl_->db, impl_->cf(column::meta)) >= seq;
  const auto what = "write batch of " + std::to_string(b.size()) + " changes";
  if (!landed)
    return unexpected{errc::storage_failure, what + ": the disk refused it; nothing of it was stored"};
  if (reopened) {
    // Recovery replayed it; make it durable before saying so.
    rocksdb::FlushOptions fo;
    fo.wait = true;
    if (impl_->db->Flush(fo, impl_->cfs).ok() && impl_->db->SyncWAL().ok())
      return {};
  }
  return unexpected{errc::deadline_exceeded,
                    what + ": the disk failed after the change was appended to the log; whether it "
                           "survives a power loss is unknown (retry a send with the same id to learn "
                           "its outcome)"};
}

expected<std::optional<std::string>> rocksdb_store::get(column c, std::string_view key) const {
  std::shared_lock guard{impl_->db_mtx};
  if (!impl_->db)
    return closed_error(impl_->path);
  std::string value;
  auto s = impl_->db->Get(rocksdb::ReadOptions{}, impl_->cf(c),
                          rocksdb::Slice{key.data(), key.size()}, &value);
  if (s.IsNotFound())
    return std::optional<std::string>{};
  if (!s.ok())
    return unexpected{status_error(s, "read " + std::string{to_string(c)})};
  return std::optional<std::string>{std::move(value)};
}

expected<void> rocksdb_store::scan(column c, std::string_view prefix, std::string_view start,
                                   const scan_fn& fn) const {
  std::shared_lock guard{impl_->db_mtx};
  if (!impl_->db)
    return closed_error(impl_->path);
  rocksdb::ReadOptions ro;
  std::unique_ptr<rocksdb::Iterator> it{impl_->db->NewIterator(ro, impl_->cf(c))};
  std::string_view from = start.empty() || start < prefix ? prefix : start;
  it->Seek(rocksdb::Slice{from.data(), from.size()});
  return walk(*it, c, prefix, /*backwards=*/false, fn);
}

expected<void> rocksdb_store::scan_reverse(column c, std::string_view prefix,
                                           std::string_view before, const scan_fn& fn) const {
  std::shared_lock guard{impl_->db_mtx};
  if (!impl_->db)
    return closed_error(impl_->path);
  rocksdb::ReadOptions ro;
  std::unique_ptr<rocksdb::Iterator> it{impl_->db->NewIterator(ro, impl_->cf(c))};
  if (before.empty()) {
    // The first key past every key with the prefix: prefix with its last
    // byte incremented (0xff bytes carried); empty prefix = the very end.
    std::string upper{prefix};
    while (!upper.empty() && static_cast<unsigned char>(upper.back()) == 0xff)
      upper.pop_back();
    if (upper.empty()) {
      it->SeekToLast();
    } else {
      upper.back() = static_cast<char>(static_cast<unsigned char>(upper.back()) + 1);
      it->SeekForPrev(upper);
      if (it->Valid() && it->key() == rocksdb::Slice{upper})
        it->Prev();
    }
  } else {
    it->SeekForPrev(rocksdb::Slice{before.data(), before.size()});
    if (it->Valid() && it->key() == rocksdb::Slice{before.data(), before.size()})
      it->Prev();
  }
  return walk(*it, c, prefix, /*backwards=*/true, fn);
}

expected<void> rocksdb_store::checkpoint(const std::string& dir) const {
  std::shared_lock guard{impl_->db_mtx};
  if (!impl_->db)
    return closed_error(impl_->path);
  rocksdb::Checkpoint* raw = nullptr;
  auto s = rocksdb::Checkpoint::Create(impl_->db.get(), &raw);
  if (!s.ok())
    return unexpected{status_error(s, "create checkpoint")};
  std::unique_ptr<rocksdb::Checkpoint> cp{raw};
  s = cp->CreateCheckpoint(dir);
  if (!s.ok())
    return unexpected{status_error(s, "write checkpoint to '" + dir + "'")};
  return {};
}

durability rocksdb_store::mode() const noexcept {
  return impl_->mode;
}

const std::string& rocksdb_store::node_id() const noexcept {
  return impl_->node_id;
}

uint64_t rocksdb_store::estimate_count(column c) const {
  std::shared_lock guard{impl_->db_mtx};
  uint64_t n = 0;
  impl_->db->GetIntProperty(impl_->cfs[static_cast<size_t>(c)], "rocksdb.estimate-num-keys", &n);
  return n;
}

uint64_t rocksdb_store::disk_bytes() const {
  uint64_t total = 0;
  std::error_code ec;
  for (auto& e : fs::directory_iterator(impl_->path, ec))
    if (e.is_regular_file(ec))
      total += e.file_size(ec);
  return total;
}

expected<void> rocksdb_store::compact() {
  std::shared_lock guard{impl_->db_mtx};
  if (!impl_->db)
    return closed_error(impl_->path);
  rocksdb::FlushOptions fo;
  fo.wait = true;
  if (auto s = impl_->db->Flush(fo, impl_->cfs); !s.ok())
    return unexpected{status_error(s, "flush before compaction")};
  rocksdb::CompactRangeOptions co;
  // Down to the last level, so no older version of a key survives anywhere.
  co.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
  for (auto* cf : impl_->cfs)
    if (auto s = impl_->db->CompactRange(co, cf, nullptr, nullptr); !s.ok())
      return unexpected{status_error(s, "compact")};
  return {};
}

expected<void> rocksdb_store::with_db(const std::function<expected<void>(rocksdb::DB*)>& fn) const {
  std::shared_lock guard{impl_->db_mtx};
  return fn(impl_->db.get());
}

expected<void> rocksdb_store::with_view(const std::function<expected<void>(const db_view&)>& fn) const {
  std::shared_lock guard{impl_->db_mtx};
  if (!impl_->db)
    return closed_error(impl_->path);
  return fn(db_view{impl_->db.get(), impl_->cfs, impl_->opts, impl_->wopts});
}

} // namespace parley::storage
