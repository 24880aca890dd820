#pragma once

// Where a subscription across a network stands: per node, the offset of the
// next event wanted from that node's log. There is no order across nodes
// (each node numbers its own events), so a position in the whole network is
// one offset per node. Clients hold it as an opaque resume token.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "parley/error.hpp"

namespace parley {

class event_cursor {
public:
  /// The event of `node` at offset `seq` was handed out.
  void passed(const std::string& node, uint64_t seq) { next_[node] = seq + 1; }
  /// Sets where `node` stands (next offset wanted).
  void set(const std::string& node, uint64_t next) { next_[node] = next; }
  /// The next offset wanted from `node`, if the cursor names it.
  std::optional<uint64_t> next(const std::string& node) const;
  const std::map<std::string, uint64_t>& positions() const noexcept { return next_; }

  /// The token: "1|node=offset,node=offset" (node ids never hold '=' or
  /// ','); clients treat it as opaque.
  std::string token() const;
  /// invalid_argument with the reason for anything token() did not make.
  static expected<event_cursor> parse(std::string_view token);

  friend bool operator==(const event_cursor&, const event_cursor&) = default;

private:
  std::map<std::string, uint64_t> next_;
};

} // namespace parley
