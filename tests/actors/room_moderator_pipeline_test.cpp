// A room moderator on a real store (RocksDB in a temp dir, a slow disk):
// posts to a room without turns are written while the moderator goes on,
// a retry of a post in flight waits for the first's answer and writes
// nothing, and a change that holds waits for the posts in flight.

#include "actors/room_moderator.hpp"

#include <gtest/gtest.h>

#include "actors/storage_writer.hpp"
#include "parley/storage/message_log.hpp"
#include "support/temp_dir.hpp"
#include "support/test_store.hpp"

using namespace parley;

namespace {

using namespace std::chrono_literals;

struct RoomModeratorPipeline : ::testing::Test {
  void SetUp() override {
    store = test::open_test_store(dir.str(), faults);
    ASSERT_TRUE(store);
    cfg.set("scheduler.max-threads", size_t{2});
    sys.emplace(cfg);
    rt = std::make_unique<runtime>(*sys, clock, attention_params{});
    rt->store = store.get();
    rt->incarnation = 1;
    rt->writer = sys->spawn<caf::detached>(storage_writer, store.get(), &rt->counters, nullptr);
    rt->reader = sys->spawn<caf::detached>(storage_reader, store.get());
    // The member is this test's actor: it sees what the moderator sends it.
    member.emplace(*sys);
    rt->routes.agents().publish("m", caf::actor_cast<caf::actor>(*member));
    room r;
    r.id = "hall";
    r.kind = room_kind::group;
    r.created_by = "a";
    r.rules.policy = speaker_policy::none;
    r.created_at = r.last_activity = clock->now();
    r.members = {{"a", room_role::owner, clock->now()}, {"m", room_role::member, clock->now()}};
    moderator_seed seed;
    seed.r = r;
    seed.next_position = 2;
    mod = sys->spawn(room_moderator, rt.get(), std::move(seed));
  }

  void TearDown() override {
    faults->slow_syncs(0ms);
    for (auto* a : {&mod, &rt->writer, &rt->reader})
      caf::anon_send_exit(*a, caf::exit_reason::user_shutdown);
    mod = nullptr;
    rt->writer = rt->reader = nullptr;
    rt->routes.agents().clear();
    member.reset();
    sys.reset();
  }

  message post(const message_id& id, const std::string& content) const {
    message m;
    m.id = id;
    m.from = "a";
    m.to = address::room("hall");
    m.content = content;
    m.sent_at = clock->now();
    return m;
  }

  /// The room's stored posts, as their contents (newest first).
  std::vector<std::string> stored() const {
    history_query q;
    q.limit = max_page_size;
    auto page = storage::read_room_history(*store, "hall", q);
    EXPECT_TRUE(page.has_value());
    std::vector<std::string> out;
    if (page)
      for (auto& m : page->messages)
        out.push_back(m.content);
    return out;
  }

  /// What the member got next (post contents; "left" for left_room), or
  /// "nothing" within `wait`.
  std::string next_for_member(std::chrono::milliseconds wait = 5000ms) {
    std::string got = "nothing";
    (*member)->receive([&](atoms::deliver_post, const message& m) { got = m.content; },
                       [&](atoms::left_room, const room_id&) { got = "left"; },
                       caf::after(wait) >> [] {});
    return got;
  }

  test::temp_dir dir;
  std::shared_ptr<storage::disk_faults> faults = std::make_shared<storage::disk_faults>();
  std::unique_ptr<storage::state_store> store;
  std::shared_ptr<manual_clock> clock = std::make_shared<manual_clock>();
  caf::actor_system_config cfg;
  std::optional<caf::actor_system> sys;
  std::unique_ptr<runtime> rt;
  std::optional<caf::scoped_actor> member;
  caf::actor mod;
};

} // namespace

// Verifies a retry of a post whose write is in flight waits for it: one
// stored message, one delivery, one batch written, the same receipt; a
// retry after the write is answered from the stored outcome.
TEST_F(RoomModeratorPipeline, ARetryOfAPostInFlightWaitsForTheFirst) {
  caf::scoped_actor poster{*sys};
  faults->slow_syncs(300ms);
  auto first = poster->request(mod, caf::infinite, atoms::post_to_room::value, post("k1", "once"), true);
  clock->advance(10); // a retry is sent later than the first
  auto retry = poster->request(mod, caf::infinite, atoms::post_to_room::value, post("k1", "twice?"), true);
  std::vector<send_receipt> receipts;
  auto take = [&](send_receipt r) { receipts.push_back(r); };
  auto fail = [&](caf::error& e) { ADD_FAILURE() << sys->render(e); };
  first.receive(take, fail);
  retry.receive(take, fail);
  ASSERT_EQ(receipts.size(), 2u);
  EXPECT_EQ(receipts[0].status, message_status::delivered);
  EXPECT_EQ(receipts[1].status, receipts[0].status);
  EXPECT_EQ(receipts[1].sent_at, receipts[0].sent_at);
  EXPECT_EQ(rt->counters.storage_batches.load(), 1u) << "the retry wrote nothing";
  EXPECT_EQ(stored(), (std::vector<std::string>{"once"}));
  EXPECT_EQ(next_for_member(), "once");
  EXPECT_EQ(next_for_member(300ms), "nothing");
  // Once written, a retry is refused by the write's precondition.
  faults->slow_syncs(0ms);
  poster->request(mod, caf::infinite, atoms::post_to_room::value, post("k1", "thrice?"), true)
    .receive([&](send_receipt r) { EXPECT_EQ(r.sent_at, receipts[0].sent_at); }, fail);
  EXPECT_EQ(stored(), (std::vector<std::string>{"once"}));
  EXPECT_EQ(next_for_member(300ms), "nothing");
}

// Verifies a change that holds (a member leaving) waits for the posts in
// flight, and posts after it wait for it: the member gets the post written
// for it, then leaves, and does not get the post after its leaving.
TEST_F(RoomModeratorPipeline, AChangeThatHoldsWaitsForThePostsInFlight) {
  caf::scoped_actor poster{*sys};
  faults->slow_syncs(200ms);
  auto p1 = poster->request(mod, caf::infinite, atoms::post_to_room::value, post("p1", "before"), true);
  auto leave = poster->request(mod, caf::infinite, atoms::remove_member::value, room_id{"r"}, principal::admin("tests"),
                               agent_id{"m"}, false);
  auto p2 = poster->request(mod, caf::infinite, atoms::post_to_room::value, post("p2", "after"), true);
  auto fail = [&](caf::error& e) { ADD_FAILURE() << sys->render(e); };
  p1.receive([](send_receipt) {}, fail);
  leave.receive([](caf::ok_atom) {}, fail);
  p2.receive([](send_receipt) {}, fail);
  EXPECT_EQ(next_for_member(), "before");
  EXPECT_EQ(next_for_member(), "left");
  EXPECT_EQ(next_for_member(300ms), "nothing");
  auto inbox = storage::read_inbox(*store, "m", 10);
  ASSERT_TRUE(inbox.has_value());
  ASSERT_EQ(inbox->size(), 1u);
  EXPECT_EQ(inbox->front().content, "before");
}
