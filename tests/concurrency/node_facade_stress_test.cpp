// Stress tests of races through the node facade (include/parley/node/node.hpp),
// whose every call is promised thread-safe: concurrent creations of one
// pair's direct room (router reservation), concurrent joins, leaves and
// retirements in the same rooms (moderator vs agent actor), and concurrent
// retries of one idempotency key on a durable node (agent's in-flight sends,
// the store's idempotency guard).

#include <gtest/gtest.h>

#include <atomic>
#include <barrier>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "concurrency/stress.hpp"
#include "support/node_fixture.hpp"
#include "support/temp_dir.hpp"

using namespace parley;
using namespace parley::test_support;

namespace {

const principal admin = principal::admin("stress");

node_config memory_config() {
  node_config cfg;
  cfg.scheduler_threads = 2;
  cfg.time_source = std::make_shared<manual_clock>();
  return cfg;
}

std::vector<agent_id> introduce_all(node& n, const std::string& prefix, size_t count) {
  std::vector<agent_id> ids;
  for (size_t i = 0; i < count; ++i) {
    ids.push_back(prefix + std::to_string(i));
    EXPECT_TRUE(succeeded(n.introduce(admin, make_spec(ids.back()))));
  }
  return ids;
}

size_t count_of(const std::vector<room_id>& rooms, const room_id& r) {
  return static_cast<size_t>(std::count(rooms.begin(), rooms.end(), r));
}

} // namespace

// Verifies that threads creating the direct rooms of the same pairs at the
// same time (in both argument orders) all succeed with one room per pair:
// the same id for every caller, one room_created event, two members, and
// each agent's manifest lists the room once.
TEST(NodeFacadeStress, ConcurrentCreateDirectYieldsOneRoomPerPair) {
  auto n = start_ok(memory_config());
  ASSERT_TRUE(n);
  const uint64_t rounds = stress::scaled(16);
  constexpr size_t agents = 6, threads = 4;
  for (uint64_t round = 0; round < rounds; ++round) {
    auto ids = introduce_all(*n, "d" + std::to_string(round) + "-", agents);
    std::vector<std::pair<agent_id, agent_id>> pairs;
    for (size_t i = 0; i < agents; ++i)
      for (size_t j = i + 1; j < agents; ++j)
        pairs.emplace_back(ids[i], ids[j]);
    std::mutex mtx;
    std::map<std::pair<agent_id, agent_id>, std::set<room_id>> got;
    stress::violations bad;
    std::barrier step{static_cast<std::ptrdiff_t>(threads)};
    stress::run_together(threads, [&](size_t t) {
      for (auto& [a, b] : pairs) {
        step.arrive_and_wait(); // every thread on the same pair at once
        auto r = t % 2 == 0 ? n->create_direct(admin, a, b) : n->create_direct(admin, b, a);
        if (!r) {
          bad.add("create_direct " + a + "/" + b + ": " + to_string(r.error()));
          continue;
        }
        std::lock_guard guard{mtx};
        got[{a, b}].insert(r->id);
      }
    });
    ASSERT_EQ(bad.count(), 0u) << bad.summary();
    auto log = n->events_since(admin, 1, 1'000'000);
    ASSERT_TRUE(log);
    for (auto& [pair, rooms] : got) {
      ASSERT_EQ(rooms.size(), 1u) << pair.first << "/" << pair.second << " got several rooms";
      const auto& id = *rooms.begin();
      size_t created = 0, joined = 0;
      for (auto& e : *log) {
        created += e.kind == event_kind::room_created && e.room == id;
        joined += e.kind == event_kind::member_joined && e.room == id;
      }
      EXPECT_EQ(created, 1u) << id;
      EXPECT_EQ(joined, 2u) << id;
      auto r = n->get_room(admin, id);
      ASSERT_TRUE(succeeded(r));
      ASSERT_EQ(r->members.size(), 2u);
      EXPECT_EQ(r->pair, (std::vector<agent_id>{pair.first, pair.second}));
    }
    for (auto& id : ids) {
      auto m = n->get_manifest(admin, id);
      ASSERT_TRUE(succeeded(m));
      EXPECT_EQ(m->rooms.size(), agents - 1) << id;
      for (auto& [pair, rooms] : got) {
        if (pair.first != id && pair.second != id)
          continue;
        EXPECT_EQ(count_of(m->rooms, *rooms.begin()), 1u) << id << " in " << *rooms.begin();
      }
    }
  }
  n->stop();
}

// Verifies that after threads join, leave and retire the same agents in
// the same rooms concurrently (with readers of rooms and manifests in
// between), each room's member list and every agent's manifest agree both
// ways: an agent is a member exactly when its manifest lists the room.
TEST(NodeFacadeStress, JoinLeaveRetireRacesLeaveMembershipAndManifestsAgreeing) {
  auto n = start_ok(memory_config());
  ASSERT_TRUE(n);
  constexpr size_t agents = 24, rooms = 2;
  const uint64_t iterations = stress::scaled(4000);
  ASSERT_TRUE(succeeded(n->introduce(admin, make_spec("owner"))));
  auto ids = introduce_all(*n, "m", agents);
  std::vector<room_id> room_ids;
  for (size_t r = 0; r < rooms; ++r) {
    group_spec g;
    g.id = "arena-" + std::to_string(r);
    g.rules = moderated(speaker_policy::fifo);
    ASSERT_TRUE(succeeded(n->create_group(admin, "owner", g)));
    room_ids.push_back(g.id);
  }
  stress::violations bad;
  std::atomic<uint64_t> joins{0}, leaves{0}, retirements{0};
  stress::run_together(4, [&](size_t t) {
    auto rng = stress::rng_for(t);
    for (uint64_t i = 0; i < iterations; ++i) {
      const auto& who = ids[rng() % agents];
      const auto& r = room_ids[rng() % rooms];
      const auto op = rng() % 40;
      if (op < 18) {
        if (n->join(admin, r, who))
          joins.fetch_add(1);
      } else if (op < 34) {
        if (n->leave(admin, r, who))
          leaves.fetch_add(1);
      } else if (op < 36) {
        (void) n->request_turn(admin, r, who);
      } else if (op < 37 && &who < &ids[agents / 3]) {
        // A third of the agents may retire; the others keep churning.
        if (n->retire(admin, who))
          retirements.fetch_add(1);
      } else {
        auto got = n->get_room(admin, r);
        bad.check(got.has_value(), [&] { return "get_room " + r; });
        if (got) {
          std::set<agent_id> unique;
          for (auto& m : got->members)
            bad.check(unique.insert(m.id).second, [&] { return m.id + " twice in " + r; });
        }
      }
    }
  });
  EXPECT_EQ(bad.count(), 0u) << bad.summary();
  EXPECT_GT(joins.load(), 0u);
  EXPECT_GT(leaves.load(), 0u);
  EXPECT_GT(retirements.load(), 0u);

  std::map<room_id, std::set<agent_id>> members;
  for (auto& r : room_ids) {
    auto got = n->get_room(admin, r);
    ASSERT_TRUE(succeeded(got));
    for (auto& m : got->members)
      members[r].insert(m.id);
    EXPECT_EQ(members[r].count("owner"), 1u) << r;
    // Whoever holds or waits for the turn is a member.
    auto turns = n->turns(admin, r);
    ASSERT_TRUE(succeeded(turns));
    if (turns->current) {
      EXPECT_EQ(members[r].count(turns->current->speaker), 1u) << turns->current->speaker << " holds the turn";
    }
    for (auto& w : turns->waiting)
      EXPECT_EQ(members[r].count(w.who), 1u) << w.who << " waits for the turn";
  }
  ids.push_back("owner");
  for (auto& id : ids) {
    auto m = n->get_manifest(admin, id);
    ASSERT_TRUE(succeeded(m));
    for (auto& r : room_ids)
      EXPECT_EQ(count_of(m->rooms, r), members[r].count(id))
        << id << (m->status == agent_status::retired ? " (retired)" : "") << " and " << r
        << ": the manifest and the member list disagree";
  }
  n->stop();
}

// Verifies that on a durable node threads sending the same message (same
// sender and id) at the same moment, to an agent and to a room, all succeed
// with the first send's sent_at, and exactly one copy is delivered (one
// entry in the history, one delivery event).
TEST(NodeFacadeStress, ConcurrentRetriesOfOneIdempotencyKeyDeliverOnce) {
  test::temp_dir dir;
  auto cfg = durable_config(dir.str());
  cfg.scheduler_threads = 2;
  cfg.record_message_events = true;
  auto clk = std::make_shared<manual_clock>();
  cfg.time_source = clk;
  auto n = start_ok(cfg);
  ASSERT_TRUE(n);
  for (auto id : {"sender", "receiver", "listener"})
    ASSERT_TRUE(succeeded(n->introduce(admin, make_spec(id))));
  group_spec g;
  g.id = "plaza";
  g.rules = unmoderated();
  ASSERT_TRUE(succeeded(n->create_group(admin, "sender", g)));
  ASSERT_TRUE(succeeded(n->join(admin, "plaza", "listener")));

  constexpr size_t threads = 4;
  const uint64_t keys = stress::scaled(24);
  std::vector<std::vector<expected<message>>> results(keys * 2, std::vector<expected<message>>(threads, unexpected{errc::internal, "not sent"}));
  std::barrier step{static_cast<std::ptrdiff_t>(threads)};
  stress::run_together(threads, [&](size_t t) {
    for (uint64_t k = 0; k < keys; ++k)
      for (int to_room = 0; to_room < 2; ++to_room) {
        auto m = to_room ? room_message("sender", "plaza", "once") : direct_message("sender", "receiver", "once");
        m.id = (to_room ? "room-key-" : "direct-key-") + std::to_string(k);
        step.arrive_and_wait();
        clk->advance(1); // each retry is stamped later than the first
        results[2 * k + to_room][t] = n->send(admin, m);
      }
  });

  auto history_count = [&](bool room, const message_id& id) {
    history_query q;
    q.limit = max_page_size;
    auto page = room ? n->room_history(admin, "plaza", q) : n->direct_history(admin, "sender", "receiver", q);
    EXPECT_TRUE(succeeded(page));
    size_t c = 0;
    if (page)
      for (auto& m : page->messages)
        c += m.id == id;
    return c;
  };
  EXPECT_TRUE(succeeded(n->sync_events(admin)));
  auto log = n->events_since(admin, 1, 1'000'000);
  ASSERT_TRUE(succeeded(log));
  for (uint64_t k = 0; k < keys; ++k)
    for (int to_room = 0; to_room < 2; ++to_room) {
      const auto id = (to_room ? "room-key-" : "direct-key-") + std::to_string(k);
      auto& rs = results[2 * k + to_room];
      for (auto& r : rs) {
        ASSERT_TRUE(succeeded(r)) << id;
        EXPECT_EQ(r->sent_at, rs[0]->sent_at) << id << ": callers saw different sends";
        EXPECT_EQ(r->status, message_status::delivered) << id;
      }
      EXPECT_EQ(history_count(to_room, id), 1u) << id;
      size_t delivered = 0;
      for (auto& e : *log)
        delivered += e.kind == event_kind::message_delivered && e.detail == "sender/" + id;
      EXPECT_EQ(delivered, 1u) << id << " delivered " << delivered << " times";
    }
  n->stop();
}
