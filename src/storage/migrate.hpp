#pragma once

// Migrations between schema versions that go through the store's own
// interface (docs/storage-format.md, "Schema versions").

#include <string>

#include "parley/storage/state_store.hpp"

namespace parley::storage {

/// Rewrites a schema 2 store into schema 3: every key gets its owner's
/// shard, messages move under their recipient or room, the history index is
/// rebuilt from the messages, inbox entries point at the new message keys.
/// Writes in chunks; the last batch removes every schema 2 key and puts
/// `meta_v3` (the store's meta record with version 3), so a crash midway
/// leaves a schema 2 store that migrates again from the start. Schema 2
/// keys start with an id character (>= '-'), schema 3 keys with a shard
/// (< 0x04): both can be in a family at once without meeting.
expected<void> migrate_v2(state_store& s, const std::string& meta_v3);

} // namespace parley::storage
