#include "parley/behavior/external.hpp"

#include <algorithm>
#include <unordered_set>

namespace parley {

void external_behavior::react(const behavior_view&, const behavior_input& in,
                              std::vector<behavior_action>&) {
  link_item item;
  switch (in.k) {
    case behavior_input::kind::message:
      item.k = link_item::kind::message;
      item.msg = *in.msg;
      break;
    case behavior_input::kind::turn_granted:
      item.k = link_item::kind::granted;
      item.room = in.room;
      item.turn = in.turn;
      break;
    case behavior_input::kind::invited:
      item.k = link_item::kind::invited;
      item.room = in.room;
      item.by = in.by;
      item.role = in.role;
      break;
    case behavior_input::kind::nudge:
      return; // the process decides for itself when to act
  }
  std::lock_guard guard{mtx_};
  if (item.k == link_item::kind::message)
    ++queued_;
  pending_.push_back(std::move(item));
  cv_.notify_all();
}

bool external_behavior::ready() const noexcept {
  std::lock_guard guard{mtx_};
  return attached_ && queued_ < credit_;
}

expected<void> external_behavior::attach(uint32_t credit) {
  std::lock_guard guard{mtx_};
  if (attached_)
    return unexpected{errc::failed_precondition, "a link is already open for this agent"};
  attached_ = true;
  // Resume: what the last link took and did not acknowledge comes first,
  // in its order, ahead of what it never took.
  for (auto it = unacked_.rbegin(); it != unacked_.rend(); ++it) {
    link_item item;
    item.msg = std::move(*it);
    pending_.push_front(std::move(item));
    ++queued_;
  }
  unacked_.clear();
  credit_ = credit;
  return {};
}

void external_behavior::detach() {
  std::lock_guard guard{mtx_};
  attached_ = false;
  credit_ = 0;
  cv_.notify_all();
}

bool external_behavior::attached() const {
  std::lock_guard guard{mtx_};
  return attached_;
}

void external_behavior::add_credit(uint32_t n, uint32_t max) {
  std::lock_guard guard{mtx_};
  credit_ = static_cast<uint32_t>(std::min<uint64_t>(uint64_t{credit_} + n, max));
  cv_.notify_all();
}

std::optional<link_item> external_behavior::next(std::chrono::milliseconds timeout) {
  std::unique_lock guard{mtx_};
  // The first item the link may take: a message needs credit, others pass.
  auto takeable = [this] {
    for (auto it = pending_.begin(); it != pending_.end(); ++it)
      if (it->k != link_item::kind::message || credit_ > 0)
        return it;
    return pending_.end();
  };
  cv_.wait_for(guard, timeout, [&] { return !attached_ || takeable() != pending_.end(); });
  if (!attached_)
    return std::nullopt;
  auto it = takeable();
  if (it == pending_.end())
    return std::nullopt;
  auto item = std::move(*it);
  pending_.erase(it);
  if (item.k == link_item::kind::message) {
    --credit_;
    --queued_;
    unacked_.push_back(item.msg);
  }
  return item;
}

std::vector<message> external_behavior::acknowledge(const std::vector<uint64_t>& deliveries,
                                                    std::vector<uint64_t>* unknown) {
  // One pass over each queue (an acknowledgement of thousands against a
  // long queue would otherwise be quadratic). A number listed twice is
  // unknown the second time: it was acknowledged already.
  std::unordered_set<uint64_t> wanted;
  wanted.reserve(deliveries.size());
  for (auto d : deliveries)
    if (!wanted.insert(d).second && unknown)
      unknown->push_back(d);
  std::vector<message> out;
  std::lock_guard guard{mtx_};
  std::erase_if(unacked_, [&](message& m) {
    if (!wanted.erase(m.delivery))
      return false;
    out.push_back(std::move(m));
    return true;
  });
  std::erase_if(pending_, [&](link_item& i) {
    if (i.k != link_item::kind::message || !wanted.erase(i.msg.delivery))
      return false;
    out.push_back(std::move(i.msg));
    --queued_;
    return true;
  });
  if (unknown)
    for (auto d : deliveries)
      if (wanted.erase(d))
        unknown->push_back(d);
  return out;
}

size_t external_behavior::waiting() const {
  std::lock_guard guard{mtx_};
  size_t n = unacked_.size();
  for (auto& p : pending_)
    n += p.k == link_item::kind::message ? 1 : 0;
  return n;
}

size_t external_behavior::unacknowledged() const {
  std::lock_guard guard{mtx_};
  return unacked_.size();
}

} // namespace parley
