#include "parley/model/shard.hpp"

// Header-only (Debian's libxxhash-dev): no library to link.
#define XXH_INLINE_ALL
#include <xxhash.h>

namespace parley {

shard_id shard_of(std::string_view owner) noexcept {
  return static_cast<shard_id>(XXH64(owner.data(), owner.size(), 0) % shard_count);
}

} // namespace parley
