#pragma once

// Durable messages: what one accepted message writes (its record, which is
// also its idempotency record, its history index entry and inbox entries,
// all in the caller's batch), and the queries over them (history pages, an
// agent's inbox, the outcome of a send under its idempotency key). Layout:
// docs/storage-format.md.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "parley/model/history.hpp"
#include "parley/model/message.hpp"
#include "parley/storage/records.hpp"
#include "parley/storage/state_store.hpp"

namespace parley::storage {

/// Adds to `b` the writes that make `m` durable: its record (which is
/// also its idempotency record), its history index entry and an inbox entry
/// numbered `delivery` for each of `recipients`.
void add_message(write_batch& b, const message& m, const std::vector<agent_id>& recipients,
                 uint64_t delivery);

/// Makes `b` (which holds add_message of `m`) apply only if m's key (to,
/// from, id) holds no message sent at or after `not_before` (older ones are
/// past the idempotency window: the send is a new message).
void guard_idempotency(write_batch& b, const message& m, timestamp not_before);

/// The first outcome of a send, as its stored message record says.
expected<send_outcome> outcome_of_record(std::string_view record);

/// Adds the removal of `agent`'s inbox entry `delivery` (served or refused).
void add_inbox_removal(write_batch& b, std::string_view agent, uint64_t delivery);

/// The recorded outcome of the send stored under `key` (message_key), if
/// that send took effect.
expected<std::optional<send_outcome>> find_outcome(const state_store& s, std::string_view key);

using parley::history_page;
using parley::history_query;
using parley::max_page_size;

/// A page of room `room`'s history. invalid_argument for a bad limit or a
/// cursor of another dialogue.
expected<history_page> read_room_history(const state_store& s, std::string_view room,
                                         const history_query& q);
/// A page of the direct dialogue of `a` and `b` (both directions merged in
/// time order).
expected<history_page> read_direct_history(const state_store& s, std::string_view a,
                                           std::string_view b, const history_query& q);
/// The cursor of the direct dialogue of `a` and `b` that continues after
/// message `m` (in either direction). A cursor is a position in the
/// dialogue, not in one store: pages read from two stores (the two halves
/// of a pair split over two nodes) merge and go on from one cursor.
std::string direct_history_cursor(std::string_view a, std::string_view b, const message& m);

/// Up to `limit` undelivered-or-unread messages of `agent`, oldest first,
/// each with its delivery number.
expected<std::vector<message>> read_inbox(const state_store& s, std::string_view agent,
                                          size_t limit);

/// The inbox entries of `agent` with these delivery numbers, in that order,
/// each with its message; numbers no longer stored are skipped.
expected<std::vector<message>> load_inbox_entries(const state_store& s, std::string_view agent,
                                                  const std::vector<uint64_t>& deliveries);

/// Visits every inbox entry of the store (with keys starting with `prefix`:
/// one shard's) in (agent, delivery) order with its message; stops at the first failure. An entry whose message is not
/// stored goes to `orphan` (a sentence naming it) instead. Returns the
/// highest delivery number seen (0 if none).
using inbox_visit = std::function<expected<void>(const agent_id& agent, message m)>;
expected<uint64_t> scan_inboxes(const state_store& s, const inbox_visit& visit,
                                const std::function<void(const std::string&)>& orphan = {},
                                std::string_view prefix = {});

/// Visits every stored message sent by `from` (its key and record), for an
/// erasure. Messages are stored under their recipient or room, so this
/// reads the whole messages family: slow, and only erasures need it.
expected<void> scan_sent_messages(const state_store& s, std::string_view from, const scan_fn& fn);

} // namespace parley::storage
