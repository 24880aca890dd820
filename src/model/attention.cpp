#include "parley/model/attention.hpp"

#include <algorithm>

#include "enum_names.hpp"

namespace parley {

namespace {

constexpr detail::enum_table<attention_policy, 2> policy_names{{
  {attention_policy::strict_priority, "strict_priority"},
  {attention_policy::weighted_round_robin, "weighted_round_robin"},
}};

// Smallest weight a pending dialogue gets under round robin, so that a
// dialogue with weight 0 (or negative knobs) is still served eventually.
constexpr double min_wrr_weight = 0.01;

} // namespace

std::string_view to_string(attention_policy p) noexcept {
  return detail::enum_name(policy_names, p);
}

expected<attention_policy> parse_attention_policy(std::string_view text) {
  return detail::enum_parse(policy_names, text, "attention policy");
}

std::string to_string(const dialogue_key& k) {
  std::string out = k.k == dialogue_key::kind::room ? "room:" : "direct:";
  out += k.id;
  return out;
}

dialogue_key dialogue_of(const message& m, std::string_view self) {
  if (m.to.is_room())
    return dialogue_key::room(m.to.id);
  // A direct message is filed under the other party.
  return dialogue_key::direct(m.from == self ? m.to.id : m.from);
}

uint32_t estimate_tokens(std::string_view text) noexcept {
  return static_cast<uint32_t>((text.size() + 3) / 4);
}

// -- dialogue_context ---------------------------------------------------------

void dialogue_context::add(context_entry e) {
  const uint32_t cap = max_entry_tokens();
  if (estimate_tokens(e.text) > cap) {
    // Whole bytes up to the cap, then back to a UTF-8 boundary so the cut
    // never splits a character.
    size_t keep = size_t{cap} * 4 > truncation_mark.size() ? size_t{cap} * 4 - truncation_mark.size() : 0;
    keep = std::min(keep, e.text.size());
    while (keep > 0 && (static_cast<unsigned char>(e.text[keep]) & 0xC0) == 0x80)
      --keep;
    e.text.resize(keep);
    e.text += truncation_mark;
    e.tokens = 0;
  }
  if (e.tokens == 0)
    e.tokens = estimate_tokens(e.text);
  // A count given by the caller is capped too.
  e.tokens = std::min(e.tokens, cap);
  tokens_ += e.tokens;
  entries_.push_back(std::move(e));
  trim();
}

void dialogue_context::trim() {
  // Integer maths: tokens > 0.9 * budget  <=>  10 * tokens > 9 * budget.
  if (uint64_t{tokens_} * 10 <= uint64_t{budget_} * 9)
    return;
  const uint64_t target = uint64_t{budget_} * 6; // compare against 10 * tokens
  // Only entries before the protected tail may go, oldest first.
  size_t i = 0;
  while (uint64_t{tokens_} * 10 > target && entries_.size() > keep_last
         && i < entries_.size() - keep_last) {
    if (entries_[i].r == context_entry::role::system) {
      ++i;
      continue;
    }
    tokens_ -= entries_[i].tokens;
    entries_.erase(entries_.begin() + static_cast<ptrdiff_t>(i));
  }
}

// -- attention_queue ----------------------------------------------------------

void attention_queue::set_importance(const dialogue_key& k, double w) {
  dialogues_[find_or_add(k)].importance = w;
}

void attention_queue::set_relationship(std::string_view peer, double w) {
  for (auto& [id, weight] : relationships_)
    if (id == peer) {
      weight = w;
      return;
    }
  relationships_.emplace_back(std::string{peer}, w);
}

double attention_queue::relationship(std::string_view peer) const noexcept {
  for (auto& [id, weight] : relationships_)
    if (id == peer)
      return weight;
  return 0.0;
}

std::optional<uint32_t> attention_queue::find(const dialogue_key& k) const {
  // Linear: an agent has few dialogues, and a vector costs nothing when idle.
  for (uint32_t i = 0; i < dialogues_.size(); ++i)
    if (dialogues_[i].key == k)
      return i;
  return std::nullopt;
}

uint32_t attention_queue::find_or_add(const dialogue_key& k) {
  if (auto i = find(k))
    return *i;
  return add(k);
}

uint32_t attention_queue::add(const dialogue_key& k) {
  // Before adding: eviction renumbers the dialogues.
  evict_idle();
  dialogue d;
  d.key = k;
  d.context = dialogue_context{params_->context_budget_tokens};
  dialogues_.push_back(std::move(d));
  return static_cast<uint32_t>(dialogues_.size() - 1);
}

dialogue_context& attention_queue::context(const dialogue_key& k) {
  auto& d = dialogues_[find_or_add(k)];
  d.last_active = ++touch_;
  return d.context;
}

const dialogue_key* attention_queue::focus() const noexcept {
  return focus_ < 0 ? nullptr : &dialogues_[static_cast<size_t>(focus_)].key;
}

double attention_queue::weight_of(const dialogue& d, std::string_view sender) const {
  return params_->importance_weight * d.importance
         + params_->relationship_weight * relationship(sender);
}

namespace {

// Max-heap on key, earlier tie first.
bool score_less(const auto& a, const auto& b) {
  if (a.key != b.key)
    return a.key < b.key;
  return a.tie > b.tie;
}

// Min-heap on deadline, earlier tie first (std heaps are max-heaps).
bool deadline_greater(const auto& a, const auto& b) {
  if (a.key != b.key)
    return a.key > b.key;
  return a.tie > b.tie;
}

} // namespace

expected<void> attention_queue::can_push(const dialogue_key& k, uint32_t capacity) const {
  auto found = find(k);
  return check_push(!found || dialogues_[*found].inputs.empty(), capacity);
}

expected<void> attention_queue::check_push(bool was_idle, uint32_t capacity) const {
  if (pending_ >= params_->inbox_limit)
    return unexpected{errc::overloaded, "inbox is full (" + std::to_string(params_->inbox_limit)
                                          + " pending messages)"};
  if (was_idle && active_ >= capacity)
    return unexpected{errc::overloaded, "at capacity: " + std::to_string(capacity)
                                          + " concurrent dialogues"};
  return {};
}

expected<void> attention_queue::push(const dialogue_key& k, message&& m, timestamp now,
                                     uint32_t capacity) {
  // Looked up before adding: a refused dialogue leaves no record behind.
  auto found = find(k);
  const bool was_idle = !found || dialogues_[*found].inputs.empty();
  if (auto ok = check_push(was_idle, capacity); !ok)
    return ok;
  auto idx = found ? *found : add(k);
  auto& d = dialogues_[idx];
  d.last_active = ++touch_;
  if (was_idle) {
    ++active_;
    ++d.version;
    d.pending_since = now;
    d.deadline = 0;
    d.weight = weight_of(d, m.from);
    // Aging is linear in waiting time with one rate for all dialogues, so
    // score(t) = weight + rate * (t - since) orders like weight - rate * since
    // at every t: a heap keyed on that never needs re-keying.
    if (params_->policy == attention_policy::strict_priority) {
      const double key = d.weight - params_->aging_per_second * static_cast<double>(now) / 1000.0;
      score_heap_.push_back({key, push_seq_++, idx, d.version});
      std::push_heap(score_heap_.begin(), score_heap_.end(),
                     [](auto& a, auto& b) { return score_less(a, b); });
    }
  }
  if (m.deadline != 0 && (d.deadline == 0 || m.deadline < d.deadline)) {
    d.deadline = m.deadline;
    deadline_heap_.push_back({static_cast<double>(m.deadline), push_seq_++, idx, d.version});
    std::push_heap(deadline_heap_.begin(), deadline_heap_.end(),
                   [](auto& a, auto& b) { return deadline_greater(a, b); });
  }
  d.inputs.push_back(std::move(m));
  ++pending_;
  return {};
}

bool attention_queue::stale(const heap_entry& e) const {
  auto& d = dialogues_[e.index];
  return d.version != e.version || d.inputs.empty();
}

std::optional<uint32_t> attention_queue::pick_urgent(timestamp now) {
  auto cmp = [](auto& a, auto& b) { return deadline_greater(a, b); };
  while (!deadline_heap_.empty()) {
    auto& top = deadline_heap_.front();
    auto& d = dialogues_[top.index];
    // Entries superseded by an earlier deadline of the same dialogue are stale too.
    if (stale(top) || static_cast<double>(d.deadline) != top.key) {
      std::pop_heap(deadline_heap_.begin(), deadline_heap_.end(), cmp);
      deadline_heap_.pop_back();
      continue;
    }
    if (d.deadline - now > params_->urgent_window_ms)
      return std::nullopt;
    return top.index;
  }
  return std::nullopt;
}

std::optional<uint32_t> attention_queue::pick_strict() {
  auto cmp = [](auto& a, auto& b) { return score_less(a, b); };
  while (!score_heap_.empty()) {
    if (stale(score_heap_.front())) {
      std::pop_heap(score_heap_.begin(), score_heap_.end(), cmp);
      score_heap_.pop_back();
      continue;
    }
    return score_heap_.front().index;
  }
  return std::nullopt;
}

std::optional<uint32_t> attention_queue::pick_wrr() {
  // Smooth weighted round robin (as in nginx): every pending dialogue earns
  // its weight, the richest is served and pays the total.
  std::optional<uint32_t> best;
  double total = 0;
  for (uint32_t i = 0; i < dialogues_.size(); ++i) {
    auto& d = dialogues_[i];
    if (d.inputs.empty())
      continue;
    const double w = std::max(d.weight, min_wrr_weight);
    d.wrr_current += w;
    total += w;
    if (!best || d.wrr_current > dialogues_[*best].wrr_current)
      best = i;
  }
  if (best)
    dialogues_[*best].wrr_current -= total;
  return best;
}

void attention_queue::evict_idle() {
  const size_t limit = params_->max_idle_dialogues;
  if (dialogues_.size() - active_ <= limit)
    return;
  // Candidates: idle, not the focus, no knob set; least recently active first.
  std::vector<uint32_t> idle;
  for (uint32_t i = 0; i < dialogues_.size(); ++i) {
    auto& d = dialogues_[i];
    if (d.inputs.empty() && static_cast<int32_t>(i) != focus_ && d.importance == 1.0)
      idle.push_back(i);
  }
  if (idle.size() <= limit)
    return;
  // Down to half the limit at once: eviction renumbers, so it runs rarely.
  const size_t drop = idle.size() - limit / 2;
  std::partial_sort(idle.begin(), idle.begin() + static_cast<ptrdiff_t>(drop), idle.end(),
                    [this](uint32_t a, uint32_t b) {
                      return dialogues_[a].last_active < dialogues_[b].last_active;
                    });
  std::vector<bool> gone(dialogues_.size(), false);
  for (size_t i = 0; i < drop; ++i)
    gone[idle[i]] = true;
  std::vector<uint32_t> renumber(dialogues_.size(), 0);
  std::vector<dialogue> kept;
  kept.reserve(dialogues_.size() - drop);
  for (uint32_t i = 0; i < dialogues_.size(); ++i)
    if (!gone[i]) {
      renumber[i] = static_cast<uint32_t>(kept.size());
      kept.push_back(std::move(dialogues_[i]));
    }
  dialogues_ = std::move(kept);
  if (focus_ >= 0)
    focus_ = static_cast<int32_t>(renumber[static_cast<size_t>(focus_)]);
  // Heap entries of forgotten dialogues were stale (idle); the others follow
  // their dialogue's new number.
  auto remap = [&](std::vector<heap_entry>& heap, auto cmp) {
    std::erase_if(heap, [&](const heap_entry& e) { return gone[e.index]; });
    for (auto& e : heap)
      e.index = renumber[e.index];
    std::make_heap(heap.begin(), heap.end(), cmp);
  };
  remap(score_heap_, [](auto& a, auto& b) { return score_less(a, b); });
  remap(deadline_heap_, [](auto& a, auto& b) { return deadline_greater(a, b); });
}

std::optional<attention_batch> attention_queue::pop(timestamp now) {
  if (pending_ == 0)
    return std::nullopt;
  auto idx = pick_urgent(now);
  if (!idx)
    idx = params_->policy == attention_policy::strict_priority ? pick_strict() : pick_wrr();
  if (!idx)
    return std::nullopt; // unreachable while pending_ > 0
  auto& d = dialogues_[*idx];
  attention_batch out;
  out.key = d.key;
  out.inputs = std::move(d.inputs);
  d.inputs.clear();
  d.deadline = 0;
  ++d.version;
  if (params_->policy == attention_policy::strict_priority)
    d.wrr_current = 0;
  d.last_active = ++touch_;
  pending_ -= out.inputs.size();
  --active_;
  focus_ = static_cast<int32_t>(*idx);
  evict_idle();
  // After eviction: it renumbers dialogues, never the focus.
  out.context = &dialogues_[static_cast<size_t>(focus_)].context;
  return out;
}

} // namespace parley
