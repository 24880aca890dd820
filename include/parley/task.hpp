#pragma once

// A call that finishes later without holding a thread: the node's
// asynchronous facade returns task<expected<T>>. A task is lazy (nothing
// runs until it is awaited or started) and has one consumer:
//
//   auto m = co_await n.send_async(p, msg);            // from a coroutine
//   start(n.send_async(p, msg), [](expected<message> m) { ... });  // a callback
//   expected<message> m = wait(n.send_async(p, msg));  // blocking (tests)
//
// A task resumes on whichever thread completes what it waits for (an actor
// of the node), so what follows a co_await must not block.

#include <atomic>
#include <condition_variable>
#include <coroutine>
#include <exception>
#include <functional>
#include <mutex>
#include <optional>
#include <utility>

namespace parley {

template <class T>
class [[nodiscard]] task {
public:
  struct promise_type {
    std::optional<T> value;
    std::exception_ptr failure;
    std::coroutine_handle<> continuation;
    std::atomic<bool> second{false};

    task get_return_object() noexcept {
      return task{std::coroutine_handle<promise_type>::from_promise(*this)};
    }
    std::suspend_always initial_suspend() noexcept { return {}; }
    // Whoever comes second of the awaiter (suspending) and the task
    // (finishing) resumes the awaiter: a task that finishes before its
    // awaiter suspended lets it go on without a nested call, so a loop of
    // awaits never grows the stack, also where the compiler makes no tail
    // calls (sanitizer and debug builds, where symmetric transfer recurses).
    auto final_suspend() noexcept {
      struct to_continuation {
        bool await_ready() noexcept { return false; }
        void await_suspend(std::coroutine_handle<promise_type> h) noexcept {
          auto& p = h.promise();
          if (p.second.exchange(true, std::memory_order_acq_rel) && p.continuation)
            p.continuation.resume();
        }
        void await_resume() noexcept {}
      };
      return to_continuation{};
    }
    template <class U>
    void return_value(U&& v) {
      value.emplace(std::forward<U>(v));
    }
    void unhandled_exception() noexcept { failure = std::current_exception(); }
  };

  task(task&& other) noexcept : h_(std::exchange(other.h_, {})) {}
  task& operator=(task&& other) noexcept {
    if (this != &other) {
      if (h_)
        h_.destroy();
      h_ = std::exchange(other.h_, {});
    }
    return *this;
  }
  task(const task&) = delete;
  task& operator=(const task&) = delete;
  ~task() {
    if (h_)
      h_.destroy();
  }

  // -- awaiting ------------------------------------------------------------------
  bool await_ready() const noexcept { return false; }
  bool await_suspend(std::coroutine_handle<> awaiting) noexcept {
    h_.promise().continuation = awaiting;
    h_.resume();
    // False: the task has finished already; the awaiter goes on at once.
    return !h_.promise().second.exchange(true, std::memory_order_acq_rel);
  }
  T await_resume() {
    auto& p = h_.promise();
    if (p.failure)
      std::rethrow_exception(p.failure);
    return std::move(*p.value);
  }

private:
  explicit task(std::coroutine_handle<promise_type> h) noexcept : h_(h) {}
  std::coroutine_handle<promise_type> h_;
};

namespace detail {

// A coroutine nobody awaits: it runs to its end and frees itself.
struct detached {
  struct promise_type {
    detached get_return_object() noexcept { return {}; }
    std::suspend_never initial_suspend() noexcept { return {}; }
    std::suspend_never final_suspend() noexcept { return {}; }
    void return_void() noexcept {}
    void unhandled_exception() noexcept { std::terminate(); }
  };
};

template <class T, class Done, class OnFailure>
detached run(task<T> t, Done done, OnFailure on_failure) {
  std::optional<T> out;
  try {
    out.emplace(co_await std::move(t));
  } catch (const std::exception& e) {
    out.emplace(on_failure(e));
  }
  done(std::move(*out));
}

} // namespace detail

/// Runs `t` and calls `done(T)` once it finishes, on the thread that
/// finishes it (possibly this one, before start returns). An exception
/// escaping the task becomes `on_failure(e)`, which must return a T.
template <class T, class Done, class OnFailure>
void start(task<T> t, Done done, OnFailure on_failure) {
  detail::run(std::move(t), std::move(done), std::move(on_failure));
}

/// Runs `t` and blocks this thread until it finishes: for tests and for
/// embedders that want the blocking style. Never call it from an actor.
template <class T, class OnFailure>
T wait(task<T> t, OnFailure on_failure) {
  std::mutex mtx;
  std::condition_variable cv;
  std::optional<T> out;
  start(
    std::move(t),
    [&](T v) {
      std::lock_guard guard{mtx};
      out.emplace(std::move(v));
      cv.notify_one();
    },
    std::move(on_failure));
  std::unique_lock lock{mtx};
  cv.wait(lock, [&] { return out.has_value(); });
  return std::move(*out);
}

} // namespace parley
