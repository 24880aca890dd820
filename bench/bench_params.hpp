#pragma once

// Sizes shared by a Parley figure and its raw baseline (CAF or RocksDB), so
// that both sides of a ratio measure the same shape of work.

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

namespace bench {

/// CAF worker threads, for raw CAF and Parley alike (= cores here).
inline constexpr unsigned scheduler_threads = 2;

/// Figures 1 and 2: agents (or raw actors) in one process.
inline constexpr uint64_t agents_full = 1'000'000;
inline constexpr uint64_t agents_quick = 100'000;
/// Figure 1: rooms the population is spread over (2 per agent).
inline constexpr uint64_t population_rooms = 1000;
inline constexpr uint64_t skill_catalogue = 50;

/// Figure 3: agents in random pairs, and messages in flight per pair.
inline constexpr uint64_t pair_agents = 10'000;
inline constexpr uint32_t balls_per_pair = 4;

/// Figure 4: members of the one room (the speaker included), and room
/// messages per window (a member never has more than this pending, far
/// below the inbox limit of 1024).
inline constexpr uint64_t room_members = 1000;
inline constexpr uint32_t fanout_window = 100;

/// Figure 5: rooms of 2 agents turning in parallel (raw: actor pairs).
inline constexpr uint64_t turn_rooms = 1000;

/// Measured time of the throughput figures, after a warm-up.
inline constexpr double seconds_full = 5.0;
inline constexpr double seconds_quick = 1.0;
inline constexpr double warmup_s = 0.5;

/// Payloads (a short chat line).
inline constexpr std::string_view direct_content = "ping: how is the plan coming along?";
inline constexpr std::string_view room_content = "status update: the draft is ready for review";

// -- storage figures (storage_bench, raw_rocksdb) ------------------------------

/// Agents of the node in the message throughput and latency figures (all
/// silent: they serve what they receive and answer nothing).
inline constexpr uint64_t storage_agents = 1000;
/// Client threads calling node::send concurrently, each as its own sender
/// agent, one send in flight each.
inline constexpr unsigned storage_senders = 64;
/// Raw RocksDB baselines: records per WriteBatch.
inline constexpr size_t raw_sync_batch = 1000;
inline constexpr size_t raw_async_batch = 100;
/// Raw single-record synced writes timed for the latency baseline.
inline constexpr uint64_t fsync_samples_full = 3000;
inline constexpr uint64_t fsync_samples_quick = 1000;
/// Recovery: the store the node restarts from. One message in
/// `recovery_inbox_every` is still in its recipient's inbox (redelivered).
inline constexpr uint64_t recovery_agents_full = 1'000'000;
inline constexpr uint64_t recovery_agents_quick = 100'000;
inline constexpr uint64_t recovery_messages_full = 10'000'000;
inline constexpr uint64_t recovery_messages_quick = 1'000'000;
inline constexpr uint64_t recovery_inbox_every = 1000;
/// Bytes on disk: messages sent through a node (and raw records written).
inline constexpr uint64_t bytes_messages_full = 300'000;
inline constexpr uint64_t bytes_messages_quick = 100'000;

/// A message's content: ~100 bytes of chat text, different per message
/// (words drawn by a hash of `i`), so that compression sees realistic text.
inline constexpr size_t message_content_bytes = 96;
inline std::string message_content(uint64_t i) {
  static constexpr std::string_view words[] = {
    "the",     "draft",    "plan",    "is",      "ready",    "for",     "review",  "please",
    "check",   "numbers",  "in",      "section", "two",      "and",     "send",    "your",
    "notes",   "by",       "friday",  "we",      "moved",    "meeting", "to",      "monday",
    "budget",  "looks",    "fine",    "but",     "timeline", "tight",   "can",     "you",
    "summary", "of",       "thread",  "agreed",  "next",     "steps",   "owner",   "status",
    "update",  "blocked",  "on",      "data",    "from",     "team",    "sources", "question",
    "about",   "scope",    "risk",    "low",     "high",     "done",    "shipped", "tests",
    "pass",    "failing",  "again",   "after",   "merge",    "thanks",  "ok",      "sure"};
  uint64_t x = i * 0x9e3779b97f4a7c15ULL + 0x632be59bd9b4e019ULL;
  std::string out;
  out.reserve(message_content_bytes + 16);
  while (out.size() < message_content_bytes) {
    x ^= x >> 31;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 29;
    out.append(words[x % std::size(words)]);
    out.push_back(' ');
  }
  out.resize(message_content_bytes);
  return out;
}

/// Size of a message's stored record (the messages column value,
/// storage::encode of a direct message with the content above, as the node
/// stores it: delivered, with its delivery number) and of its key
/// (from \0 id). The raw RocksDB baselines write records of these sizes;
/// storage_bench measures the real ones and prints them in its notes.
inline constexpr size_t message_record_bytes = 171;
inline constexpr size_t message_key_bytes = 24;

// -- API figures (api_bench, raw_grpc) ---------------------------------------------

/// Unary Send with many clients: client threads, each with its own
/// connection, calling one after the other (thread t from agent 2t to
/// agent 2t+1).
inline constexpr unsigned api_unary_clients = 16;

/// Link throughput: external agents, each pushing send_batch over its own
/// link on its own connection (raw: one stream per client), batches of
/// `api_batch` messages, `api_batches_in_flight` of them written and not
/// yet answered per link (the link answers in order, one result per
/// message).
inline constexpr unsigned api_link_clients = 2;
inline constexpr size_t api_batch = 1000;
inline constexpr unsigned api_batches_in_flight = 4;
/// Silent node-hosted agents the link batches go to (round robin).
inline constexpr uint64_t api_recipients = 1000;
/// Batches built before the clock starts, cycled (ids empty: the node
/// picks them), and distinct message texts (message_content(0..n-1)).
inline constexpr size_t api_prebuilt_batches = 8;
inline constexpr uint64_t api_contents = 64;
/// Those texts, built once per process.
inline const std::vector<std::string>& api_texts() {
  static const std::vector<std::string> texts = [] {
    std::vector<std::string> out;
    for (uint64_t i = 0; i < api_contents; ++i)
      out.push_back(message_content(i));
    return out;
  }();
  return texts;
}
/// Credit window of the round-trip figure's links (never runs out).
inline constexpr uint32_t api_rtt_credit = 1'000'000;

} // namespace bench
