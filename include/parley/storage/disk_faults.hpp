#pragma once

#include <atomic>

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

private:
  std::atomic<bool> fail_{false};
  std::atomic<bool> fail_syncs_{false};
  std::atomic<int> next_syncs_{0};
};

} // namespace parley::storage
