#pragma once

#include <cstdint>

#include "parley/node/node.hpp"

namespace parleyd {

struct demo_options {
  /// Chatty agents. Default: 36.
  uint32_t agents = 36;
  /// Group rooms (policies cycle fifo, round_robin, priority, random).
  /// Default: 6.
  uint32_t group_rooms = 6;
  /// Direct rooms between random pairs. Default: 12.
  uint32_t direct_rooms = 12;
  /// Seed for the population and the driver. Default: 42.
  uint64_t seed = 42;
};

/// Builds the demo population on `n`: chatty agents with realistic
/// manifests, group rooms under moderators and direct rooms.
parley::expected<void> build_demo(parley::node& n, const demo_options& opt);

} // namespace parleyd
