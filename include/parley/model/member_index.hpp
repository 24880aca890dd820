#pragma once

// Finds a room member's position in the room's member list (join order)
// without a second copy of every id: an open-addressing table of positions,
// 8 bytes per member at most. A node holds millions of memberships, and a
// node-based map of id to position cost ~72 bytes each.

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "parley/model/room.hpp"

namespace parley {

class member_index {
public:
  /// Indexes every member of `members` (after any change but an append).
  void rebuild(const std::vector<room_member>& members);
  /// Indexes members[pos], just appended.
  void add(const std::vector<room_member>& members, size_t pos);
  /// Position of `id` in `members`, the list this index was built for.
  std::optional<size_t> find(const std::vector<room_member>& members, std::string_view id) const;

private:
  static constexpr uint32_t empty = UINT32_MAX;
  void place(const std::vector<room_member>& members, uint32_t pos);
  std::vector<uint32_t> slots_;
  size_t size_ = 0;
};

} // namespace parley
