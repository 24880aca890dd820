#pragma once

// Helpers of the stress tests: the iteration scale, threads that start
// together, and a seeded generator per thread.
//
// Each stress test is sized to take at most ~3 s under ASan/UBSan on CI's two
// cores. PARLEY_STRESS_ITERATIONS (a positive integer, default 1) multiplies
// the iterations for longer local runs:
//   PARLEY_STRESS_ITERATIONS=20 ./parley_concurrency_tests

#include <cstdint>
#include <cstdlib>
#include <functional>
#include <latch>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace parley::stress {

/// The factor PARLEY_STRESS_ITERATIONS asks for (1 when unset or invalid).
inline uint64_t multiplier() {
  const char* v = std::getenv("PARLEY_STRESS_ITERATIONS");
  if (!v || !*v)
    return 1;
  char* end = nullptr;
  auto n = std::strtoull(v, &end, 10);
  return (end && *end == '\0' && n > 0) ? n : 1;
}

/// `base` iterations, scaled.
inline uint64_t scaled(uint64_t base) {
  return base * multiplier();
}

/// Runs `body(i)` for i in [0, n) on n threads released at the same moment
/// (so that they really overlap) and joins them.
inline void run_together(size_t n, const std::function<void(size_t)>& body) {
  std::latch start{static_cast<std::ptrdiff_t>(n)};
  std::vector<std::thread> threads;
  threads.reserve(n);
  for (size_t i = 0; i < n; ++i)
    threads.emplace_back([&, i] {
      start.arrive_and_wait();
      body(i);
    });
  for (auto& t : threads)
    t.join();
}

/// A generator seeded from the thread's index, so runs repeat their choices
/// (the interleaving still varies).
inline std::mt19937_64 rng_for(size_t thread_index, uint64_t salt = 0) {
  return std::mt19937_64{0x9e3779b97f4a7c15ULL * (thread_index + 1) + salt};
}

/// Invariant violations seen by worker threads, collected instead of
/// asserted on the spot (a broken invariant would otherwise flood the log
/// with one failure per iteration). The test checks count() == 0 at the end
/// and prints the first few.
class violations {
public:
  void add(std::string what) {
    std::lock_guard guard{mtx_};
    if (first_.size() < 8)
      first_.push_back(std::move(what));
    ++count_;
  }
  /// Adds `what` (built only on failure) unless `ok`.
  template <class F>
  void check(bool ok, F&& what) {
    if (!ok)
      add(what());
  }
  size_t count() const {
    std::lock_guard guard{mtx_};
    return count_;
  }
  std::string summary() const {
    std::lock_guard guard{mtx_};
    std::string out = std::to_string(count_) + " violation(s)";
    for (auto& f : first_)
      out += "\n  " + f;
    return out;
  }

private:
  mutable std::mutex mtx_;
  std::vector<std::string> first_;
  size_t count_ = 0;
};

} // namespace parley::stress
