#pragma once

// The durable outbox: messages on their way to an agent of another node,
// kept in the `outbox` column family from before the sender is answered
// until the owner took them (docs/federation.md, "The durable outbox").
// Node-wide, not sharded: an entry stays with the node that sent it, and
// goes to whichever node owns its recipient when it is sent.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "parley/error.hpp"
#include "parley/model/message.hpp"
#include "parley/storage/state_store.hpp"

namespace parley::storage {

struct outbox_entry {
  enum class kind : uint8_t {
    /// A direct message `msg` for agent msg.to.
    direct,
    /// Room msg.to's post `msg` for its `members` on one other node.
    room_delivery,
  };
  /// The node's order of entries (the key): they are sent again in it.
  uint64_t seq = 0;
  kind what = kind::direct;
  message msg;
  std::vector<agent_id> members;

  friend bool operator==(const outbox_entry&, const outbox_entry&) = default;
};

/// The key of entry `seq` (8 bytes, big-endian: scans go in order).
std::string outbox_key(uint64_t seq);
std::string encode(const outbox_entry& x);
/// storage_failure when the record cannot be decoded.
expected<outbox_entry> decode_outbox(std::string_view key, std::string_view bytes);
/// Every entry of `store`, oldest first.
expected<std::vector<outbox_entry>> load_outbox(const state_store& store);

} // namespace parley::storage
