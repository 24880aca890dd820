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
#include <utility>
#include <vector>

#include "parley/error.hpp"
#include "parley/model/durability.hpp"
#include "parley/storage/disk_faults.hpp"

namespace parley::storage {

/// Column families. The names (to_string) are the RocksDB column family names.
/// Column families. The names (to_string) are the RocksDB column family
/// names. Keys of every family but meta and events start with the owning
/// agent's or room's shard (records.hpp).
enum class column : uint8_t {
  meta,          ///< store identity and schema version
  agents,        ///< agent -> AgentRecord
  rooms,         ///< room -> RoomRecord (without its members)
  moderators,    ///< room -> ModeratorRecord
  attention,     ///< agent -> AttentionRecord
  messages,      ///< kind owner \0 from \0 id -> MessageRecord (also the idempotency record)
  message_index, ///< history order of a dialogue -> ""
  inbox,         ///< agent \0 delivery(8, big-endian) -> message key
  events,        ///< offset(8, big-endian) -> EventRecord (node-wide, not sharded)
  members,       ///< room \0 agent -> MemberRecord (a member or an invitation)
  erasures,      ///< agent -> ErasureRecord (tombstone of an erasure)
  outbox,        ///< seq(8, big-endian) -> OutboxRecord (node-wide, not sharded)
};
inline constexpr int column_count = 12;

std::string_view to_string(column c) noexcept;

/// How a write is acknowledged (parley/model/durability.hpp).
using parley::durability;
using parley::parse_durability;

/// A set of changes applied all or nothing.
class write_batch {
public:
  struct op {
    column col;
    bool erase = false;
    std::string key;
    /// The value of a put; the end key (exclusive) of a range erase.
    std::string value;
    /// Erases every key in [key, value).
    bool range = false;
  };
  /// A read-modify-write: given the key's current value (nullopt: absent),
  /// returns the new one (nullopt: delete).
  using update_fn = std::function<std::optional<std::string>(const std::optional<std::string>&)>;
  struct update {
    column col;
    std::string key;
    update_fn fn;
  };
  struct guard {
    column col;
    std::string key;
    /// Whether a value found counts (nullptr: any value does).
    std::function<bool(std::string_view)> counts;
  };

  void put(column c, std::string key, std::string value) {
    ops_.push_back({c, false, std::move(key), std::move(value)});
  }
  void erase(column c, std::string key) { ops_.push_back({c, true, std::move(key), {}}); }
  /// Erases every key from `begin` (inclusive) to `end` (exclusive).
  void erase_range(column c, std::string begin, std::string end) {
    ops_.push_back({c, true, std::move(begin), std::move(end), true});
  }
  /// Read-modify-write of one record, done by the node's storage writer (on
  /// its own thread, serialized with every other write, seeing the batches
  /// committed before this one), after this batch's puts and erases. Lets an
  /// actor change part of a record without reading it on a scheduler thread.
  void modify(column c, std::string key, update_fn fn) {
    updates_.push_back({c, std::move(key), std::move(fn)});
  }
  /// Writes the batch only if `key` is absent from `c` at commit time (the
  /// storage writer checks; an idempotency key, say). Otherwise nothing of
  /// the batch is written and the commit answers the value found.
  /// `counts`, when set, says whether a value found counts (an expired
  /// idempotency record does not).
  void require_absent(column c, std::string key, std::function<bool(std::string_view)> counts = {}) {
    guard_ = guard{c, std::move(key), std::move(counts)};
  }

  /// Appends the puts and erases of `other` (group commit merges batches).
  void append(const write_batch& other) {
    ops_.insert(ops_.end(), other.ops_.begin(), other.ops_.end());
  }
  /// The same, moving the keys and values instead of copying them.
  void append(write_batch&& other) {
    if (ops_.empty()) {
      ops_ = std::move(other.ops_);
      return;
    }
    ops_.insert(ops_.end(), std::make_move_iterator(other.ops_.begin()),
                std::make_move_iterator(other.ops_.end()));
  }
  const std::vector<op>& ops() const noexcept { return ops_; }
  const std::vector<update>& updates() const noexcept { return updates_; }
  const std::optional<guard>& precondition() const noexcept { return guard_; }
  /// Turns the updates into puts and erases (the writer does this with the
  /// current values); what remains is a plain batch.
  std::vector<update> take_updates() noexcept { return std::exchange(updates_, {}); }
  void clear_precondition() noexcept { guard_.reset(); }
  bool empty() const noexcept { return ops_.empty() && updates_.empty(); }
  size_t size() const noexcept { return ops_.size() + updates_.size(); }
  void clear() noexcept {
    ops_.clear();
    updates_.clear();
    guard_.reset();
  }

private:
  std::vector<op> ops_;
  std::vector<update> updates_;
  std::optional<guard> guard_;
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

/// One file of a shard exported for a move: every key of the shard in one
/// column family (an SST file on RocksDB), with its size and xxHash64 so
/// that the receiving node can check what arrived.
struct shard_file {
  column col = column::agents;
  std::string path;
  uint64_t size = 0;
  uint64_t checksum = 0;
};

/// xxHash64 of a file's bytes; storage_failure if it cannot be read.
expected<uint64_t> file_checksum(const std::string& path);

/// Is `c` sharded (its keys start with a shard), so a shard move carries it?
bool is_sharded(column c) noexcept;

/// Called for each (key, value) in key order; return false to stop.
using scan_fn = std::function<bool(std::string_view key, std::string_view value)>;

class state_store {
public:
  virtual ~state_store() = default;

  /// Applies the puts and erases of `b` atomically (updates and the
  /// precondition are the storage writer's: see write_batch); with
  /// durability sync, fsync'ed before it returns. storage_failure if the
  /// disk refused and nothing of `b` is stored (certain: a write that failed
  /// after its log record was appended is resolved by reopening the store
  /// before answering); deadline_exceeded when that cannot be told (the disk
  /// still refuses after a partial write). Thread-safe.
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
  /// Rewrites the store's files so that deleted and overwritten data leaves
  /// the disk (after an erasure: RocksDB otherwise keeps old versions in its
  /// files and write-ahead log until compaction). Slow; thread-safe.
  virtual expected<void> compact() = 0;

  /// Writes every key of shard `s` (all sharded column families, one
  /// consistent view) into files in `dir` (created; must be empty), one per
  /// family that has keys. The messages file also holds the room posts of
  /// other shards that the shard's inbox entries name (a post is stored
  /// under its room's shard), so the entries still resolve where the shard
  /// goes. Thread-safe with writers.
  virtual expected<std::vector<shard_file>> export_shard(uint32_t s, const std::string& dir) const = 0;
  /// Replaces every key of shard `s` with the contents of `files` (from
  /// export_shard), all families at once: either all of it is in the store
  /// afterwards or nothing changed. Checks each file's size and checksum
  /// first (storage_failure, naming the family, when one does not match).
  /// The files are moved into the store (gone from their directory once it
  /// succeeded). Importing the same shard again (a resumed move) is harmless.
  virtual expected<void> import_shard(uint32_t s, const std::vector<shard_file>& files) = 0;
};

/// The schema version this build writes and the newest it reads. Older
/// stores (1: room members inside the room record; 2: keys without shards,
/// a separate idempotency family) are migrated on open.
inline constexpr uint32_t schema_version = 4;

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
