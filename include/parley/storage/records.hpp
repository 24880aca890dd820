#pragma once

// Keys and record encodings of the store (docs/storage-format.md). Records
// are Protobuf messages of proto/parley/v1/storage.proto; these functions
// convert them from and to model values so that no generated type leaves
// the storage module. A decode failure is storage_failure naming the record.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "parley/behavior/behavior.hpp"
#include "parley/model/erasure.hpp"
#include "parley/model/event.hpp"
#include "parley/model/manifest.hpp"
#include "parley/model/message.hpp"
#include "parley/model/shard.hpp"
#include "parley/model/room.hpp"
#include "parley/model/turns.hpp"

namespace parley::storage {

// -- keys ---------------------------------------------------------------------
// Every key of an agent's or a room's data starts with its owner's shard
// (2 bytes, big-endian; parley/model/shard.hpp), so a shard is one key range
// in every column family. Layout and reasons: docs/storage-format.md.

/// 8 bytes big-endian, so that byte order is numeric order.
std::string u64_key(uint64_t x);
uint64_t parse_u64_key(std::string_view bytes) noexcept;

/// The first key of shard `s` in any sharded column family, and the first
/// key after it (the range [shard_begin(s), shard_begin(s + 1)) is the shard).
std::string shard_begin(uint32_t s);
/// The shard a sharded key belongs to.
shard_id shard_of_key(std::string_view key) noexcept;

/// agents, attention, erasures: shard agent.
std::string agent_key(std::string_view agent);
/// rooms, moderators: shard room.
std::string room_key(std::string_view room);
/// The agent or room id of an agent_key or room_key.
std::string_view owner_of_key(std::string_view key) noexcept;

/// members: shard(room) room \0 agent.
std::string member_key(std::string_view room, std::string_view agent);
std::string member_prefix(std::string_view room);

/// messages: shard(owner) kind owner \0 from \0 id, where kind is 'a' for a
/// direct message (owner: its recipient) and 'r' for a room message (owner:
/// the room). The record doubles as the send's idempotency record.
std::string message_key(const address& to, std::string_view from, std::string_view id);
struct message_key_parts {
  address to;
  std::string_view from;
  std::string_view id;
};
/// nullopt if `key` is not a message key. The parts view into `key`.
std::optional<message_key_parts> parse_message_key(std::string_view key);

/// inbox: shard(agent) agent \0 delivery(8) -> message key.
std::string inbox_key(std::string_view agent, uint64_t delivery);
/// inbox prefix of one agent: shard agent \0.
std::string inbox_prefix(std::string_view agent);

/// message_index, room messages: shard(room) 'r' room \0 time(8) from \0 id.
std::string room_index_prefix(std::string_view room);
/// message_index, direct messages: shard(to) 'a' to \0 from \0 time(8) id;
/// a dialogue's history merges its two directions.
std::string direct_index_prefix(std::string_view to, std::string_view from);
/// The index entry of message `m` (to, from, id, sent_at).
std::string index_key(const message& m);
struct index_entry {
  address to;
  std::string_view from;
  timestamp at = 0;
  std::string_view id;
};
/// nullopt if `key` is not an index key. The parts view into `key`.
std::optional<index_entry> parse_index_key(std::string_view key);

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

/// The first outcome of a send: what its message record says
/// (message_log.hpp: outcome_of_record).
/// Only sends that took effect are stored, so an outcome is a success.
struct send_outcome {
  message_status status = message_status::delivered;
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
std::string encode(const member_record& x);
std::string encode(const erasure_record& x);

expected<agent_record> decode_agent(std::string_view bytes);
expected<room_record> decode_room(std::string_view bytes);
expected<moderator_record> decode_moderator(std::string_view bytes);
expected<attention_record> decode_attention(std::string_view bytes);
expected<message> decode_message(std::string_view bytes);
expected<event> decode_event(std::string_view bytes);
expected<member_record> decode_member(std::string_view bytes);
expected<erasure_record> decode_erasure(std::string_view bytes);
/// Whether a stored message record's content was erased.
bool message_erased(std::string_view bytes);

} // namespace parley::storage
