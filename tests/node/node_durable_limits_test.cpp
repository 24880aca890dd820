// What a durable node keeps, and for how long: history by count and age,
// idempotency keys for a window, inbox entries beyond the inbox after a
// restart; what recovery does with records that point nowhere; and that a
// failed introduction leaves nothing behind.

#include <filesystem>

#include "parley/storage/message_log.hpp"
#include "parley/storage/records.hpp"
#include "support/node_fixture.hpp"
#include "support/temp_dir.hpp"

namespace parley {
namespace {

using namespace test_support;

// A durable config whose manual clock the test keeps.
std::pair<node_config, std::shared_ptr<manual_clock>> clocked_config(const std::string& dir) {
  auto cfg = durable_config(dir);
  auto clk = std::make_shared<manual_clock>();
  cfg.time_source = clk;
  return {cfg, clk};
}

std::vector<std::string> history_contents(node& n, const room_id& r) {
  history_query q;
  q.limit = max_page_size;
  q.direction = history_query::order::oldest_first;
  auto page = n.room_history(as_admin, r, q);
  EXPECT_TRUE(succeeded(page));
  std::vector<std::string> out;
  if (page)
    for (auto& m : page->messages)
      out.push_back(m.content);
  return out;
}

// Verifies history keeps the newest history_max_per_dialogue messages of
// each dialogue and drops older ones (record and index), except what an
// inbox still holds.
TEST(NodeRetention, HistoryKeepsTheNewestPerDialogue) {
  test::temp_dir dir;
  auto [cfg, clk] = clocked_config(dir.str());
  cfg.limits.history_max_per_dialogue = 3;
  auto n = start_ok(cfg);
  ASSERT_TRUE(n);
  ASSERT_TRUE(succeeded(n->introduce(as_admin, make_spec("a"))));
  ASSERT_TRUE(succeeded(n->introduce(as_admin, make_spec("x", behavior_spec::kind::external))));
  ASSERT_TRUE(succeeded(n->create_group(as_admin, "a", {"hall", "t", unmoderated(), room_access::open})));
  for (int i = 0; i < 6; ++i) {
    clk->advance(10);
    ASSERT_TRUE(succeeded(n->send(as_admin, room_message("a", "hall", "h" + std::to_string(i)))));
  }
  // x holds one message of its own dialogue in its inbox: it stays.
  ASSERT_TRUE(succeeded(n->send(as_admin, direct_message("a", "x", "kept-in-inbox"))));
  for (int i = 0; i < 4; ++i) {
    clk->advance(10);
    ASSERT_TRUE(succeeded(n->send(as_admin, direct_message("x", "a", "d" + std::to_string(i)))));
  }
  auto removed = n->run_retention(as_admin);
  ASSERT_TRUE(succeeded(removed));
  EXPECT_EQ(history_contents(*n, "hall"), (std::vector<std::string>{"h3", "h4", "h5"}));
  history_query q;
  q.limit = max_page_size;
  q.direction = history_query::order::oldest_first;
  auto pair = n->direct_history(as_admin, "a", "x", q);
  ASSERT_TRUE(succeeded(pair));
  std::vector<std::string> got;
  for (auto& m : pair->messages)
    got.push_back(m.content);
  EXPECT_EQ(got, (std::vector<std::string>{"kept-in-inbox", "d1", "d2", "d3"}));
  EXPECT_EQ(*removed, 3u + 1u);
  auto inbox = n->inbox(as_admin, "x", 10);
  ASSERT_TRUE(succeeded(inbox));
  ASSERT_EQ(inbox->size(), 1u);
  EXPECT_EQ(inbox->front().content, "kept-in-inbox");
}

// Verifies history drops messages older than history_max_age_ms.
TEST(NodeRetention, HistoryDropsMessagesPastTheirAge) {
  test::temp_dir dir;
  auto [cfg, clk] = clocked_config(dir.str());
  cfg.limits.history_max_age_ms = 60'000;
  auto n = start_ok(cfg);
  ASSERT_TRUE(n);
  ASSERT_TRUE(succeeded(n->introduce(as_admin, make_spec("a"))));
  ASSERT_TRUE(succeeded(n->create_group(as_admin, "a", {"hall", "t", unmoderated(), room_access::open})));
  ASSERT_TRUE(succeeded(n->send(as_admin, room_message("a", "hall", "old"))));
  clk->advance(120'000);
  ASSERT_TRUE(succeeded(n->send(as_admin, room_message("a", "hall", "new"))));
  ASSERT_TRUE(succeeded(n->run_retention(as_admin)));
  EXPECT_EQ(history_contents(*n, "hall"), (std::vector<std::string>{"new"}));
}

// Verifies an idempotency key counts within idempotency_window_ms (a retry
// returns the first result and delivers nothing) and not after it (a retry
// is a new message, whose record is the key's record from then on).
TEST(NodeRetention, IdempotencyKeysLastTheirWindow) {
  test::temp_dir dir;
  auto [cfg, clk] = clocked_config(dir.str());
  cfg.limits.idempotency_window_ms = 60'000;
  auto n = start_ok(cfg);
  ASSERT_TRUE(n);
  ASSERT_TRUE(succeeded(n->introduce(as_admin, make_spec("a"))));
  ASSERT_TRUE(succeeded(n->introduce(as_admin, make_spec("b", behavior_spec::kind::external))));
  auto m = direct_message("a", "b", "hello");
  m.id = "k1";
  auto first = n->send(as_admin, m);
  ASSERT_TRUE(succeeded(first));
  clk->advance(30'000);
  auto retry = n->send(as_admin, m);
  ASSERT_TRUE(succeeded(retry));
  EXPECT_EQ(retry->sent_at, first->sent_at);
  EXPECT_EQ(n->inbox(as_admin, "b", 10)->size(), 1u);
  clk->advance(60'000);
  auto later = n->send(as_admin, m);
  ASSERT_TRUE(succeeded(later));
  EXPECT_GT(later->sent_at, first->sent_at);
  EXPECT_EQ(n->inbox(as_admin, "b", 10)->size(), 2u);
  // Retention keeps the new record (it is the key's outcome now).
  clk->advance(30'000);
  ASSERT_TRUE(succeeded(n->run_retention(as_admin)));
  n->stop();
  storage::store_options o;
  o.path = dir.str();
  o.create_if_missing = false;
  auto s = storage::open_store(o);
  ASSERT_TRUE(succeeded(s));
  auto key = storage::find_outcome(**s, storage::message_key(address::agent("b"), "a", "k1"));
  ASSERT_TRUE(succeeded(key));
  ASSERT_TRUE(key->has_value());
  EXPECT_EQ((*key)->at, later->sent_at);
}

// Verifies entries recovered beyond the inbox (here: room posts that waited
// behind an external agent's full inbox) are all offered after a restart,
// in order, as room frees up. Before, those beyond inbox_limit came back
// only at the next restart.
TEST(NodeRecovery, InboxEntriesBeyondTheLimitFlowAfterRestart) {
  test::temp_dir dir;
  auto cfg = durable_config(dir.str());
  cfg.attention.inbox_limit = 2;
  cfg.limits.backlog = 100;
  {
    auto n = start_ok(cfg);
    ASSERT_TRUE(n);
    ASSERT_TRUE(succeeded(n->introduce(as_admin, make_spec("a"))));
    ASSERT_TRUE(succeeded(n->introduce(as_admin, make_spec("x", behavior_spec::kind::external))));
    ASSERT_TRUE(succeeded(n->create_group(as_admin, "a", {"hall", "t", unmoderated(), room_access::open})));
    ASSERT_TRUE(succeeded(n->join(as_admin, "hall", "x")));
    for (int i = 0; i < 7; ++i)
      ASSERT_TRUE(succeeded(n->send(as_admin, room_message("a", "hall", "p" + std::to_string(i)))));
  }
  auto n = start_ok(cfg);
  ASSERT_TRUE(n);
  auto link = n->open_link(as_admin, "x", 100);
  ASSERT_TRUE(succeeded(link));
  for (int i = 0; i < 7; ++i) {
    auto item = (*link)->next(wait_timeout);
    ASSERT_TRUE(item) << "p" << i << " never came";
    EXPECT_EQ(item->msg.content, "p" + std::to_string(i));
    (*link)->acknowledge({item->msg.delivery});
  }
  EXPECT_TRUE(eventually([&] { return n->inbox(as_admin, "x", 10)->empty(); }));
}

// Verifies recovery skips (and logs) records that refer to an agent the
// store does not hold (a room member, attention knobs, an inbox entry)
// instead of refusing to start.
TEST(NodeRecovery, OrphanRecordsAreSkipped) {
  test::temp_dir dir;
  auto cfg = durable_config(dir.str());
  {
    auto n = start_ok(cfg);
    ASSERT_TRUE(n);
    ASSERT_TRUE(succeeded(n->introduce(as_admin, make_spec("a"))));
    ASSERT_TRUE(succeeded(n->create_group(as_admin, "a", {"hall", "t", unmoderated(), room_access::open})));
    ASSERT_TRUE(succeeded(n->send(as_admin, room_message("a", "hall", "hello"))));
  }
  {
    storage::store_options o;
    o.path = dir.str();
    o.create_if_missing = false;
    auto s = storage::open_store(o);
    ASSERT_TRUE(succeeded(s));
    storage::write_batch b;
    b.put(storage::column::members, storage::member_key("hall", "ghost"),
          storage::encode(storage::member_record{room_role::member, 1, 5, false}));
    b.put(storage::column::attention, storage::agent_key("ghost"), storage::encode(storage::attention_record{{{"room:hall", 2.0}}, {}}));
    b.put(storage::column::inbox, storage::inbox_key("ghost", 42), storage::message_key(address::agent("ghost"), "a", "whatever"));
    ASSERT_TRUE(succeeded((*s)->write(b)));
  }
  auto n = start_ok(cfg);
  ASSERT_TRUE(n);
  auto r = n->get_room(as_admin, "hall");
  ASSERT_TRUE(succeeded(r));
  ASSERT_EQ(r->members.size(), 1u);
  EXPECT_EQ(r->members[0].id, "a");
  EXPECT_TRUE(succeeded(n->send(as_admin, room_message("a", "hall", "still works"))));
}

// Verifies an introduction whose record could not be written leaves no
// agent behind (not visible, not linkable), and the id can be introduced
// once the disk is back. Before, the agent was visible while its record was
// being written, and a failed external agent left its link registered.
TEST(NodeRecovery, FailedIntroductionLeavesNothingBehind) {
  test::temp_dir dir;
  auto faults = std::make_shared<storage::disk_faults>();
  auto cfg = durable_config(dir.str(), faults);
  auto n = start_ok(cfg);
  ASSERT_TRUE(n);
  faults->fail_writes(true);
  EXPECT_TRUE(fails_with(n->introduce(as_admin, make_spec("x", behavior_spec::kind::external)),
                         errc::storage_failure));
  EXPECT_TRUE(fails_with(n->get_manifest(as_admin, "x"), errc::not_found));
  EXPECT_TRUE(fails_with(n->open_link(as_admin, "x", 4), errc::not_found));
  EXPECT_EQ(n->stats().agents, 0u);
  faults->fail_writes(false);
  ASSERT_TRUE(succeeded(n->introduce(as_admin, make_spec("x", behavior_spec::kind::external))));
  EXPECT_TRUE(succeeded(n->open_link(as_admin, "x", 4)));
}

} // namespace
} // namespace parley
