// Moving a shard between stores on RocksDB (state_store::export_shard and
// import_shard): SST files out, IngestExternalFiles in.

#include <functional>
#include <map>
#include <memory>
#include <set>

#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/sst_file_writer.h>
#include <rocksdb/write_batch.h>

#include "parley/storage/records.hpp"
#include "storage/rocksdb_store.hpp"
#include "storage/shard_files.hpp"
#include "storage/status.hpp"

namespace parley::storage {

namespace {

rocksdb::ColumnFamilyHandle* cf(const rocksdb_store::db_view& v, column c) {
  return v.cfs[static_cast<size_t>(c)];
}

// One SST per family with keys in the shard, all read from one snapshot.
// Each file also carries a range tombstone over the whole shard, so that
// ingesting it replaces what the receiver held of the shard (a resumed
// move's leftovers) in the same atomic step: the tombstone hides only keys
// older than the file, never the file's own. A room's post is stored under
// the room's shard, so the messages file also carries the posts the
// shard's inbox entries name in other shards (outside the tombstone).
expected<std::vector<shard_file>> export_from(const rocksdb_store::db_view& v, uint32_t s, const std::string& dir) {
  auto* db = v.db;
  std::unique_ptr<const rocksdb::Snapshot, std::function<void(const rocksdb::Snapshot*)>> snap{
    db->GetSnapshot(), [db](const rocksdb::Snapshot* p) { db->ReleaseSnapshot(p); }};
  const auto lo = shard_begin(s);
  const auto hi = shard_begin(s + 1);
  const rocksdb::Slice lower{lo}, upper{hi};
  const auto failed = [s](const rocksdb::Status& st, const std::string& family) {
    return unexpected{status_error(st, "export of shard " + std::to_string(s) + " (" + family + ")")};
  };
  auto in_shard = [&](column c) {
    rocksdb::ReadOptions ro;
    ro.snapshot = snap.get();
    ro.iterate_lower_bound = &lower;
    ro.iterate_upper_bound = &upper;
    std::unique_ptr<rocksdb::Iterator> it{db->NewIterator(ro, cf(v, c))};
    it->Seek(lower);
    return it;
  };
  // The posts of other shards that the shard's inbox entries name.
  std::map<std::string, std::string> named;
  {
    auto it = in_shard(column::inbox);
    rocksdb::ReadOptions ro;
    ro.snapshot = snap.get();
    for (; it->Valid(); it->Next()) {
      auto key = it->value().ToString();
      if (key.compare(0, 2, lo) == 0 || named.count(key))
        continue;
      std::string value;
      auto st = db->Get(ro, cf(v, column::messages), key, &value);
      if (st.ok())
        named.emplace(std::move(key), std::move(value));
      else if (!st.IsNotFound()) // a dangling entry stays dangling
        return failed(st, "messages");
    }
    if (!it->status().ok())
      return failed(it->status(), "inbox");
  }
  std::vector<shard_file> out;
  for (int i = 0; i < column_count; ++i) {
    const auto c = static_cast<column>(i);
    if (!is_sharded(c))
      continue;
    const auto family = std::string{to_string(c)};
    auto it = in_shard(c);
    if (!it->status().ok())
      return failed(it->status(), family);
    const bool extra = c == column::messages && !named.empty();
    if (!it->Valid() && !extra)
      continue;
    const auto path = dir + "/" + family + ".sst";
    rocksdb::SstFileWriter writer{rocksdb::EnvOptions{}, v.opts, cf(v, c)};
    auto st = writer.Open(path);
    if (st.ok())
      st = writer.DeleteRange(lower, upper);
    // In key order: the named posts below the shard, the shard, those above.
    auto named_it = extra ? named.begin() : named.end();
    for (; st.ok() && named_it != named.end() && named_it->first < lo; ++named_it)
      st = writer.Put(named_it->first, named_it->second);
    for (; st.ok() && it->Valid(); it->Next())
      st = writer.Put(it->key(), it->value());
    if (st.ok())
      st = it->status();
    for (; st.ok() && named_it != named.end(); ++named_it)
      st = writer.Put(named_it->first, named_it->second);
    rocksdb::ExternalSstFileInfo info;
    if (st.ok())
      st = writer.Finish(&info);
    if (!st.ok())
      return failed(st, family);
    auto sum = file_checksum(path);
    if (!sum)
      return unexpected{sum.error()};
    out.push_back(shard_file{c, path, info.file_size, *sum});
  }
  return out;
}

expected<void> import_into(const rocksdb_store::db_view& v, uint32_t s, const std::vector<shard_file>& files) {
  const auto what = "import of shard " + std::to_string(s);
  // Families without a file hold none of the shard's keys at the sender:
  // their old keys here go too (a range delete per family, one batch).
  const auto lo = shard_begin(s);
  const auto hi = shard_begin(s + 1);
  rocksdb::WriteBatch wb;
  std::set<column> carried;
  for (auto& f : files)
    carried.insert(f.col);
  for (int i = 0; i < column_count; ++i)
    if (const auto c = static_cast<column>(i); is_sharded(c) && !carried.count(c))
      if (auto st = wb.DeleteRange(cf(v, c), lo, hi); !st.ok())
        return unexpected{status_error(st, what)};
  if (wb.Count() > 0)
    if (auto st = v.db->Write(v.wopts, &wb); !st.ok())
      return unexpected{status_error(st, what)};
  if (files.empty())
    return {};
  std::vector<rocksdb::IngestExternalFileArg> args;
  for (auto& f : files) {
    rocksdb::IngestExternalFileArg a;
    a.column_family = cf(v, f.col);
    a.external_files = {f.path};
    a.options.move_files = true; // hard links: the files are ours and on the store's disk
    a.options.verify_checksums_before_ingest = true;
    a.options.allow_blocking_flush = true;
    args.push_back(std::move(a));
  }
  // Every family at once: all of the shard or none of it.
  if (auto st = v.db->IngestExternalFiles(args); !st.ok())
    return unexpected{status_error(st, what)};
  return {};
}

} // namespace

expected<std::vector<shard_file>> rocksdb_store::export_shard(uint32_t s, const std::string& dir) const {
  if (auto ok = empty_dir_for_export(dir); !ok)
    return unexpected{ok.error()};
  std::vector<shard_file> files;
  auto done = with_view([&](const db_view& v) -> expected<void> {
    auto r = export_from(v, s, dir);
    if (!r)
      return unexpected{r.error()};
    files = std::move(*r);
    return {};
  });
  if (!done)
    return unexpected{done.error()};
  return files;
}

expected<void> rocksdb_store::import_shard(uint32_t s, const std::vector<shard_file>& files) {
  if (auto ok = check_shard_files(files); !ok)
    return ok;
  return with_view([&](const db_view& v) { return import_into(v, s, files); });
}

} // namespace parley::storage
