// Stress tests of parley::external_behavior, the hand-over between an
// external agent's actor thread (react() pushes, ready()), its link's
// thread (attach(), next(), add_credit(), detach()) and API threads
// (acknowledge(), add_credit()). One mutex guards it; these tests hammer it
// from all sides and check what it promises (include/parley/behavior/external.hpp).

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "concurrency/stress.hpp"
#include "parley/behavior/external.hpp"

using namespace parley;
using namespace std::chrono_literals;

namespace {

// What the agent actor does when it serves one input: react() on its thread.
void push(external_behavior& ext, const behavior_input& in) {
  static const manifest man = [] {
    manifest m;
    m.id = "ext";
    return m;
  }();
  static const std::vector<std::shared_ptr<const skill>> no_skills;
  behavior_view view{man, no_skills, nullptr, 0};
  std::vector<behavior_action> out;
  ext.react(view, in, out);
}

void push_message(external_behavior& ext, uint64_t delivery) {
  message m;
  m.id = "m" + std::to_string(delivery);
  m.from = "peer";
  m.to = address::agent("ext");
  m.content = "hello";
  m.delivery = delivery;
  behavior_input in;
  in.k = behavior_input::kind::message;
  in.msg = &m;
  push(ext, in);
}

void push_grant(external_behavior& ext, uint64_t turn) {
  behavior_input in;
  in.k = behavior_input::kind::turn_granted;
  in.room = "lounge";
  in.turn = turn;
  push(ext, in);
}

// The credit cap every test uses for add_credit.
constexpr uint32_t cap = 64;

// Shared bookkeeping of the main stress test.
struct ledger {
  explicit ledger(uint64_t n) : acked(n + 1) {}

  // How often acknowledge() returned each delivery (must end at exactly 1).
  std::vector<std::atomic<uint32_t>> acked;
  // Highest delivery pushed so far.
  std::atomic<uint64_t> pushed{0};
  std::atomic<uint64_t> grants_pushed{0};
  std::atomic<uint64_t> grants_taken{0};
  // Messages the competing links took (the last drain not counted).
  std::atomic<uint64_t> link_takes{0};
  // Credit given by API threads: counted before and after each call, so an
  // attach can bound what landed while it was open.
  std::atomic<uint64_t> api_credit_started{0};
  std::atomic<uint64_t> api_credit_finished{0};
  // Links open at once (at most one).
  std::atomic<int> holders{0};
  // Highest delivery ever handed out (maintained by the link holder).
  std::atomic<uint64_t> max_taken{0};
  // Taken and not yet acknowledged, as far as the test knows.
  std::mutex mtx;
  std::set<uint64_t> outstanding;
  // Deliveries acknowledge() called unknown although they had been pushed:
  // each must have been acknowledged before.
  std::vector<uint64_t> unknown_after_push;
  stress::violations bad;

  // Acknowledges and books the result in one step (under the test's lock),
  // so no check sees an acknowledgement that is not booked yet.
  void acknowledge(external_behavior& ext, const std::vector<uint64_t>& ds,
                   uint64_t unknown_below = 0) {
    std::lock_guard guard{mtx};
    std::vector<uint64_t> unknown;
    for (auto& m : ext.acknowledge(ds, &unknown)) {
      if (m.delivery == 0 || m.delivery >= acked.size()) {
        bad.add("acknowledge returned delivery " + std::to_string(m.delivery));
        continue;
      }
      acked[m.delivery].fetch_add(1);
      outstanding.erase(m.delivery);
    }
    for (auto d : unknown)
      if (d < unknown_below)
        unknown_after_push.push_back(d);
  }
};

// One link session: attach, take, acknowledge some, detach. Checks the
// per-attach promises: one link at a time, deliveries strictly increasing
// (so none twice), credit not exceeded, the resend first and complete.
void link_session(external_behavior& ext, ledger& l, std::mt19937_64& rng,
                  std::vector<uint64_t>& ack_later) {
  const uint32_t initial = 1 + rng() % 16;
  const uint64_t api_before = l.api_credit_finished.load();
  if (!ext.attach(initial)) {
    std::this_thread::yield(); // another link is open
    return;
  }
  l.bad.check(l.holders.fetch_add(1) == 0, [] { return std::string{"two links attached at once"}; });
  const uint64_t prev_max = l.max_taken.load();
  std::set<uint64_t> snapshot;
  {
    std::lock_guard guard{l.mtx};
    snapshot = l.outstanding;
  }
  uint64_t own_credit = 0, taken = 0, last = 0;
  bool took_fresh = false;
  std::set<uint64_t> resent;
  const int steps = 20 + static_cast<int>(rng() % 200);
  for (int i = 0; i < steps; ++i) {
    auto item = ext.next(0ms);
    if (!item) {
      if (rng() % 4 == 0) {
        const uint32_t n = 1 + rng() % 8;
        ext.add_credit(n, cap);
        own_credit += n;
      }
      std::this_thread::yield();
      continue;
    }
    if (item->k != link_item::kind::message) {
      l.grants_taken.fetch_add(1);
      continue;
    }
    const uint64_t d = item->msg.delivery;
    ++taken;
    l.link_takes.fetch_add(1);
    l.bad.check(d > last, [&] {
      return "delivery " + std::to_string(d) + " handed out after " + std::to_string(last)
             + " in one attach";
    });
    last = d;
    if (d <= prev_max) {
      resent.insert(d);
      l.bad.check(!took_fresh, [&] { return "resent " + std::to_string(d) + " after a fresh one"; });
      l.bad.check(snapshot.count(d) == 1, [&] {
        return "delivery " + std::to_string(d) + " resent though not outstanding at attach";
      });
    } else {
      took_fresh = true;
      l.max_taken.store(d);
    }
    {
      std::lock_guard guard{l.mtx};
      l.outstanding.insert(d);
    }
    if (rng() % 2 == 0)
      l.acknowledge(ext, {d});
    else
      ack_later.push_back(d);
    if (ack_later.size() > 8 && rng() % 4 == 0) {
      l.acknowledge(ext, ack_later);
      ack_later.clear();
    }
  }
  const uint64_t api_allowance = l.api_credit_started.load() - api_before;
  l.bad.check(taken <= initial + own_credit + api_allowance, [&] {
    return "took " + std::to_string(taken) + " messages on credit "
           + std::to_string(initial + own_credit + api_allowance);
  });
  if (took_fresh) {
    // Everything outstanding at the attach came first, unless acknowledged.
    std::lock_guard guard{l.mtx};
    for (auto d : snapshot)
      l.bad.check(resent.count(d) == 1 || l.acked[d].load() > 0, [&] {
        return "outstanding delivery " + std::to_string(d) + " not resent after a re-attach";
      });
  }
  l.holders.fetch_sub(1);
  ext.detach();
}

} // namespace

// Verifies that with the agent pushing, two links competing to attach and
// API threads acknowledging known and unknown deliveries and granting
// credit, every delivery is handed out at most once per attach (in order,
// resends first), credit is never exceeded, and in the end every delivery
// is acknowledged exactly once and nothing waits.
TEST(ExternalBehaviorStress, ConcurrentHandOverKeepsEveryDeliveryOnce) {
  const uint64_t n = stress::scaled(8000);
  external_behavior ext;
  ledger l{n};
  std::atomic<bool> stop{false};
  std::atomic<int> producing{1};
  // 0: the agent; 1, 2: links; 3, 4: API threads.
  stress::run_together(5, [&](size_t t) {
    auto rng = stress::rng_for(t);
    if (t == 0) {
      for (uint64_t d = 1; d <= n; ++d) {
        // The agent serves while the link is ready (as serve_some does),
        // and now and then regardless (input taken while a link was open).
        for (int spin = 0; !ext.ready() && spin < 64; ++spin)
          std::this_thread::yield();
        push_message(ext, d);
        l.pushed.store(d);
        if (d % 8 == 0) {
          push_grant(ext, d);
          l.grants_pushed.fetch_add(1);
        }
      }
      producing.store(0);
      return;
    }
    if (t <= 2) {
      std::vector<uint64_t> ack_later;
      while (producing.load() != 0 || !stop.load())
        link_session(ext, l, rng, ack_later);
      l.acknowledge(ext, ack_later);
      return;
    }
    for (uint64_t i = 0; producing.load() != 0; ++i) {
      // Known numbers (held, taken or already acknowledged) and unknown
      // ones (not pushed yet, or never).
      const uint64_t known = l.pushed.load();
      l.acknowledge(ext, {1 + rng() % (known + 20), 1 + rng() % (known + 20)}, known + 1);
      if (i % 8 == 0) {
        l.api_credit_started.fetch_add(4);
        ext.add_credit(4, cap);
        l.api_credit_finished.fetch_add(4);
      }
      (void) ext.attached();
      (void) ext.waiting();
      std::this_thread::yield();
    }
    stop.store(true);
  });
  // Quiet now: a last link takes the rest and acknowledges everything.
  ASSERT_TRUE(ext.attach(1u << 20));
  std::vector<uint64_t> rest;
  while (auto item = ext.next(0ms)) {
    if (item->k == link_item::kind::message)
      rest.push_back(item->msg.delivery);
    else
      l.grants_taken.fetch_add(1);
  }
  l.acknowledge(ext, rest);
  ext.detach();

  EXPECT_EQ(l.bad.count(), 0u) << l.bad.summary();
  EXPECT_EQ(ext.waiting(), 0u);
  EXPECT_EQ(ext.unacknowledged(), 0u);
  EXPECT_EQ(l.grants_taken.load(), l.grants_pushed.load());
  EXPECT_GT(l.link_takes.load(), n / 2) << "the competing links took too little to test much";
  size_t wrong = 0;
  for (uint64_t d = 1; d <= n; ++d)
    if (l.acked[d].load() != 1 && ++wrong <= 5)
      ADD_FAILURE() << "delivery " << d << " acknowledged " << l.acked[d].load() << " times";
  EXPECT_EQ(wrong, 0u);
  for (auto d : l.unknown_after_push)
    EXPECT_EQ(l.acked[d].load(), 1u) << "delivery " << d << " was called unknown while held";
}

// Verifies that while the agent keeps pushing, each re-attach hands out
// first exactly the deliveries the previous link took and did not
// acknowledge, in the order it took them.
TEST(ExternalBehaviorStress, ReattachResendsExactlyTheUnacknowledgedInOrder) {
  const uint64_t n = stress::scaled(20000);
  external_behavior ext;
  std::atomic<bool> done{false};
  stress::violations bad;
  uint64_t acknowledged = 0;
  stress::run_together(2, [&](size_t t) {
    if (t == 0) {
      for (uint64_t d = 1; d <= n; ++d)
        push_message(ext, d);
      done.store(true);
      return;
    }
    auto rng = stress::rng_for(t);
    std::vector<uint64_t> unacked; // in the order taken
    uint64_t next_fresh = 1;
    for (;;) {
      const bool last_round = done.load();
      if (!ext.attach(cap)) {
        bad.add("attach refused with no link open");
        return;
      }
      // The resend: exactly `unacked`, in order, before anything fresh.
      std::vector<uint64_t> got;
      while (got.size() < unacked.size()) {
        auto item = ext.next(50ms);
        if (!item)
          break;
        got.push_back(item->msg.delivery);
        if (got.size() % cap == 0)
          ext.add_credit(cap, cap);
      }
      bad.check(got == unacked, [&] {
        return "resent " + std::to_string(got.size()) + " deliveries, expected "
               + std::to_string(unacked.size()) + " (first differs at "
               + std::to_string(std::mismatch(got.begin(), got.end(), unacked.begin(), unacked.end()).first
                                - got.begin())
               + ")";
      });
      // Fresh ones: take some, acknowledge a random part.
      std::vector<uint64_t> keep;
      for (auto d : unacked) {
        if (rng() % 3 == 0) {
          keep.push_back(d);
        } else {
          acknowledged += ext.acknowledge({d}).size();
        }
      }
      const int take = last_round ? static_cast<int>(n) : static_cast<int>(rng() % 40);
      ext.add_credit(cap, cap);
      for (int i = 0; i < take; ++i) {
        auto item = ext.next(last_round ? 0ms : 1ms);
        if (!item)
          break;
        const auto d = item->msg.delivery;
        bad.check(d == next_fresh, [&] {
          return "fresh delivery " + std::to_string(d) + ", expected " + std::to_string(next_fresh);
        });
        next_fresh = d + 1;
        if (rng() % 3 == 0) {
          keep.push_back(d);
        } else {
          acknowledged += ext.acknowledge({d}).size();
        }
        if (i % 32 == 31)
          ext.add_credit(32, cap);
      }
      unacked = std::move(keep);
      ext.detach();
      if (last_round && next_fresh > n)
        break;
    }
    // Whatever is still unacknowledged is exactly what the link kept.
    bad.check(ext.unacknowledged() == unacked.size(), [&] {
      return "unacknowledged() = " + std::to_string(ext.unacknowledged()) + ", link kept "
             + std::to_string(unacked.size());
    });
    std::vector<uint64_t> unknown;
    acknowledged += ext.acknowledge(unacked, &unknown).size();
    bad.check(unknown.empty(), [] { return std::string{"kept deliveries were unknown"}; });
  });
  EXPECT_EQ(bad.count(), 0u) << bad.summary();
  EXPECT_EQ(acknowledged, n);
  EXPECT_EQ(ext.waiting(), 0u);
}

// Verifies that credit granted by many threads at once adds up exactly (no
// grant is lost), and that add_credit saturates at its cap when they grant
// amounts near UINT32_MAX (the window never wraps around). The window is
// read the way the agent sees it: it queues messages until ready() says no.
TEST(ExternalBehaviorStress, AddCreditAddsUpAndSaturatesUnderConcurrentGrants) {
  constexpr uint32_t window = 1000;
  const uint64_t rounds = stress::scaled(60);
  auto queued_until_not_ready = [](external_behavior& ext) {
    uint64_t queued = 0;
    while (ext.ready() && queued <= 2 * window)
      push_message(ext, ++queued);
    return queued;
  };
  for (uint64_t round = 0; round < rounds; ++round) {
    external_behavior sum, capped;
    ASSERT_TRUE(sum.attach(0));
    ASSERT_TRUE(capped.attach(0));
    stress::run_together(4, [&](size_t t) {
      auto rng = stress::rng_for(t, round);
      for (uint32_t i = 0; i < window / 4; ++i) {
        sum.add_credit(1);
        capped.add_credit(UINT32_MAX - static_cast<uint32_t>(rng() % 1000), window);
        (void) sum.ready();
      }
    });
    ASSERT_EQ(queued_until_not_ready(sum), window) << "round " << round;
    ASSERT_EQ(queued_until_not_ready(capped), window) << "round " << round;
  }
}
