// Stress tests of parley::actor_directory (src/actors/router.hpp), the map
// from id to actor that introductions, room creations, lookups and the
// listings share: 64 shards, each under a shared_mutex, and an atomic count
// of published entries.

#include <gtest/gtest.h>

#include <atomic>
#include <barrier>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <caf/all.hpp>

#include "actors/router.hpp"
#include "concurrency/stress.hpp"

using namespace parley;

namespace {

// An actor that only exists to be pointed at. (It takes an argument: CAF
// 0.17 spawning a function without one binds a reference to a null tuple,
// which UBSan reports.)
caf::behavior idle_actor(caf::event_based_actor*, int) {
  return {[](int x) { return x; }};
}

// Real handles to publish (an entry published without a valid handle is
// dormant, and find() would try to wake it).
class directory_fixture : public ::testing::Test {
protected:
  void SetUp() override {
    cfg.set("scheduler.max-threads", size_t{1});
    sys.emplace(cfg);
    for (int i = 0; i < 8; ++i)
      actors.push_back(sys->spawn(idle_actor, i));
  }

  void TearDown() override {
    for (auto& a : actors)
      caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
    actors.clear();
    sys.reset();
  }

  caf::actor_system_config cfg;
  std::optional<caf::actor_system> sys;
  std::vector<caf::actor> actors;
};

using ActorDirectoryStress = directory_fixture;

// Ids that are only ever reserved and released (never published), and ids
// that go through reserve, publish (maybe twice), erase.
std::string reserved_only_id(size_t i) {
  return "r-" + std::to_string(i);
}
std::string published_id(size_t i) {
  return "p-" + std::to_string(i);
}

} // namespace

// Verifies that with threads racing try_reserve / publish / find / erase /
// snapshot / size / reserve on overlapping ids, each reservation has exactly
// one winner, find and snapshot never return a reserved-only entry (nor
// another id's actor), and size() counts exactly the published entries.
TEST_F(ActorDirectoryStress, ReserveHasOneWinnerAndFindSeesOnlyPublished) {
  constexpr size_t ids = 128;
  const uint64_t iterations = stress::scaled(150000);
  actor_directory dir;
  // Per id: how many threads hold it (won try_reserve and did not erase yet),
  // and whether the holder has published it (owner-maintained).
  std::vector<std::atomic<int>> r_owners(ids), p_owners(ids);
  std::vector<std::atomic<bool>> p_published(ids);
  auto actor_for = [&](size_t i) -> const caf::actor& { return actors[i % actors.size()]; };
  stress::violations bad;

  stress::run_together(6, [&](size_t t) {
    auto rng = stress::rng_for(t);
    std::vector<size_t> mine_r, mine_p; // ids this thread holds
    for (uint64_t it = 0; it < iterations; ++it) {
      const size_t i = rng() % ids;
      switch (rng() % 10) {
        case 0: { // reserve-only id: win, then release
          if (!dir.try_reserve(reserved_only_id(i)))
            break;
          bad.check(r_owners[i].fetch_add(1) == 0, [&] { return "two winners of " + reserved_only_id(i); });
          mine_r.push_back(i);
          break;
        }
        case 1: { // reserve a publishable id
          if (!dir.try_reserve(published_id(i)))
            break;
          bad.check(p_owners[i].fetch_add(1) == 0, [&] { return "two winners of " + published_id(i); });
          mine_p.push_back(i);
          break;
        }
        case 2: { // publish (or publish again) what this thread holds
          if (mine_p.empty())
            break;
          const size_t j = mine_p[rng() % mine_p.size()];
          p_published[j].store(true);
          dir.publish(published_id(j), actor_for(j));
          break;
        }
        case 3: { // release what this thread holds
          if (!mine_r.empty()) {
            const size_t j = mine_r.back();
            mine_r.pop_back();
            r_owners[j].fetch_sub(1); // before erase: the id is still taken
            dir.erase(reserved_only_id(j));
          }
          if (!mine_p.empty() && rng() % 2 == 0) {
            const size_t j = mine_p.back();
            mine_p.pop_back();
            p_owners[j].fetch_sub(1);
            p_published[j].store(false);
            dir.erase(published_id(j));
          }
          break;
        }
        case 4: { // erase an id nobody reserves: a no-op under the shard's lock
          dir.erase("never-" + std::to_string(i));
          break;
        }
        case 5: {
          bad.check(!dir.find(reserved_only_id(i)), [&] { return "find returned reserved " + reserved_only_id(i); });
          if (auto a = dir.find(published_id(i)))
            bad.check(a == actor_for(i), [&] { return "find returned another actor for " + published_id(i); });
          break;
        }
        case 6: {
          if (it % 64 != 0)
            break;
          std::set<std::string> seen;
          for (auto& [id, a] : dir.snapshot()) {
            bad.check(static_cast<bool>(a), [&] { return "snapshot holds an invalid handle for " + id; });
            bad.check(id.starts_with("p-"), [&] { return "snapshot holds reserved-only " + id; });
            bad.check(seen.insert(id).second, [&] { return "snapshot lists " + id + " twice"; });
            if (id.starts_with("p-"))
              bad.check(a == actor_for(std::stoul(id.substr(2))), [&] { return "snapshot: wrong actor for " + id; });
          }
          break;
        }
        case 7: {
          const size_t n = dir.size();
          bad.check(n <= ids, [&] { return "size() = " + std::to_string(n) + " with " + std::to_string(ids) + " ids"; });
          break;
        }
        case 8: {
          if (it % 256 == 0)
            dir.reserve(64);
          break;
        }
        default: {
          // Reserving a published or reserved id fails; reserving a free one
          // wins (then released at once).
          if (dir.try_reserve(published_id(i))) {
            bad.check(p_owners[i].fetch_add(1) == 0, [&] { return "two winners of " + published_id(i); });
            p_owners[i].fetch_sub(1);
            dir.erase(published_id(i));
          }
          break;
        }
      }
    }
    // Leave the published ids this thread holds published; release the rest.
    for (auto j : mine_r) {
      r_owners[j].fetch_sub(1);
      dir.erase(reserved_only_id(j));
    }
    for (auto j : mine_p)
      if (!p_published[j].load()) {
        p_owners[j].fetch_sub(1);
        dir.erase(published_id(j));
      }
  });

  EXPECT_EQ(bad.count(), 0u) << bad.summary();
  size_t published = 0;
  for (size_t i = 0; i < ids; ++i) {
    const bool pub = p_published[i].load();
    published += pub ? 1 : 0;
    EXPECT_EQ(static_cast<bool>(dir.find(published_id(i))), pub) << published_id(i);
    EXPECT_FALSE(dir.find(reserved_only_id(i))) << reserved_only_id(i);
    // Free ids can be reserved again, taken ones cannot.
    EXPECT_EQ(dir.try_reserve(reserved_only_id(i)), true) << reserved_only_id(i);
    EXPECT_EQ(dir.try_reserve(published_id(i)), p_owners[i].load() == 0) << published_id(i);
  }
  EXPECT_EQ(dir.size(), published);
  EXPECT_EQ(dir.snapshot().size(), published);
}

// Verifies that many threads racing to reserve the same fresh id, round
// after round, produce exactly one winner each round, and that publishing
// it makes every thread find the same actor.
TEST_F(ActorDirectoryStress, EveryRoundOfARaceForOneIdHasOneWinner) {
  const uint64_t rounds = stress::scaled(10000);
  constexpr size_t threads = 4;
  constexpr uint64_t kept = 8;
  actor_directory dir;
  std::vector<std::atomic<int>> winners(rounds);
  std::vector<std::atomic<int>> found(rounds);
  std::barrier round_done{static_cast<std::ptrdiff_t>(threads)};
  stress::run_together(threads, [&](size_t t) {
    for (uint64_t r = 0; r < rounds; ++r) {
      const auto id = "race-" + std::to_string(r);
      if (dir.try_reserve(id)) {
        winners[r].fetch_add(1);
        dir.publish(id, actors[r % actors.size()]);
      }
      // Spin until the winner (possibly another thread) published it.
      for (int spin = 0; spin < 10'000'000; ++spin)
        if (auto a = dir.find(id)) {
          if (a == actors[r % actors.size()])
            found[r].fetch_add(1);
          break;
        }
      round_done.arrive_and_wait();
      // Every thread is past round r: old rounds may go.
      if (t == 0 && r + kept < rounds)
        dir.erase(id);
    }
  });
  for (uint64_t r = 0; r < rounds; ++r) {
    ASSERT_EQ(winners[r].load(), 1) << "round " << r;
    ASSERT_EQ(found[r].load(), static_cast<int>(threads)) << "round " << r;
  }
  EXPECT_EQ(dir.size(), kept);
  EXPECT_EQ(dir.snapshot().size(), kept);
}

// Verifies that threads racing to find dormant entries wake each exactly
// once: the activator runs once per id, every finder gets the actor it
// made, lookup() never wakes, and the counts follow. Each round all threads
// find the same id at once, and waking takes a while (as a store read
// does), so that they meet.
TEST_F(ActorDirectoryStress, RacingFindsWakeADormantEntryOnce) {
  const uint64_t ids = stress::scaled(2000);
  constexpr size_t threads = 4;
  actor_directory dir;
  std::vector<std::atomic<int>> woken(ids);
  dir.set_activator([&](const std::string& id) {
    const auto i = std::stoull(id.substr(2));
    woken[i].fetch_add(1);
    std::this_thread::sleep_for(std::chrono::microseconds(20));
    return actors[i % actors.size()];
  });
  for (uint64_t i = 0; i < ids; ++i)
    ASSERT_TRUE(dir.publish_dormant(published_id(i)));
  ASSERT_FALSE(dir.publish_dormant(published_id(0))); // taken
  ASSERT_TRUE(dir.try_reserve("reserved"));
  ASSERT_FALSE(dir.publish_dormant("reserved"));
  EXPECT_EQ(dir.size(), ids);
  EXPECT_EQ(dir.active(), 0u);
  EXPECT_EQ(dir.lookup(published_id(1)), actor_directory::presence::dormant);
  EXPECT_EQ(dir.lookup("reserved"), actor_directory::presence::absent);
  EXPECT_FALSE(dir.find("reserved"));
  stress::violations bad;
  std::barrier round_start{static_cast<std::ptrdiff_t>(threads)};
  stress::run_together(threads, [&](size_t t) {
    for (uint64_t i = 0; i < ids; ++i) {
      round_start.arrive_and_wait();
      if (t == 0)
        bad.check(dir.lookup(published_id(i)) != actor_directory::presence::absent,
                  [&] { return published_id(i) + " vanished"; });
      auto a = dir.find(published_id(i));
      bad.check(a == actors[i % actors.size()], [&] { return "wrong actor for " + published_id(i); });
    }
  });
  EXPECT_EQ(bad.count(), 0u) << bad.summary();
  for (uint64_t i = 0; i < ids; ++i)
    ASSERT_EQ(woken[i].load(), 1) << published_id(i);
  EXPECT_EQ(dir.active(), ids);
  EXPECT_EQ(dir.size(), ids);
  EXPECT_EQ(dir.ids().size(), ids);
  EXPECT_EQ(dir.snapshot().size(), ids);
  dir.erase(published_id(0));
  EXPECT_EQ(dir.active(), ids - 1);
  EXPECT_EQ(dir.lookup(published_id(0)), actor_directory::presence::absent);
}
