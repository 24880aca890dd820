#pragma once

#include <cstdint>
#include <string_view>

#include "parley/error.hpp"

namespace parley {

/// How a node acknowledges a change.
enum class durability : uint8_t {
  /// Acknowledged after the change is committed with fsync: survives a
  /// power loss. The daemon's default.
  sync,
  /// Committed to the write-ahead log without fsync: survives a crash of the
  /// process, not of the machine (the OS may lose its page cache).
  async,
  /// No disk at all: nothing survives the process.
  memory,
};

std::string_view to_string(durability d) noexcept;
expected<durability> parse_durability(std::string_view text);

} // namespace parley
