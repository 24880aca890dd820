#pragma once

// Keys and record encodings of the store (docs/storage-format.md). Records
// are Protobuf messages of proto/parley/v1/storage.proto; these functions
// convert them from and to model values so that no generated type leaves
// the storage module. A decode failure is storage_failure naming the record.

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "parley/behavior/behavior.hpp"
#include "parley/model/erasure.hpp"
#include "parley/model/event.hpp"
#include "parley/model/manifest.hpp"
#include "parley/model/message.hpp"
#include "parley/model/room.hpp"
#include "parley/model/turns.hpp"

namespace parley::storage {

// -- keys ---------------------------------------------------------------------

/// 8 bytes big-endian, so that byte order is numeric order.
std::string u64_key(uint64_t x);
uint64_t parse_u64_key(std::string_view bytes) noexcept;

/// messages, idempotency: from \0 id.
std::string message_key(std::string_view from, std::string_view id);
/// inbox: agent \0 seq.
std::string inbox_key(std::string_view agent, uint64_t seq);
/// inbox prefix of one agent: agent \0.
std::string inbox_prefix(std::string_view agent);
/// message_index: dialogue \0 time \0 from \0 id; dialogue is "room:<id>"
/// or "direct:<a>|<b>" with a < b.
std::string index_key(std::string_view dialogue, timestamp t, std::string_view from,
                      std::string_view id);
std::string index_prefix(std::string_view dialogue);
std::string direct_dialogue(std::string_view a, std::string_view b);
/// members: room \0 agent.
std::string member_key(std::string_view room, std::string_view agent);
std::string member_prefix(std::string_view room);

// -- records ------------------------------------------------------------------

struct agent_record {
  manifest man;
  behavior_spec behavior;
  uint64_t next_message = 1;

  friend bool operator==(const agent_record&, const agent_record&) = default;
};

/// A room as stored: the rooms column holds the room without its members
/// (encode() writes none); members and invitations are member_records.
/// decode_room() still reads the members and invitations of schema 1
/// records, for the migration.
struct room_record {
  room r;
  std::map<agent_id, room_role> invitations;

  friend bool operator==(const room_record&, const room_record&) = default;
};

/// One member of a room, or a pending invitation (members/<room>\0<agent>).
struct member_record {
  room_role role = room_role::member;
  timestamp joined_at = 0;
  /// Join order within the room.
  uint64_t position = 0;
  bool invited = false;

  friend bool operator==(const member_record&, const member_record&) = default;
};

/// The tombstone of an erasure of an agent's personal data.
using erasure_record = erasure;

/// The first outcome of a send, kept under its idempotency key.
struct send_outcome {
  bool ok = true;
  message_status status = message_status::delivered;
  error err;
  timestamp at = 0;

  friend bool operator==(const send_outcome&, const send_outcome&) = default;
};

/// A room moderator's turn state.
using moderator_record = turn_scheduler::snapshot;

/// The attention knobs an agent was given: importance per dialogue (keys
/// "direct:<peer>" / "room:<id>") and relationship weight per peer.
struct attention_record {
  std::map<std::string, double> importance;
  std::map<agent_id, double> relationships;

  friend bool operator==(const attention_record&, const attention_record&) = default;
};

std::string encode(const agent_record& x);
std::string encode(const moderator_record& x);
std::string encode(const attention_record& x);
std::string encode(const room_record& x);
std::string encode(const message& x);
std::string encode(const event& x);
std::string encode(const send_outcome& x);
std::string encode(const member_record& x);
std::string encode(const erasure_record& x);

expected<agent_record> decode_agent(std::string_view bytes);
expected<room_record> decode_room(std::string_view bytes);
expected<moderator_record> decode_moderator(std::string_view bytes);
expected<attention_record> decode_attention(std::string_view bytes);
expected<message> decode_message(std::string_view bytes);
expected<event> decode_event(std::string_view bytes);
expected<send_outcome> decode_outcome(std::string_view bytes);
expected<member_record> decode_member(std::string_view bytes);
expected<erasure_record> decode_erasure(std::string_view bytes);
/// Whether a stored message record's content was erased.
bool message_erased(std::string_view bytes);

} // namespace parley::storage
