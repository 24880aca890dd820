// parley::task: lazy start, results and exceptions through start/wait,
// long chains without stack growth, completion from another thread.

#include <atomic>
#include <stdexcept>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "parley/task.hpp"

namespace parley {
namespace {

int on_failure(const std::exception&) {
  return -1;
}

task<int> value_of(int x, bool* ran = nullptr) {
  if (ran)
    *ran = true;
  co_return x;
}

task<int> sum_of_chain(int depth) {
  int total = 0;
  for (int i = 0; i < depth; ++i)
    total += co_await value_of(1);
  co_return total;
}

task<int> nested(int depth) {
  if (depth == 0)
    co_return 0;
  co_return 1 + co_await nested(depth - 1);
}

task<int> throws() {
  throw std::runtime_error("boom");
  co_return 0;
}

// An awaitable completed by another thread, as an actor's answer is.
struct from_thread {
  int v;
  int out = 0;
  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> h) {
    std::thread([this, h] {
      out = v * 2;
      h.resume();
    }).detach();
  }
  int await_resume() const noexcept { return out; }
};

from_thread doubled_elsewhere(int v) {
  return from_thread{v};
}

task<std::string> thread_hop(int v, std::thread::id* resumed_on) {
  int d = co_await doubled_elsewhere(v);
  *resumed_on = std::this_thread::get_id();
  co_return std::to_string(d);
}

// Verifies a task does nothing until it is awaited or started.
TEST(Task, IsLazy) {
  bool ran = false;
  {
    auto t = value_of(3, &ran);
    EXPECT_FALSE(ran);
  } // destroyed unstarted: frees its frame (ASan checks)
  EXPECT_FALSE(ran);
  EXPECT_EQ(wait(value_of(3, &ran), on_failure), 3);
  EXPECT_TRUE(ran);
}

// Verifies start() calls done with the result, here before start returns
// (nothing suspends).
TEST(Task, StartCallsDoneWithTheResult) {
  int got = 0;
  start(value_of(7), [&](int v) { got = v; }, on_failure);
  EXPECT_EQ(got, 7);
}

// Verifies an exception escaping a task reaches the caller as on_failure's
// value, also through an awaiting task.
TEST(Task, ExceptionBecomesTheFailureValue) {
  EXPECT_EQ(wait(throws(), on_failure), -1);
  auto outer = []() -> task<int> { co_return 1 + co_await throws(); };
  EXPECT_EQ(wait(outer(), on_failure), -1);
}

// Verifies awaiting 1,000,000 tasks in a row that finish at once runs
// without growing the stack (also in sanitizer builds, which make no tail
// calls), and nesting as deep as code nests works.
TEST(Task, LongChainsDoNotGrowTheStack) {
  EXPECT_EQ(wait(sum_of_chain(1000000), on_failure), 1000000);
  EXPECT_EQ(wait(nested(1000), on_failure), 1000);
}

// Verifies a task suspended on something another thread completes resumes
// there, and wait() returns its result on the waiting thread.
TEST(Task, ResumesOnTheThreadThatCompletesIt) {
  std::thread::id resumed_on;
  EXPECT_EQ(wait(thread_hop(21, &resumed_on), [](const std::exception&) { return std::string{}; }),
            "42");
  EXPECT_NE(resumed_on, std::this_thread::get_id());
}

} // namespace
} // namespace parley
