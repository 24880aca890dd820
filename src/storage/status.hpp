#pragma once

// The one place rocksdb::Status becomes a parley::error.

#include <string>

#include <rocksdb/status.h>

#include "parley/error.hpp"

namespace parley::storage {

/// storage_failure for I/O errors, corruption and the like, naming what was
/// being done; RocksDB's text names the file where it knows it.
inline error status_error(const rocksdb::Status& s, const std::string& doing) {
  std::string what = s.IsCorruption()  ? "corruption"
                     : s.IsNoSpace()   ? "disk full"
                     : s.IsIOError()   ? "I/O error"
                     : s.IsBusy()      ? "busy (locked by another process?)"
                                       : "failure";
  return error{errc::storage_failure, "storage " + what + " during " + doing + ": " + s.ToString()};
}

} // namespace parley::storage
