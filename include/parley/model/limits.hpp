#pragma once

// Field limits, enforced by the validate_* functions in the model. They are
// part of the public contract (docs/architecture.md lists them), so change
// them only with a note in the docs.

#include <cstddef>
#include <cstdint>

namespace parley::limits {

/// Agent, room, skill and message ids: 1..128 chars of [A-Za-z0-9._:-].
inline constexpr size_t max_id_len = 128;
/// manifest.display_name: at most 128 bytes (UTF-8), may be empty.
inline constexpr size_t max_display_name = 128;
/// manifest.bio: at most 2 KiB.
inline constexpr size_t max_bio = 2048;
/// manifest.activities: at most 16 entries of at most 256 bytes each.
inline constexpr size_t max_activities = 16;
inline constexpr size_t max_activity_len = 256;
/// manifest.skills: at most 32 skills.
inline constexpr size_t max_skills = 32;
/// skill.name: at most 128 bytes; skill.description: at most 1 KiB.
inline constexpr size_t max_skill_name = 128;
inline constexpr size_t max_skill_description = 1024;
/// skill.tags: at most 16 tags of at most 64 bytes each.
inline constexpr size_t max_tags = 16;
inline constexpr size_t max_tag_len = 64;
/// manifest.capacity (max concurrent dialogues): 1..10000.
inline constexpr uint32_t max_capacity = 10000;
/// room.topic: at most 512 bytes.
inline constexpr size_t max_topic = 512;
/// Members of one room: at most 100000.
inline constexpr size_t max_members = 100000;
/// speaker_rules.turn_slot_ms: at most a day (a deadline must not overflow).
inline constexpr int64_t max_turn_slot_ms = 24LL * 3600 * 1000;
/// message.content: at most 64 KiB.
inline constexpr size_t max_content = 64 * 1024;

} // namespace parley::limits
