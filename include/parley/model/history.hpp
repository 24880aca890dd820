#pragma once

// Pages of a dialogue's messages (a room's, or a pair's direct messages),
// as the node's store keeps them.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "parley/model/message.hpp"

namespace parley {

/// Largest page a history or inbox query returns.
inline constexpr size_t max_page_size = 1000;

struct history_query {
  enum class order : uint8_t { newest_first, oldest_first };
  /// Default: newest_first.
  order direction = order::newest_first;
  /// Only messages sent at or after this time (ms since the epoch); 0 = all.
  timestamp since = 0;
  /// next_cursor of the previous page; empty = the first page.
  std::string cursor;
  /// 1 to max_page_size. Default: 50.
  size_t limit = 50;
};

struct history_page {
  std::vector<message> messages;
  /// Pass as cursor for the next page; empty when there is none.
  std::string next_cursor;
};

} // namespace parley
