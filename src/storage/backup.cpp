// Online backups with RocksDB's BackupEngine (incremental, checksummed).

#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/utilities/backup_engine.h>

#include "storage/rocksdb_store.hpp"
#include "storage/status.hpp"

namespace parley::storage {

namespace {

expected<std::unique_ptr<rocksdb::BackupEngine>> open_engine(const std::string& dir) {
  rocksdb::BackupEngine* raw = nullptr;
  rocksdb::BackupEngineOptions opts{dir};
  auto s = rocksdb::BackupEngine::Open(rocksdb::Env::Default(), opts, &raw);
  if (!s.ok())
    return unexpected{status_error(s, "open backup directory '" + dir + "'")};
  return std::unique_ptr<rocksdb::BackupEngine>{raw};
}

// The engine of a backup directory that holds at least one backup, with the
// list of its backups; not_found when there is none.
struct existing_backups {
  std::unique_ptr<rocksdb::BackupEngine> engine;
  std::vector<rocksdb::BackupInfo> infos;
};

expected<existing_backups> open_existing(const std::string& dir) {
  auto engine = open_engine(dir);
  if (!engine)
    return unexpected{engine.error()};
  existing_backups out{std::move(*engine), {}};
  out.engine->GetBackupInfo(&out.infos);
  if (out.infos.empty())
    return unexpected{errc::not_found, "no backup in '" + dir + "'"};
  return out;
}

} // namespace

expected<void> create_backup(const state_store& s, const std::string& backup_dir) {
  auto* rs = dynamic_cast<const rocksdb_store*>(&s);
  if (!rs)
    return unexpected{errc::failed_precondition,
                      "a memory store (durability 'memory') cannot be backed up"};
  auto engine = open_engine(backup_dir);
  if (!engine)
    return unexpected{engine.error()};
  rocksdb::CreateBackupOptions opts;
  opts.flush_before_backup = true;
  return rs->with_db([&](rocksdb::DB* db) -> expected<void> {
    auto st = (*engine)->CreateNewBackup(opts, db);
    if (!st.ok())
      return unexpected{status_error(st, "back up into '" + backup_dir + "'")};
    return {};
  });
}

expected<void> verify_backups(const std::string& backup_dir) {
  auto b = open_existing(backup_dir);
  if (!b)
    return unexpected{b.error()};
  for (auto& info : b->infos) {
    auto st = b->engine->VerifyBackup(info.backup_id, /*verify_with_checksum=*/true);
    if (!st.ok())
      return unexpected{status_error(st, "verify backup " + std::to_string(info.backup_id) + " in '"
                                           + backup_dir + "'")};
  }
  return {};
}

expected<void> restore_latest_backup(const std::string& backup_dir, const std::string& db_dir) {
  auto b = open_existing(backup_dir);
  if (!b)
    return unexpected{b.error()};
  auto st = b->engine->RestoreDBFromLatestBackup(db_dir, db_dir);
  if (!st.ok())
    return unexpected{status_error(st, "restore '" + backup_dir + "' into '" + db_dir + "'")};
  return {};
}

} // namespace parley::storage
