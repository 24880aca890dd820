#include "node/call_deadlines.hpp"

#include <algorithm>
#include <vector>

#include "actors/messages.hpp"

namespace parley {

unexpected stopped();

bool call_deadlines::add(const std::shared_ptr<entry>& e) {
  e->shard_ = turn_.fetch_add(1, std::memory_order_relaxed) % shard_count;
  e->deadline_ = clock_type::now() + timeout_;
  auto& s = shards_[e->shard_];
  std::lock_guard lock{s.mtx};
  // Checked under the lock: close() empties each shard under it, so
  // nothing added here outlives close().
  if (closed_.load(std::memory_order_acquire))
    return false;
  e->keep_ = e;
  e->prev_ = s.tail;
  e->next_ = nullptr;
  (s.tail ? s.tail->next_ : s.head) = e.get();
  s.tail = e.get();
  return true;
}

std::shared_ptr<call_deadlines::entry> call_deadlines::unlink(shard& s, entry& e) {
  if (!e.keep_)
    return nullptr; // not linked (expired, or never added)
  (e.prev_ ? e.prev_->next_ : s.head) = e.next_;
  (e.next_ ? e.next_->prev_ : s.tail) = e.prev_;
  e.prev_ = e.next_ = nullptr;
  return std::move(e.keep_);
}

void call_deadlines::remove(entry& e) {
  std::shared_ptr<entry> ref;
  {
    auto& s = shards_[e.shard_];
    std::lock_guard lock{s.mtx};
    ref = unlink(s, e);
  }
  // `ref` may be the last reference: released outside the lock.
}

void call_deadlines::sweep(clock_type::time_point now) {
  std::vector<std::shared_ptr<entry>> overdue;
  for (auto& s : shards_) {
    std::lock_guard lock{s.mtx};
    while (s.head && s.head->deadline_ <= now)
      overdue.push_back(unlink(s, *s.head));
  }
  // The same words as a CAF request timeout (actors/messages.cpp).
  const error why{errc::deadline_exceeded, "no answer within the call timeout: the change may or may "
                                           "not have happened (a send with an id may be retried to "
                                           "learn its outcome)"};
  for (auto& e : overdue)
    e->expire(why);
}

void call_deadlines::close() {
  closed_.store(true, std::memory_order_release);
  std::vector<std::shared_ptr<entry>> waiting;
  for (auto& s : shards_) {
    std::lock_guard lock{s.mtx};
    while (s.head)
      waiting.push_back(unlink(s, *s.head));
  }
  const error why = stopped().err;
  for (auto& e : waiting)
    e->expire(why);
}

std::chrono::milliseconds call_deadlines::tick() const {
  return std::clamp(timeout_ / 8, std::chrono::milliseconds{5}, std::chrono::milliseconds{250});
}

caf::behavior deadline_sweeper(caf::event_based_actor* self, call_deadlines* deadlines) {
  self->delayed_send(self, deadlines->tick(), atoms::sweep::value);
  return {
    [self, deadlines](atoms::sweep) {
      deadlines->sweep();
      self->delayed_send(self, deadlines->tick(), atoms::sweep::value);
    },
  };
}

} // namespace parley
