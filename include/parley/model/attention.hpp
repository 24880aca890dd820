#pragma once

// The agent's attention: which of its dialogues with pending input it serves
// next, and the per-dialogue context it keeps while switching between them.
// Plain C++, single-threaded (owned by one agent actor), time passed in.

#include <cstdint>
#include <algorithm>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "parley/model/message.hpp"

namespace parley {

/// A dialogue: a direct conversation with one agent, or a room.
struct dialogue_key {
  enum class kind : uint8_t { direct, room };
  kind k = kind::direct;
  std::string id;

  static dialogue_key direct(std::string peer) { return {kind::direct, std::move(peer)}; }
  static dialogue_key room(std::string room) { return {kind::room, std::move(room)}; }

  friend bool operator==(const dialogue_key&, const dialogue_key&) = default;
};

/// "direct:<peer>" or "room:<id>".
std::string to_string(const dialogue_key& k);

/// The dialogue a message belongs to, seen by its receiver `self`.
dialogue_key dialogue_of(const message& m, std::string_view self);

/// The one place tokens are estimated: ceil(bytes / 4).
uint32_t estimate_tokens(std::string_view text) noexcept;

struct context_entry {
  enum class role : uint8_t { system, peer, self };
  role r = role::peer;
  agent_id from;
  std::string text;
  uint32_t tokens = 0;
};

/// A dialogue's recent history within a token budget. When the total passes
/// 90% of the budget, the oldest non-system entries are dropped until it is at
/// most 60%, always keeping the last 5 entries (and every system entry). An
/// entry larger than a fifth of the budget is cut to that size on the way in
/// (marked "[truncated]"), so the 5 kept entries never exceed the budget.
class dialogue_context {
public:
  static constexpr size_t keep_last = 5;
  static constexpr std::string_view truncation_mark = " [truncated]";

  explicit dialogue_context(uint32_t budget_tokens = 4096) : budget_(budget_tokens) {}

  /// Appends (estimating tokens when e.tokens == 0; truncating an entry
  /// over budget / keep_last tokens) and trims.
  void add(context_entry e);
  /// The most tokens one entry may have.
  uint32_t max_entry_tokens() const noexcept {
    return std::max<uint32_t>(1, budget_ / static_cast<uint32_t>(keep_last));
  }

  const std::deque<context_entry>& entries() const noexcept { return entries_; }
  uint32_t tokens() const noexcept { return tokens_; }
  uint32_t budget() const noexcept { return budget_; }

private:
  void trim();

  std::deque<context_entry> entries_;
  uint32_t tokens_ = 0;
  uint32_t budget_;
};

enum class attention_policy : uint8_t {
  /// Urgent deadlines first, then the highest score, where
  /// score = w_i * importance + w_r * relationship + aging * seconds waited.
  strict_priority,
  /// Urgent deadlines first, then smooth weighted round robin with weight
  /// w_i * importance + w_r * relationship (every pending dialogue is served
  /// in proportion to its weight, so none starves).
  weighted_round_robin,
};

std::string_view to_string(attention_policy p) noexcept;
expected<attention_policy> parse_attention_policy(std::string_view text);

/// Knobs shared by many agents (agents hold a pointer: they cost memory).
struct attention_params {
  attention_policy policy = attention_policy::strict_priority;
  /// Weight of the dialogue's importance. Default: 1.
  double importance_weight = 1.0;
  /// Weight of the relationship with the sender. Default: 1.
  double relationship_weight = 1.0;
  /// Score gained per second of waiting; > 0 means no dialogue starves.
  /// Default: 1.
  double aging_per_second = 1.0;
  /// A pending input whose deadline is this close (or past) is served first,
  /// earliest deadline first. Default: 5000 ms.
  int64_t urgent_window_ms = 5000;
  /// Token budget of each dialogue's context. Default: 4096.
  uint32_t context_budget_tokens = 4096;
  /// Total pending inputs over all dialogues (the inbox). Default: 1024.
  uint32_t inbox_limit = 1024;
  /// Dialogues kept without pending input (their context and knobs) before
  /// the least recently active are forgotten; dialogues with a knob set
  /// (importance) are kept. Bounds what a stream of new peers costs.
  /// Default: 64.
  uint32_t max_idle_dialogues = 64;
};

/// What the agent serves next: one dialogue and all its pending input.
struct attention_batch {
  dialogue_key key;
  std::vector<message> inputs;
  dialogue_context* context = nullptr; // owned by the queue; valid until next call
};

class attention_queue {
public:
  explicit attention_queue(const attention_params* params) : params_(params) {}

  /// Importance of a dialogue (default 1). Applies from the next push.
  void set_importance(const dialogue_key& k, double w);
  /// Relationship weight with a peer (default 0).
  void set_relationship(std::string_view peer, double w);
  double relationship(std::string_view peer) const noexcept;

  /// Queues `m` for dialogue `k`. Fails with `overloaded` when the inbox is
  /// full or a new dialogue would exceed `capacity` concurrent dialogues.
  /// Nothing changes on failure, and `m` is moved from only on success.
  expected<void> push(const dialogue_key& k, message&& m, timestamp now, uint32_t capacity);
  /// Whether push(k, ..., capacity) would succeed now.
  expected<void> can_push(const dialogue_key& k, uint32_t capacity) const;

  /// Picks the next dialogue per the policy and hands out its pending input.
  /// nullopt when nothing is pending.
  std::optional<attention_batch> pop(timestamp now);

  /// Total pending inputs (the inbox size).
  size_t pending() const noexcept { return pending_; }
  bool empty() const noexcept { return pending_ == 0; }
  /// Dialogues that have pending input.
  size_t active_dialogues() const noexcept { return active_; }

  /// The dialogue served last, or nullptr before the first pop.
  const dialogue_key* focus() const noexcept;

  /// Context of `k`, created on first use.
  dialogue_context& context(const dialogue_key& k);
  /// Dialogues held (with and without pending input).
  size_t dialogues() const noexcept { return dialogues_.size(); }

private:
  struct dialogue {
    dialogue_key key;
    double importance = 1.0;
    std::vector<message> inputs;
    timestamp pending_since = 0;
    timestamp deadline = 0;
    double weight = 0; // fixed while pending
    double wrr_current = 0;
    uint64_t version = 0; // bumps when leaving/entering the pending set
    uint64_t last_active = 0; // touch_ at the last use (LRU order)
    dialogue_context context;
  };
  struct heap_entry {
    double key; // primary: larger first (strict) / smaller first (deadline)
    int64_t tie; // earlier first
    uint32_t index;
    uint64_t version;
  };

  std::optional<uint32_t> find(const dialogue_key& k) const;
  uint32_t find_or_add(const dialogue_key& k);
  /// Adds `k`, which find() did not find.
  uint32_t add(const dialogue_key& k);
  expected<void> check_push(bool was_idle, uint32_t capacity) const;
  double weight_of(const dialogue& d, std::string_view sender) const;
  std::optional<uint32_t> pick_urgent(timestamp now);
  std::optional<uint32_t> pick_strict();
  std::optional<uint32_t> pick_wrr();
  bool stale(const heap_entry& e) const;
  /// Forgets the least recently active idle dialogues beyond the limit.
  void evict_idle();

  const attention_params* params_;
  std::vector<dialogue> dialogues_;
  std::vector<heap_entry> score_heap_;    // strict policy, max-heap
  std::vector<heap_entry> deadline_heap_; // min-heap on deadline
  std::vector<std::pair<std::string, double>> relationships_;
  size_t pending_ = 0;
  uint32_t active_ = 0;
  int32_t focus_ = -1;
  int64_t push_seq_ = 0;
  uint64_t touch_ = 0;
};

} // namespace parley
