#pragma once

// Where an agent's or a room's data lives: a fixed number of virtual shards,
// each one contiguous key range in every column family of the store
// (docs/storage-format.md), so that federation can move a shard between
// nodes as a range (docs/federation.md). The hash is part of the storage
// format: changing it, or shard_count, is a schema change.

#include <cstdint>
#include <string_view>

namespace parley {

using shard_id = uint16_t;

/// Virtual shards of the network (about 10x the largest cluster planned).
inline constexpr uint32_t shard_count = 1024;

/// The shard of an agent or room id: xxHash64 (seed 0) of its bytes, modulo
/// shard_count. Stable across builds, platforms and runs (never std::hash).
shard_id shard_of(std::string_view owner) noexcept;

} // namespace parley
