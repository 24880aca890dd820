// Stress tests of parley::skill_catalog (src/actors/runtime.hpp): the
// node-wide set of interned skills that introductions and manifest updates
// (on scheduler threads) and retention (release_unused) share under one
// mutex. Its promise: equal skills intern to one object while anyone holds
// it, and the catalogue holds no skill nobody uses once swept.

#include <gtest/gtest.h>

#include <atomic>
#include <barrier>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "actors/runtime.hpp"
#include "concurrency/stress.hpp"

using namespace parley;

namespace {

skill make_skill(size_t k) {
  skill s;
  s.id = "skill-" + std::to_string(k);
  s.name = "Skill " + std::to_string(k);
  s.tags = {"tag-a", "tag-" + std::to_string(k % 7)};
  s.description = "does thing " + std::to_string(k);
  return s;
}

// Which object each skill interns to while someone (registered here) holds
// it. Deliberately no weak_ptr: a weak_ptr's lock() would make references
// the catalogue does not know about.
struct holder_registry {
  struct entry {
    std::mutex mtx;
    const skill* ptr = nullptr;
    int holders = 0;
  };
  explicit holder_registry(size_t n) : entries(n) {}

  // Registers `p` (interned for skill k) as held; false when another object
  // for the same skill is held right now.
  bool hold(size_t k, const std::shared_ptr<const skill>& p) {
    auto& e = entries[k];
    std::lock_guard guard{e.mtx};
    if (e.holders > 0 && e.ptr != p.get())
      return false;
    e.ptr = p.get();
    ++e.holders;
    return true;
  }

  // Drops a registered hold (the reference goes under the entry's lock, so
  // holders == 0 means nobody registered holds the object any more).
  void drop(size_t k, std::shared_ptr<const skill>& p) {
    auto& e = entries[k];
    std::lock_guard guard{e.mtx};
    --e.holders;
    p.reset();
  }

  std::vector<entry> entries;
};

} // namespace

// Verifies that while threads intern skills, hold and drop them, and others
// run release_unused() (and intern's own sweep, triggered by a stream of
// one-off skills), equal skills always intern to the same object while it
// is held, interned skills are equal to what was asked, and once every
// holder is gone release_unused() leaves the catalogue empty.
TEST(SkillCatalogStress, EqualSkillsShareOneObjectWhileHeld) {
  constexpr size_t skills = 48;
  const uint64_t iterations = stress::scaled(120000);
  skill_catalog cat;
  holder_registry reg{skills};
  std::vector<skill> pool;
  for (size_t k = 0; k < skills; ++k)
    pool.push_back(make_skill(k));
  stress::violations bad;
  std::atomic<uint64_t> one_offs{0};
  std::atomic<int> holders_running{4};

  // 0-3: holders; 4: one-off skills (trigger intern's sweep); 5: release_unused.
  stress::run_together(6, [&](size_t t) {
    auto rng = stress::rng_for(t);
    if (t < 4) {
      std::vector<std::pair<size_t, std::shared_ptr<const skill>>> held;
      for (uint64_t i = 0; i < iterations; ++i) {
        if (held.size() < 16 && (held.empty() || rng() % 2 == 0)) {
          const size_t k = rng() % skills;
          auto p = cat.intern(pool[k]);
          bad.check(p && *p == pool[k], [&] { return "intern returned another skill for " + pool[k].id; });
          bad.check(reg.hold(k, p), [&] { return "two objects held at once for " + pool[k].id; });
          held.emplace_back(k, std::move(p));
        } else {
          const size_t j = rng() % held.size();
          reg.drop(held[j].first, held[j].second);
          held.erase(held.begin() + static_cast<ptrdiff_t>(j));
        }
      }
      for (auto& [k, p] : held)
        reg.drop(k, p);
      holders_running.fetch_sub(1);
      return;
    }
    if (t == 4) {
      while (holders_running.load() > 0) {
        auto n = one_offs.fetch_add(1);
        skill s = make_skill(skills + n); // never asked again: swept later
        auto p = cat.intern(s);
        bad.check(*p == s, [&] { return "intern returned another skill for " + s.id; });
      }
      return;
    }
    while (holders_running.load() > 0) {
      (void) cat.release_unused();
      (void) cat.size();
      std::this_thread::yield();
    }
  });

  EXPECT_EQ(bad.count(), 0u) << bad.summary();
  EXPECT_GT(one_offs.load(), skill_catalog::sweep_every) << "intern's own sweep never ran";
  (void) cat.release_unused();
  EXPECT_EQ(cat.size(), 0u);
}

// Verifies that threads interning the same skills at the same moment (the
// lookup misses, both build a candidate) all get the one object that went
// into the catalogue.
TEST(SkillCatalogStress, SimultaneousFirstInternsAgree) {
  const uint64_t rounds = stress::scaled(10000);
  constexpr size_t threads = 4;
  skill_catalog cat;
  std::vector<std::shared_ptr<const skill>> got(threads);
  std::barrier sync{static_cast<std::ptrdiff_t>(threads)};
  stress::violations bad;
  stress::run_together(threads, [&](size_t t) {
    for (uint64_t r = 0; r < rounds; ++r) {
      const auto s = make_skill(1'000'000 + r);
      got[t] = cat.intern(s);
      sync.arrive_and_wait();
      if (t == 0) {
        for (size_t i = 1; i < threads; ++i)
          bad.check(got[i].get() == got[0].get(), [&] { return "round " + std::to_string(r) + ": two objects"; });
        bad.check(*got[0] == s, [&] { return "round " + std::to_string(r) + ": another skill"; });
      }
      sync.arrive_and_wait();
      got[t].reset();
      if (t == 1 && r % 64 == 63)
        (void) cat.release_unused();
    }
  });
  EXPECT_EQ(bad.count(), 0u) << bad.summary();
  (void) cat.release_unused();
  EXPECT_EQ(cat.size(), 0u);
}
