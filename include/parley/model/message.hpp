#pragma once

#include <cstdint>
#include <string>

#include "parley/model/ids.hpp"

namespace parley {

enum class content_type : uint8_t { text, json };
enum class message_status : uint8_t { sent, delivered, read };

std::string_view to_string(content_type x) noexcept;
std::string_view to_string(message_status x) noexcept;
expected<content_type> parse_content_type(std::string_view text);
expected<message_status> parse_message_status(std::string_view text);

/// Where a message goes: one agent, or every member of a room.
struct address {
  enum class kind : uint8_t { agent, room };
  kind k = kind::agent;
  std::string id;

  static address agent(std::string id) { return {kind::agent, std::move(id)}; }
  static address room(std::string id) { return {kind::room, std::move(id)}; }
  bool is_room() const noexcept { return k == kind::room; }

  friend bool operator==(const address&, const address&) = default;
};

struct message {
  /// Unique per sender; (from, id) is the message's identity and later its
  /// idempotency key. Empty on send = the node assigns one.
  message_id id;
  agent_id from;
  address to;
  timestamp sent_at = 0;
  content_type type = content_type::text;
  std::string content;
  /// Id of the message (same dialogue) this answers; empty if none.
  message_id reply_to;
  message_status status = message_status::sent;
  /// Optional: answer before this time (attention treats it as urgent when
  /// it nears). 0 = none.
  timestamp deadline = 0;
  /// Ask the recipient for a read receipt; the sender's status of the
  /// message then moves to `read` when the recipient has served it.
  bool receipt = false;
  /// Number of this copy in the recipient's durable inbox (node-local,
  /// increasing across restarts); 0 when the node keeps no store. Set by
  /// the node on delivery, ignored on send.
  uint64_t delivery = 0;
  /// Length of the chain of automatic replies this message ends: 0 for a
  /// message nobody's behaviour wrote in answer to another, else the hops
  /// of the message it answers plus one. Set by the node; an automatic
  /// reply beyond the node's limit is not sent (two agents that answer
  /// everything cannot loop forever).
  uint32_t hops = 0;
  /// The content was erased on request (privacy law); `content` is empty.
  bool erased = false;

  friend bool operator==(const message&, const message&) = default;
};

/// Checks ids, content size and, for json, that the content is an object or
/// array that parses.
expected<void> validate(const message& m);

} // namespace parley
