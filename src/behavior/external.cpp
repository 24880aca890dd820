#include "parley/behavior/external.hpp"

#include <algorithm>

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
  if (item.k == link_item::kind::message && credit_ > 0)
    --credit_;
  pending_.push_back(std::move(item));
  cv_.notify_all();
}

bool external_behavior::ready() const noexcept {
  std::lock_guard guard{mtx_};
  return attached_ && credit_ > 0;
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
  }
  unacked_.clear();
  size_t queued = 0;
  for (auto& p : pending_)
    queued += p.k == link_item::kind::message ? 1 : 0;
  credit_ = queued >= credit ? 0 : credit - static_cast<uint32_t>(queued);
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

void external_behavior::add_credit(uint32_t n) {
  std::lock_guard guard{mtx_};
  credit_ += n;
}

std::optional<link_item> external_behavior::next(std::chrono::milliseconds timeout) {
  std::unique_lock guard{mtx_};
  cv_.wait_for(guard, timeout, [this] { return !pending_.empty() || !attached_; });
  if (!attached_ || pending_.empty())
    return std::nullopt;
  auto item = std::move(pending_.front());
  pending_.pop_front();
  if (item.k == link_item::kind::message)
    unacked_.push_back(item.msg);
  return item;
}

std::vector<message> external_behavior::acknowledge(const std::vector<uint64_t>& deliveries) {
  std::vector<message> out;
  std::lock_guard guard{mtx_};
  for (auto d : deliveries) {
    auto it = std::find_if(unacked_.begin(), unacked_.end(),
                           [d](const message& m) { return m.delivery == d; });
    if (it == unacked_.end())
      continue;
    out.push_back(std::move(*it));
    unacked_.erase(it);
  }
  return out;
}

size_t external_behavior::unacknowledged() const {
  std::lock_guard guard{mtx_};
  return unacked_.size();
}

} // namespace parley
