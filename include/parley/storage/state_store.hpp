#pragma once

// A node's durable state behind a narrow interface. The RocksDB
// implementation hides every RocksDB type (src/storage); an in-memory one
// serves simulations and tests that need no disk. Values are encoded records
// (parley/storage/records.hpp); this layer only stores bytes atomically.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "parley/error.hpp"
#include "parley/storage/disk_faults.hpp"

namespace parley::storage {

/// Column families. The names (to_string) are the RocksDB column family names.
enum class column : uint8_t {
  meta,          ///< store identity and schema version
  agents,        ///< agent id -> AgentRecord
  rooms,         ///< room id -> RoomRecord
  moderators,    ///< room id -> ModeratorRecord
  attention,     ///< agent id -> AttentionRecord
  messages,      ///< from \0 id -> MessageRecord
  message_index, ///< dialogue \0 time(8, big-endian) \0 from \0 id -> ""
  inbox,         ///< agent \0 seq(8, big-endian) -> from \0 id
  idempotency,   ///< from \0 id -> IdempotencyRecord
  events,        ///< offset(8, big-endian) -> EventRecord
};
inline constexpr int column_count = 10;

std::string_view to_string(column c) noexcept;

/// How a write is acknowledged.
enum class durability : uint8_t {
  /// Acknowledged after the batch is committed with fsync: survives a power
  /// loss. The daemon's default.
  sync,
  /// Committed to the write-ahead log without fsync: survives a crash of the
  /// process, not of the machine (the OS may lose its page cache).
  async,
  /// No disk at all: nothing survives the process.
  memory,
};

std::string_view to_string(durability d) noexcept;
expected<durability> parse_durability(std::string_view text);

/// A set of changes applied all or nothing.
class write_batch {
public:
  struct op {
    column col;
    bool erase = false;
    std::string key;
    std::string value;
  };

  void put(column c, std::string key, std::string value) {
    ops_.push_back({c, false, std::move(key), std::move(value)});
  }
  void erase(column c, std::string key) { ops_.push_back({c, true, std::move(key), {}}); }
  /// Appends all of `other` (group commit merges batches).
  void append(const write_batch& other) {
    ops_.insert(ops_.end(), other.ops_.begin(), other.ops_.end());
  }
  const std::vector<op>& ops() const noexcept { return ops_; }
  bool empty() const noexcept { return ops_.empty(); }
  size_t size() const noexcept { return ops_.size(); }
  void clear() noexcept { ops_.clear(); }

private:
  std::vector<op> ops_;
};

struct store_options {
  /// Directory of the store (created if missing and `create_if_missing`).
  std::string path;
  /// Default: sync.
  durability mode = durability::sync;
  /// Written into a new store; a store of another node still opens (a
  /// restored backup may be moved), the id is reported by node_id().
  std::string node_id = "node-1";
  /// Default: true.
  bool create_if_missing = true;
  /// Tests only: when set, file writes fail while faults->failing().
  /// Default: nullptr.
  std::shared_ptr<disk_faults> faults;
};

/// Called for each (key, value) in key order; return false to stop.
using scan_fn = std::function<bool(std::string_view key, std::string_view value)>;

class state_store {
public:
  virtual ~state_store() = default;

  /// Applies `b` atomically; with durability sync, fsync'ed before it
  /// returns. storage_failure if the disk refused; then nothing of `b` is
  /// visible. Thread-safe.
  virtual expected<void> write(const write_batch& b) = 0;

  /// The value at `key`, nullopt if absent. Thread-safe.
  virtual expected<std::optional<std::string>> get(column c, std::string_view key) const = 0;

  /// Visits keys that start with `prefix`, beginning at the first key >=
  /// `start` (empty: the first with the prefix), in ascending order.
  virtual expected<void> scan(column c, std::string_view prefix, std::string_view start,
                              const scan_fn& fn) const = 0;

  /// Visits keys with `prefix` from the last one backwards (newest first
  /// for big-endian time keys), beginning at the last key < `before`
  /// (empty: the last with the prefix).
  virtual expected<void> scan_reverse(column c, std::string_view prefix, std::string_view before,
                                      const scan_fn& fn) const = 0;

  /// Writes a consistent, openable copy of the store into `dir` (which must
  /// not exist). Thread-safe with writers.
  virtual expected<void> checkpoint(const std::string& dir) const = 0;

  virtual durability mode() const noexcept = 0;
  /// The node id recorded when the store was created.
  virtual const std::string& node_id() const noexcept = 0;
  /// Bytes on disk (SST + WAL), 0 for memory.
  virtual uint64_t disk_bytes() const = 0;
  /// About how many records column `c` holds (for sizing tables).
  virtual uint64_t estimate_count(column c) const = 0;
};

/// The schema version this build writes and the newest it reads.
inline constexpr uint32_t schema_version = 1;

/// Opens (or creates) a store per `opt.mode`: RocksDB for sync and async,
/// memory for memory. Refuses, writing nothing: a directory that is not a
/// Parley store (it has files but no Parley meta record), a store with a
/// newer schema version, and corrupted files (the error names the file).
expected<std::unique_ptr<state_store>> open_store(const store_options& opt);

/// Backups: `create_backup` adds a backup of the open store to `backup_dir`
/// (RocksDB BackupEngine, incremental); `verify_backups` checks every file's
/// size and checksum; `restore_latest_backup` writes the newest backup into
/// `db_dir` (which must not hold an open store).
expected<void> create_backup(const state_store& s, const std::string& backup_dir);
expected<void> verify_backups(const std::string& backup_dir);
expected<void> restore_latest_backup(const std::string& backup_dir, const std::string& db_dir);

} // namespace parley::storage
