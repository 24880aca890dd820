#pragma once

// A real store for actor tests: RocksDB (sync) in a test's temp dir.

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "parley/storage/state_store.hpp"

namespace parley::test {

/// Opens a sync store in `dir` whose files obey `faults`; nullptr (and a
/// test failure) if it cannot.
inline std::unique_ptr<storage::state_store> open_test_store(const std::string& dir,
                                                             std::shared_ptr<storage::disk_faults> faults) {
  storage::store_options o;
  o.path = dir;
  o.mode = storage::durability::sync;
  o.faults = std::move(faults);
  auto s = storage::open_store(o);
  EXPECT_TRUE(s.has_value()) << to_string(s.error());
  return s ? std::move(*s) : nullptr;
}

} // namespace parley::test
