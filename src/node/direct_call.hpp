#pragma once

// Calls from outside the actor system that their answering actor completes
// itself: the caller sends the request with a reply address (reply_to in
// actors/messages.hpp) and suspends; the actor delivers the answer straight
// to the waiting coroutine, which resumes on the actor's thread. No relay
// actor and no CAF request (with its response handler and a timeout filed
// with CAF's clock) stands between them: two actor messages and a clock
// wake-up fewer per call than ask_async. The call timeout comes from
// call_deadlines.

#include <coroutine>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "actors/messages.hpp"
#include "node/call_deadlines.hpp"

namespace parley {

unexpected stopped();

/// The caller's side of a direct call of `n` requests: collects the answers
/// by slot and resumes the caller once, when the last arrives, the call
/// timeout passes or the node stops (the missing ones then get that error).
/// While the caller is still sending (held), nothing resumes it: the
/// requests read the caller's frame, which a resumed caller may end.
template <class T>
class pending_replies final : public reply_sink<T>, public call_deadlines::entry {
public:
  using results = std::vector<expected<T>>;

  pending_replies(size_t n, call_deadlines& deadlines, std::optional<results>* out, std::coroutine_handle<> h)
    : answers_(n), left_(n), deadlines_(deadlines), out_(out), h_(h) {}

  void deliver(uint32_t slot, expected<T> r) override {
    bool now = false;
    {
      std::lock_guard lock{mtx_};
      if (finished_ || slot >= answers_.size() || answers_[slot])
        return;
      answers_[slot].emplace(std::move(r));
      if (--left_ != 0)
        return;
      finished_ = true;
      now = !held_;
    }
    deadlines_.remove(*this);
    if (now)
      finish(true);
  }

  void expire(const error& why) override {
    {
      std::lock_guard lock{mtx_};
      if (finished_)
        return;
      finished_ = true;
      for (auto& a : answers_)
        if (!a)
          a.emplace(unexpected{why});
      if (held_)
        return;
    }
    finish(true);
  }

  /// The caller has sent every request. True when the answers are all in
  /// already (then they are in *out and the caller must not suspend).
  bool release() {
    {
      std::lock_guard lock{mtx_};
      held_ = false;
      if (!finished_)
        return false;
    }
    finish(false);
    return true;
  }

private:
  // Only the one who completed the call (or the caller, in release) gets
  // here, once: no lock needed.
  void finish(bool resume) {
    results out;
    out.reserve(answers_.size());
    for (auto& a : answers_)
      out.push_back(std::move(*a));
    out_->emplace(std::move(out));
    if (resume)
      h_.resume(); // may end the coroutine, and the awaiter that owns *out_
  }

  std::mutex mtx_;
  std::vector<std::optional<expected<T>>> answers_;
  size_t left_;
  bool finished_ = false;
  bool held_ = true;
  call_deadlines& deadlines_;
  std::optional<results>* out_;
  std::coroutine_handle<> h_;
};

/// `co_await direct_call<T>(deadlines, stopping, n, send)` sends through
/// `send(sink)` (which hands each request `reply_to<T>{sink, slot}`) and
/// gives the n answers in slot order. Await it straight from the call, with
/// `send` a named lambda (g++ 12 destroys braced temporaries in a co_await
/// twice).
template <class T, class Send>
class direct_call {
public:
  using results = std::vector<expected<T>>;

  direct_call(call_deadlines& deadlines, const std::atomic<bool>& stopping, size_t n, Send& send)
    : deadlines_(deadlines), stopping_(stopping), n_(n), send_(send) {}

  bool await_ready() {
    if (n_ != 0 && !stopping_)
      return false;
    out_.emplace(n_, expected<T>{stopped()});
    return true;
  }
  bool await_suspend(std::coroutine_handle<> h) {
    auto p = std::make_shared<pending_replies<T>>(n_, deadlines_, &out_, h);
    if (!deadlines_.add(p)) {
      out_.emplace(n_, expected<T>{stopped()});
      return false; // not suspended: the node stopped
    }
    std::shared_ptr<reply_sink<T>> sink = p;
    send_(sink);
    // From here on, nothing of this awaiter: once released, an answer may
    // resume the caller (and end it) on another thread. `p` is on this
    // thread's stack.
    return !p->release();
  }
  results await_resume() { return std::move(*out_); }

private:
  call_deadlines& deadlines_;
  const std::atomic<bool>& stopping_;
  size_t n_;
  Send& send_;
  std::optional<results> out_;
};

} // namespace parley
