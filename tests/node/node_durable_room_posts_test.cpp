// Room posts of a node with a store: a room without turns takes further
// posts while its last one is being written (pipelined durability), yet
// every post is acknowledged only once it is on disk, stored and delivered
// in each sender's order, taken once under one key, and a failed write
// leaves nothing behind.

#include <algorithm>
#include <atomic>
#include <map>
#include <set>
#include <thread>

#include "support/node_fixture.hpp"
#include "support/recording_behavior.hpp"
#include "support/temp_dir.hpp"

namespace parley {
namespace {

using test_support::as_admin;
using test_support::durable_config;
using test_support::fails_with;
using test_support::make_spec;
using test_support::recording_behavior;
using test_support::room_message;
using test_support::start_ok;
using test_support::succeeded;
using test_support::unmoderated;

message post(const agent_id& from, const std::string& content, const message_id& id) {
  auto m = room_message(from, "hall", content);
  m.id = id;
  return m;
}

/// The room's stored history, oldest first, as "from/id".
std::vector<std::string> stored_posts(node& n) {
  history_query q;
  q.limit = max_page_size;
  auto page = n.room_history(as_admin, "hall", q);
  EXPECT_TRUE(succeeded(page));
  std::vector<std::string> out;
  if (page)
    for (auto it = page->messages.rbegin(); it != page->messages.rend(); ++it)
      out.push_back(it->from + "/" + it->id);
  return out;
}

/// The posts waiting in `who`'s durable inbox, in delivery order, as
/// "from/id": the order the moderator stored them in.
std::vector<std::string> inbox_of(node& n, const agent_id& who) {
  auto inbox = n.inbox(as_admin, who, max_page_size);
  EXPECT_TRUE(succeeded(inbox));
  std::vector<std::string> out;
  if (inbox)
    for (auto& m : *inbox)
      out.push_back(m.from + "/" + m.id);
  return out;
}

/// Each sender's ids, in the order of `entries` ("from/id").
std::map<std::string, std::vector<std::string>> per_sender(const std::vector<std::string>& entries) {
  std::map<std::string, std::vector<std::string>> out;
  for (auto& e : entries) {
    auto slash = e.find('/');
    out[e.substr(0, slash)].push_back(e.substr(slash + 1));
  }
  return out;
}

/// A node with room "hall" (no turns) of a recording member "listener" (its
/// owner; with a gate, it waits there once it got the first post) and
/// external agents with no link, whose inboxes keep every post
/// (so that only the posts and the listener's served entries are written):
/// `senders` members s0.. and "keeper".
struct hall {
  explicit hall(int senders, std::shared_ptr<test_support::gate> g = nullptr)
    : listener(std::make_shared<recording_behavior>(std::move(g))) {
    n = start_ok(cfg);
    if (!n)
      return;
    auto spec = make_spec("listener");
    spec.custom = listener;
    EXPECT_TRUE(succeeded(n->introduce(as_admin, spec)));
    EXPECT_TRUE(succeeded(n->create_group(as_admin, "listener", {"hall", "", unmoderated(), room_access::open})));
    EXPECT_TRUE(succeeded(n->introduce(as_admin, make_spec("keeper", behavior_spec::kind::external))));
    EXPECT_TRUE(succeeded(n->join(as_admin, "hall", "keeper")));
    for (int i = 0; i < senders; ++i) {
      const auto id = "s" + std::to_string(i);
      EXPECT_TRUE(succeeded(n->introduce(as_admin, make_spec(id, behavior_spec::kind::external))));
      EXPECT_TRUE(succeeded(n->join(as_admin, "hall", id)));
    }
  }

  test::temp_dir dir;
  std::shared_ptr<storage::disk_faults> faults = std::make_shared<storage::disk_faults>();
  node_config cfg = durable_config(dir.str(), faults);
  manual_clock* clock = const_cast<manual_clock*>(static_cast<const manual_clock*>(cfg.time_source.get()));
  std::shared_ptr<recording_behavior> listener;
  std::unique_ptr<node> n;
};

// Verifies a room takes posts while its last one is being written: posts
// from many senders to one room share the writer's group commits (on a slow
// disk, 24 posts cost about 2 to 4 writes, not 24), each is acknowledged only
// once it is stored, and history and deliveries keep each sender's order.
TEST(NodeDurableRoomPosts, ARoomTakesPostsWhileItsLastIsWritten) {
  constexpr int senders = 8, each = 3;
  // The listener holds on to the first post until the posts are written,
  // so that its served entries are not written (behind) meanwhile.
  auto g = std::make_shared<test_support::gate>();
  test_support::gate_opener opener{g};
  hall h{senders, g};
  ASSERT_TRUE(h.n);
  auto& n = *h.n;
  h.faults->slow_syncs(std::chrono::milliseconds(200));
  const auto before = n.stats();
  std::atomic<int> failed{0}, acked_but_not_stored{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < senders; ++i)
    threads.emplace_back([&, i] {
      const auto from = "s" + std::to_string(i);
      for (int k = 0; k < each; ++k) {
        const auto id = "p" + std::to_string(k);
        if (!n.send(as_admin, post(from, std::to_string(k), id))) {
          ++failed;
          continue;
        }
        auto stored = stored_posts(n);
        if (std::find(stored.begin(), stored.end(), from + "/" + id) == stored.end())
          ++acked_but_not_stored;
      }
    });
  for (auto& t : threads)
    t.join();
  h.faults->slow_syncs(std::chrono::milliseconds(0));
  const auto after = n.stats();
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(acked_but_not_stored.load(), 0);
  const auto writes = after.storage_writes - before.storage_writes;
  const auto batches = after.storage_batches - before.storage_batches;
  EXPECT_GE(batches, uint64_t{senders * each});
  // Holding the moderator during each write needs one write per post.
  EXPECT_LE(writes, uint64_t{senders * each / 2}) << batches << " batches took " << writes << " writes";
  EXPECT_EQ(stored_posts(n).size(), size_t{senders * each});
  g->open();
  const std::vector<std::string> in_order{"p0", "p1", "p2"};
  auto stored = per_sender(inbox_of(n, "keeper"));
  ASSERT_EQ(stored.size(), size_t{senders});
  for (auto& [from, ids] : stored)
    EXPECT_EQ(ids, in_order) << "stored posts of " << from;
  ASSERT_TRUE(h.listener->wait_served(senders * each));
  auto served = per_sender(h.listener->served());
  ASSERT_EQ(served.size(), size_t{senders});
  for (auto& [from, ids] : served)
    EXPECT_EQ(ids, in_order) << "posts of " << from << " as the listener got them";
}

// Verifies retries of one post id while the first is being written store
// and deliver it once, and every retry gets the first's receipt.
TEST(NodeDurableRoomPosts, RetriesWhileTheFirstIsWrittenTakeEffectOnce) {
  hall h{2};
  ASSERT_TRUE(h.n);
  auto& n = *h.n;
  h.faults->slow_syncs(std::chrono::milliseconds(100));
  for (int round = 0; round < 3; ++round) {
    const auto id = "same-" + std::to_string(round);
    std::vector<std::thread> threads;
    std::vector<expected<message>> results(6, unexpected{errc::internal, "not run"});
    for (size_t i = 0; i < results.size(); ++i)
      threads.emplace_back([&, i] {
        // Another sender's posts in between: the room is busy meanwhile.
        if (i % 2 == 1)
          (void)n.send(as_admin, post("s1", "other", id + "-" + std::to_string(i)));
        results[i] = n.send(as_admin, post("s0", "once", id));
      });
    for (auto& t : threads)
      t.join();
    std::set<timestamp> times;
    for (auto& r : results) {
      ASSERT_TRUE(succeeded(r));
      EXPECT_EQ(r->status, message_status::delivered);
      times.insert(r->sent_at);
    }
    EXPECT_EQ(times.size(), 1u) << "every retry answers the first post";
  }
  h.faults->slow_syncs(std::chrono::milliseconds(0));
  const std::vector<std::string> mine{"same-0", "same-1", "same-2"};
  EXPECT_EQ(per_sender(stored_posts(n))["s0"], mine);
  EXPECT_EQ(per_sender(inbox_of(n, "keeper"))["s0"], mine);
  ASSERT_TRUE(h.listener->wait_served(3 + 3 * 3));
  EXPECT_EQ(per_sender(h.listener->served())["s0"], mine);
}

// Verifies posts refused by a failing disk leave nothing behind (no stored
// message, no delivery, no activity), the room keeps answering, and later
// posts, also retries of the failed ids, are stored and delivered in order.
TEST(NodeDurableRoomPosts, FailedWritesLeaveTheRoomAsItWas) {
  constexpr int senders = 4;
  hall h{senders};
  ASSERT_TRUE(h.n);
  auto& n = *h.n;
  ASSERT_TRUE(succeeded(n.send(as_admin, post("s0", "before", "b0"))));
  const auto room_before = n.get_room(as_admin, "hall");
  ASSERT_TRUE(succeeded(room_before));
  h.clock->advance(1000);
  h.faults->fail_writes(true);
  std::atomic<int> refused{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < senders; ++i)
    threads.emplace_back([&, i] {
      for (int k = 0; k < 2; ++k)
        if (fails_with(n.send(as_admin, post("s" + std::to_string(i), "lost", "f" + std::to_string(k))),
                       errc::storage_failure))
          ++refused;
    });
  for (auto& t : threads)
    t.join();
  EXPECT_EQ(refused.load(), senders * 2);
  h.faults->fail_writes(false);
  auto room_after = n.get_room(as_admin, "hall");
  ASSERT_TRUE(succeeded(room_after));
  EXPECT_EQ(room_after->last_activity, room_before->last_activity);
  EXPECT_EQ(room_after->members.size(), room_before->members.size());
  EXPECT_EQ(stored_posts(n), (std::vector<std::string>{"s0/b0"}));
  // The failed ids took no effect: sending them again is a first send.
  for (int i = 0; i < senders; ++i)
    for (int k = 0; k < 2; ++k)
      ASSERT_TRUE(succeeded(n.send(as_admin, post("s" + std::to_string(i), "again", "f" + std::to_string(k)))));
  EXPECT_EQ(per_sender(stored_posts(n)), per_sender(inbox_of(n, "keeper")));
  auto stored = per_sender(inbox_of(n, "keeper"));
  for (int i = 1; i < senders; ++i)
    EXPECT_EQ(stored["s" + std::to_string(i)], (std::vector<std::string>{"f0", "f1"}));
  EXPECT_EQ(stored["s0"], (std::vector<std::string>{"b0", "f0", "f1"}));
  ASSERT_TRUE(h.listener->wait_served(1 + senders * 2));
  auto served = h.listener->served();
  EXPECT_EQ(served.size(), size_t{1 + senders * 2}) << "nothing of the failed posts was delivered";
  EXPECT_EQ(per_sender(served), stored);
}

} // namespace
} // namespace parley
