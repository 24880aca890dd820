#pragma once

#include <atomic>

namespace parley::storage {

/// A switch that makes a store's file writes fail with an I/O error, for
/// tests of the failure paths (disk full, dying disk). Thread-safe.
class disk_faults {
public:
  void fail_writes(bool on) noexcept { fail_.store(on); }
  bool failing() const noexcept { return fail_.load(); }

private:
  std::atomic<bool> fail_{false};
};

} // namespace parley::storage
