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
  std::unique_lock guard{mtx_};
  if (item.k == link_item::kind::message)
    ++queued_;
  pending_.push_back(std::move(item));
  wake(guard);
}

void external_behavior::wake(std::unique_lock<std::mutex>& guard) {
  cv_.notify_all();
  const bool fire = ready_.take();
  guard.unlock();
  if (fire)
    ready_.fire();
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
  ready_.disarm();
  return {};
}

void external_behavior::detach() {
  {
    std::lock_guard guard{mtx_};
    attached_ = false;
    credit_ = 0;
    cv_.notify_all();
  }
  ready_.set(nullptr);
}

void external_behavior::on_ready(std::function<void()> fn) {
  ready_.set(std::move(fn));
}

bool external_behavior::attached() const {
  std::lock_guard guard{mtx_};
  return attached_;
}

void external_behavior::add_credit(uint32_t n, uint32_t max) {
  std::unique_lock guard{mtx_};
  credit_ = static_cast<uint32_t>(std::min<uint64_t>(uint64_t{credit_} + n, max));
  wake(guard);
}

std::optional<link_item> external_behavior::take_locked() {
  if (!attached_)
    return std::nullopt;
  // The first item the link may take: a message needs credit, others pass.
  auto it = std::find_if(pending_.begin(), pending_.end(),
                         [this](const link_item& i) { return i.k != link_item::kind::message || credit_ > 0; });
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

std::optional<link_item> external_behavior::next(std::chrono::milliseconds timeout) {
  std::unique_lock guard{mtx_};
  std::optional<link_item> item;
  cv_.wait_for(guard, timeout, [&] { return !attached_ || (item = take_locked()).has_value(); });
  return item;
}

std::optional<link_item> external_behavior::try_next() {
  std::lock_guard guard{mtx_};
  auto item = take_locked();
  if (!item && attached_)
    ready_.arm();
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
