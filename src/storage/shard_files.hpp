#pragma once

// Helpers both stores use to export and import shards (shard_files.cpp).

#include <string>
#include <vector>

#include "parley/storage/state_store.hpp"

namespace parley::storage {

/// Each file names a sharded family once and has the size and checksum it
/// was exported with.
expected<void> check_shard_files(const std::vector<shard_file>& files);
/// Creates `dir` if needed; failed_precondition if it holds anything.
expected<void> empty_dir_for_export(const std::string& dir);

} // namespace parley::storage
