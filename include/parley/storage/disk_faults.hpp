#pragma once

#include <atomic>
#include <cstdint>
#include <chrono>
#include <thread>

namespace parley::storage {

/// Switches that make a store's file writes fail with an I/O error, for
/// tests of the failure paths (disk full, dying disk, a sync that fails
/// after the data was appended). Thread-safe.
class disk_faults {
public:
  /// Every write, sync and file creation fails while on.
  void fail_writes(bool on) noexcept { fail_.store(on); }
  bool failing() const noexcept { return fail_.load(); }
  /// Syncs (fsync) fail while on; appends still succeed: the data reaches
  /// the file (the page cache) but the store cannot tell it is durable.
  void fail_syncs(bool on) noexcept { fail_syncs_.store(on); }
  /// The next `n` syncs fail, then syncs work again.
  void fail_next_syncs(int n) noexcept { next_syncs_.store(n); }
  /// Whether the sync about to run fails (counts down fail_next_syncs).
  bool sync_fails() noexcept {
    if (fail_.load() || fail_syncs_.load())
      return true;
    int n = next_syncs_.load();
    while (n > 0)
      if (next_syncs_.compare_exchange_weak(n, n - 1))
        return true;
    return false;
  }

  /// Every sync first waits `d` (a slow disk: calls stay in flight).
  void slow_syncs(std::chrono::milliseconds d) noexcept { sync_delay_ms_.store(d.count()); }
  /// Waits as slow_syncs says (called by the store before each sync).
  void before_sync() const {
    if (auto ms = sync_delay_ms_.load(); ms > 0)
      std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  }

private:
  std::atomic<bool> fail_{false};
  std::atomic<int64_t> sync_delay_ms_{0};
  std::atomic<bool> fail_syncs_{false};
  std::atomic<int> next_syncs_{0};
};

} // namespace parley::storage
