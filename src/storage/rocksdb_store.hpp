#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "parley/storage/state_store.hpp"

namespace rocksdb {
class DB;
class ColumnFamilyHandle;
struct Options;
struct WriteOptions;
} // namespace rocksdb

namespace parley::storage {

/// state_store on RocksDB, one column family per `column`.
class rocksdb_store final : public state_store {
public:
  static expected<std::unique_ptr<state_store>> open(const store_options& opt);
  ~rocksdb_store() override;

  expected<void> write(const write_batch& b) override;
  expected<std::optional<std::string>> get(column c, std::string_view key) const override;
  expected<void> scan(column c, std::string_view prefix, std::string_view start,
                      const scan_fn& fn) const override;
  expected<void> scan_reverse(column c, std::string_view prefix, std::string_view before,
                              const scan_fn& fn) const override;
  expected<void> checkpoint(const std::string& dir) const override;
  durability mode() const noexcept override;
  const std::string& node_id() const noexcept override;
  uint64_t disk_bytes() const override;
  uint64_t estimate_count(column c) const override;

  expected<std::vector<shard_file>> export_shard(uint32_t s, const std::string& dir) const override;
  expected<void> import_shard(uint32_t s, const std::vector<shard_file>& files) override;
  expected<void> compact() override;

  /// For backup.cpp only: runs `fn` on the database under the store's
  /// shared lock, so a reopen after a failed write cannot swap it meanwhile.
  expected<void> with_db(const std::function<expected<void>(rocksdb::DB*)>& fn) const;
  /// For rocksdb_shards.cpp: the open database, its families (indexed by
  /// column) and options, under the same lock; storage_failure if closed.
  struct db_view {
    rocksdb::DB* db;
    const std::vector<rocksdb::ColumnFamilyHandle*>& cfs;
    const rocksdb::Options& opts;
    const rocksdb::WriteOptions& wopts;
  };
  expected<void> with_view(const std::function<expected<void>(const db_view&)>& fn) const;

private:
  expected<void> reopen_after_failure();
  struct impl;
  explicit rocksdb_store(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

} // namespace parley::storage
