// Stress tests of the node's event streams (node::subscribe -> event_stream,
// src/node/subscriptions.cpp): the bus's thread pushes into each stream's
// queue (one mutex per stream) while the stream's reader pulls from it, and
// readers come and go while the bus pushes.

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "concurrency/stress.hpp"
#include "support/node_fixture.hpp"

using namespace parley;
using namespace parley::test_support;
using namespace std::chrono_literals;

namespace {

const principal admin = principal::admin("stress");

// What one stream saw: its subscription, where it started and the offsets
// it received, in order.
struct fragment {
  topic_mask topics = all_topics;
  uint64_t start = 0;
  std::vector<uint64_t> seqs;
};

// The offsets of `log` a stream of `topics` starting at `start` must see,
// in order.
std::vector<uint64_t> expected_seqs(const std::vector<event>& log, topic_mask topics, uint64_t start) {
  std::vector<uint64_t> out;
  for (auto& e : log)
    if (e.seq >= start && (topics & mask_of(topic_of(e.kind))))
      out.push_back(e.seq);
  return out;
}

// Subscriptions the readers pick from.
constexpr topic_mask room_topics = mask_of(topic::room) | mask_of(topic::turn);
constexpr topic_mask agent_topics = mask_of(topic::agent_lifecycle) | mask_of(topic::agent_status);
constexpr topic_mask message_topics = mask_of(topic::message);
const topic_mask mask_choices[] = {all_topics, room_topics, agent_topics, message_topics};

} // namespace

// Verifies that while threads introduce agents, create and join rooms and
// send messages, reader threads that subscribe (live, or replaying from
// offset 1), read, and drop their streams mid-stream each see exactly the
// events of their topics from their start, in order, with no gap and no
// duplicate; dropping a stream while the bus pushes is harmless; and every
// subscription is gone once the streams are.
TEST(EventStreamStress, ReadersSeeGaplessOrderedEventsWhileStreamsComeAndGo) {
  node_config cfg;
  cfg.scheduler_threads = 2;
  cfg.time_source = std::make_shared<manual_clock>();
  // Room for every event of a long run (PARLEY_STRESS_ITERATIONS): a replay
  // from offset 1 must find them all, and no reader may be cut off.
  cfg.event_retention = size_t{1} << 22;
  cfg.limits.subscription_queue = 1u << 22;
  auto n = start_ok(cfg);
  ASSERT_TRUE(n);
  const uint64_t ops = stress::scaled(300);
  std::atomic<int> publishing{2};
  std::mutex frags_mtx;
  std::vector<fragment> frags; // streams dropped mid-stream
  // The last stream of each reader lives to the end, with what it saw.
  std::vector<std::pair<std::unique_ptr<event_stream>, fragment>> survivors;
  stress::violations bad;

  // 0, 1: publishers; 2-5: readers.
  stress::run_together(6, [&](size_t t) {
    auto rng = stress::rng_for(t);
    if (t < 2) {
      const auto me = "pub" + std::to_string(t);
      for (uint64_t i = 0; i < ops; ++i) {
        const auto id = me + "-" + std::to_string(i);
        bad.check(n->introduce(admin, make_spec(id)).has_value(), [&] { return "introduce " + id; });
        if (i % 4 == 0) {
          // A burst: the bus hands out one event per agent in one go.
          std::vector<agent_spec> batch;
          for (int k = 0; k < 96; ++k)
            batch.push_back(make_spec(id + "-b" + std::to_string(k)));
          bad.check(n->introduce_many(admin, std::move(batch)).has_value(), [&] { return "introduce_many " + id; });
          group_spec g;
          g.id = "room-of-" + id;
          g.rules = unmoderated();
          bad.check(n->create_group(admin, id, g).has_value(), [&] { return "create " + g.id; });
        }
        if (i >= 4) {
          const auto older = me + "-" + std::to_string(i - 1 - rng() % 4);
          (void) n->join(admin, "room-of-" + me + "-" + std::to_string((i / 4 - 1) * 4), older);
          (void) n->send(admin, direct_message(id, older, "hi " + std::to_string(i)));
        }
      }
      publishing.fetch_sub(1);
      return;
    }
    for (;;) {
      subscription_spec spec;
      spec.topics = mask_choices[rng() % 4];
      spec.from_seq = rng() % 3 == 0 ? 1 : 0;
      auto s = n->subscribe(admin, spec);
      if (!s) {
        bad.add("subscribe: " + to_string(s.error()));
        return;
      }
      fragment f;
      f.topics = spec.topics;
      f.start = (*s)->resume_from();
      bad.check(spec.from_seq == 0 || f.start == 1, [&] { return "replay starts at " + std::to_string(f.start); });
      // Read a while, then drop the stream (with events still queued and
      // the bus pushing), or keep it once the publishers are done.
      const int reads = 1 + static_cast<int>(rng() % 400);
      for (int r = 0; r < reads && publishing.load() > 0; ++r)
        for (auto& e : (*s)->next(1 + rng() % 16, std::chrono::milliseconds(rng() % 2)))
          f.seqs.push_back(e.seq);
      std::lock_guard guard{frags_mtx};
      if (publishing.load() == 0) {
        survivors.emplace_back(std::move(*s), std::move(f));
        return;
      }
      frags.push_back(std::move(f));
    }
  });
  EXPECT_EQ(bad.count(), 0u) << bad.summary();

  // Agents still finish what the calls started (serving a message publishes
  // message_read after the send returned): drain the survivors until they
  // have every event of the log, or time runs out.
  std::vector<event> log;
  auto survivors_complete = [&] {
    if (!n->sync_events(admin))
      return false;
    auto l = n->events_since(admin, 1, 1'000'000);
    if (!l)
      return false;
    log = std::move(*l);
    bool complete = true;
    for (auto& [stream, f] : survivors) {
      for (auto got = stream->next(4096, 0ms); !got.empty(); got = stream->next(4096, 0ms))
        for (auto& e : got)
          f.seqs.push_back(e.seq);
      complete = complete && f.seqs.size() >= expected_seqs(log, f.topics, f.start).size();
    }
    return complete;
  };
  EXPECT_TRUE(eventually(survivors_complete, 10s));
  ASSERT_FALSE(log.empty());
  for (size_t i = 1; i < log.size(); ++i)
    ASSERT_EQ(log[i].seq, log[i - 1].seq + 1) << "the log itself has a gap";
  ASSERT_EQ(survivors.size(), 4u);
  for (auto& [stream, f] : survivors) {
    EXPECT_FALSE(stream->ended()) << to_string(*stream->ended());
    EXPECT_EQ(f.seqs, expected_seqs(log, f.topics, f.start))
      << "a stream read to the end (topics " << int(f.topics) << ", from " << f.start << ")";
  }
  size_t total_events = 0;
  for (auto& f : frags) {
    auto want = expected_seqs(log, f.topics, f.start);
    ASSERT_LE(f.seqs.size(), want.size());
    want.resize(f.seqs.size());
    EXPECT_EQ(f.seqs, want) << "a dropped stream (topics " << int(f.topics) << ", from " << f.start << ")";
    total_events += f.seqs.size();
  }
  EXPECT_GT(frags.size(), 0u) << "no stream was dropped mid-stream";
  EXPECT_GT(total_events, 0u);
  EXPECT_EQ(n->stats().subscriptions, survivors.size());
  survivors.clear();
  EXPECT_EQ(n->stats().subscriptions, 0u);
  n->stop();
}
