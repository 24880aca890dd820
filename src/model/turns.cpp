#include "parley/model/turns.hpp"

#include <algorithm>

#include "parley/model/random.hpp"

namespace parley {

namespace {

unexpected closed_error(const room& r) {
  return unexpected{errc::failed_precondition, "room '" + r.id + "' is closed"};
}

} // namespace

turn_scheduler::turn_scheduler(speaker_rules rules)
  : rules_(std::move(rules)), rng_state_(rules_.seed) {
}

uint64_t turn_scheduler::next_random() {
  return splitmix64(rng_state_);
}

expected<void> turn_scheduler::request(const room& r, std::string_view who, timestamp now) {
  if (state_.closed || !r.open)
    return closed_error(r);
  if (rules_.policy == speaker_policy::none)
    return unexpected{errc::failed_precondition,
                      "room '" + r.id + "' is unmoderated: members post without a turn"};
  auto* m = r.find(who);
  if (!m)
    return unexpected{errc::permission_denied,
                      "agent '" + std::string{who} + "' is not a member of room '" + r.id + "'"};
  if (m->role == room_role::guest)
    return unexpected{errc::permission_denied, "agent '" + std::string{who}
                                                 + "' is a guest in room '" + r.id
                                                 + "': guests read only"};
  if (state_.current && state_.current->speaker == who)
    return {};
  for (auto& w : state_.waiting)
    if (w.who == who)
      return {};
  state_.waiting.push_back({std::string{who}, now});
  return {};
}

std::optional<turn_grant> turn_scheduler::withdraw(std::string_view who) {
  std::erase_if(state_.waiting, [&](const turn_request& w) { return w.who == who; });
  if (state_.current && state_.current->speaker == who) {
    auto ended = std::move(*state_.current);
    state_.current.reset();
    return ended;
  }
  return std::nullopt;
}

bool turn_scheduler::allowed_after_last(std::string_view who) const {
  if (!last_speaker_)
    return true;
  auto i = rules_.transitions.find(*last_speaker_);
  if (i == rules_.transitions.end())
    return true;
  return i->second.count(std::string{who}) > 0;
}

std::optional<size_t> turn_scheduler::pick(const room& r) {
  // Candidates: waiting requesters still in the room and allowed to follow
  // the last speaker. Index into state_.waiting.
  std::vector<size_t> cands;
  for (size_t i = 0; i < state_.waiting.size(); ++i) {
    auto& w = state_.waiting[i];
    auto* m = r.find(w.who);
    if (m && m->role != room_role::guest && allowed_after_last(w.who))
      cands.push_back(i);
  }
  if (cands.empty())
    return std::nullopt;
  switch (rules_.policy) {
    case speaker_policy::none:
    case speaker_policy::fifo:
      return cands.front();
    case speaker_policy::priority: {
      auto rank = [&](size_t i) {
        return static_cast<int>(r.find(state_.waiting[i].who)->role);
      };
      // Stable on ties: waiting is in request order, so the first best wins.
      size_t best = cands.front();
      for (auto i : cands)
        if (rank(i) > rank(best))
          best = i;
      return best;
    }
    case speaker_policy::round_robin: {
      // Walk members in join order starting after the last speaker.
      // Members may have left since the last grant, shifting indices: find the
      // last speaker by id. If it left, its successor now holds its old slot.
      const size_t n = r.members.size();
      size_t start = 0;
      if (rr_last_) {
        start = *rr_last_;
        for (size_t i = 0; i < n; ++i)
          if (last_speaker_ && r.members[i].id == *last_speaker_)
            start = i + 1;
      }
      for (size_t step = 0; step < n; ++step) {
        auto& id = r.members[(start + step) % n].id;
        for (auto i : cands)
          if (state_.waiting[i].who == id)
            return i;
      }
      return std::nullopt;
    }
    case speaker_policy::random:
      return cands[next_random() % cands.size()];
  }
  return std::nullopt;
}

turn_scheduler::grant_result turn_scheduler::grant_next(const room& r, timestamp now) {
  grant_result out;
  if (state_.closed || state_.current || rules_.policy == speaker_policy::none)
    return out;
  auto idx = pick(r);
  if (!idx)
    return out;
  auto who = state_.waiting[*idx].who;
  // A round is a maximal run of turns with distinct speakers.
  bool new_round = state_.rounds == 0 || spoken_this_round_.count(who) > 0;
  if (new_round) {
    if (rules_.max_rounds != 0 && state_.rounds >= rules_.max_rounds) {
      state_.closed = true;
      state_.waiting.clear();
      out.closes = true;
      return out;
    }
    ++state_.rounds;
    spoken_this_round_.clear();
  }
  spoken_this_round_.insert(who);
  state_.waiting.erase(state_.waiting.begin() + static_cast<ptrdiff_t>(*idx));
  turn_grant g;
  g.speaker = who;
  g.turn = ++state_.turns_granted;
  g.granted_at = now;
  g.deadline = rules_.turn_slot_ms > 0 ? now + rules_.turn_slot_ms : 0;
  g.round = state_.rounds;
  for (size_t i = 0; i < r.members.size(); ++i)
    if (r.members[i].id == who)
      rr_last_ = i;
  last_speaker_ = who;
  state_.current = g;
  state_.messages_in_turn = 0;
  out.granted = std::move(g);
  return out;
}

expected<void> turn_scheduler::check_post(const room& r, std::string_view who) const {
  if (state_.closed || !r.open)
    return closed_error(r);
  auto* m = r.find(who);
  if (!m)
    return unexpected{errc::permission_denied,
                      "agent '" + std::string{who} + "' is not a member of room '" + r.id + "'"};
  if (m->role == room_role::guest)
    return unexpected{errc::permission_denied, "agent '" + std::string{who}
                                                 + "' is a guest in room '" + r.id
                                                 + "': guests read only"};
  if (rules_.policy == speaker_policy::none)
    return {};
  if (!state_.current || state_.current->speaker != who) {
    std::string holder = state_.current ? "'" + state_.current->speaker + "'" : "nobody";
    return unexpected{errc::failed_precondition, "agent '" + std::string{who}
                                                   + "' does not hold the turn in room '" + r.id
                                                   + "' (turn holder: " + holder
                                                   + "); request the turn first"};
  }
  return {};
}

bool turn_scheduler::count_message() {
  if (!state_.current)
    return false;
  ++state_.messages_in_turn;
  if (rules_.max_messages_per_turn != 0 && state_.messages_in_turn >= rules_.max_messages_per_turn) {
    state_.current.reset();
    return true;
  }
  return false;
}

expected<turn_grant> turn_scheduler::yield(const room& r, std::string_view who) {
  if (!state_.current || state_.current->speaker != who)
    return unexpected{errc::failed_precondition, "agent '" + std::string{who}
                                                   + "' cannot yield in room '" + r.id
                                                   + "': it does not hold the turn"};
  auto ended = std::move(*state_.current);
  state_.current.reset();
  return ended;
}

std::optional<turn_grant> turn_scheduler::expire(timestamp now) {
  if (!state_.current || state_.current->deadline == 0 || state_.current->deadline > now)
    return std::nullopt;
  auto ended = std::move(*state_.current);
  state_.current.reset();
  return ended;
}

turn_scheduler::snapshot turn_scheduler::save() const {
  snapshot s;
  s.state = state_;
  s.last_speaker = last_speaker_;
  s.spoken_this_round.assign(spoken_this_round_.begin(), spoken_this_round_.end());
  s.rng_state = rng_state_;
  s.rr_last = rr_last_;
  return s;
}

void turn_scheduler::restore(snapshot s, const room& r, timestamp now) {
  state_ = std::move(s.state);
  last_speaker_ = std::move(s.last_speaker);
  spoken_this_round_ = {s.spoken_this_round.begin(), s.spoken_this_round.end()};
  rng_state_ = s.rng_state;
  rr_last_ = s.rr_last;
  if (rr_last_ && *rr_last_ >= r.members.size())
    rr_last_.reset();
  std::erase_if(state_.waiting, [&](const turn_request& w) { return !r.find(w.who); });
  if (state_.current && !r.find(state_.current->speaker))
    state_.current.reset();
  if (state_.current) {
    state_.current->granted_at = now;
    state_.current->deadline = rules_.turn_slot_ms > 0 ? now + rules_.turn_slot_ms : 0;
  }
  if (!r.open)
    state_.closed = true;
}

} // namespace parley
