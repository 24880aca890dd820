// Messages of a node with a store: every acknowledged message is on disk
// (history, inbox) before the send returns, a retried idempotency key takes
// effect once, undelivered messages come back after a restart in order, and
// turn state and attention knobs survive restarts.

#include <algorithm>
#include <atomic>
#include <map>
#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>

#include "parley/storage/message_log.hpp"
#include "parley/storage/records.hpp"
#include "support/node_fixture.hpp"
#include "support/recording_behavior.hpp"
#include "support/temp_dir.hpp"

namespace parley {
namespace {

using test_support::as_admin;

using test_support::direct_message;
using test_support::durable_config;
using test_support::fails_with;
using test_support::gate;
using test_support::gate_opener;
using test_support::make_spec;
using test_support::moderated;
using test_support::open_stopped;
using test_support::recording_behavior;
using test_support::room_message;
using test_support::start_ok;
using test_support::succeeded;
using test_support::unmoderated;

message keyed(agent_id from, agent_id to, std::string content, message_id id) {
  auto m = direct_message(std::move(from), std::move(to), std::move(content));
  m.id = std::move(id);
  return m;
}

std::vector<std::string> contents(const std::vector<message>& ms) {
  std::vector<std::string> out;
  for (auto& m : ms)
    out.push_back(m.content);
  return out;
}

/// Introduces `ids` as agents that keep a granted turn (recording_behavior
/// ignores grants); false at the first failure.
bool introduce_turn_keepers(node& n, std::initializer_list<const char*> ids) {
  for (auto id : ids) {
    auto spec = make_spec(id);
    spec.custom = std::make_shared<recording_behavior>();
    if (!succeeded(n.introduce(as_admin, spec)))
      return false;
  }
  return true;
}

/// The store of a stopped node, opened directly.
size_t history_size(node& n, const agent_id& a, const agent_id& b) {
  history_query q;
  q.limit = max_page_size;
  auto page = n.direct_history(as_admin, a, b, q);
  EXPECT_TRUE(succeeded(page));
  return page ? page->messages.size() : 0;
}

// Verifies a retried idempotency key answers the first send and delivers nothing again, also after a restart.
TEST(NodeDurableMessages, RetriedKeyTakesEffectOnce) {
  test::temp_dir dir;
  auto cfg = durable_config(dir.str());
  auto clk = std::static_pointer_cast<const manual_clock>(cfg.time_source);
  auto* clock = const_cast<manual_clock*>(clk.get());
  message first;
  {
    auto n = start_ok(cfg);
    ASSERT_TRUE(n);
    ASSERT_TRUE(succeeded(n->introduce(as_admin, make_spec("a"))));
    ASSERT_TRUE(succeeded(n->introduce(as_admin, make_spec("b"))));
    auto sent = n->send(as_admin, keyed("a", "b", "hello", "k-1"));
    ASSERT_TRUE(succeeded(sent));
    first = *sent;
    EXPECT_EQ(first.status, message_status::delivered);
    clock->advance(5000);
    auto again = n->send(as_admin, keyed("a", "b", "hello (retry)", "k-1"));
    ASSERT_TRUE(succeeded(again));
    EXPECT_EQ(again->sent_at, first.sent_at);
    EXPECT_EQ(again->status, message_status::delivered);
    EXPECT_EQ(history_size(*n, "a", "b"), 1u);
    // The same id from another sender is another message.
    ASSERT_TRUE(succeeded(n->send(as_admin, keyed("b", "a", "mine", "k-1"))));
    EXPECT_EQ(history_size(*n, "a", "b"), 2u);
  }
  auto n = start_ok(cfg);
  ASSERT_TRUE(n);
  clock->advance(5000);
  auto after = n->send(as_admin, keyed("a", "b", "hello (after restart)", "k-1"));
  ASSERT_TRUE(succeeded(after));
  EXPECT_EQ(after->sent_at, first.sent_at);
  history_query q;
  auto page = n->direct_history(as_admin, "a", "b", q);
  ASSERT_TRUE(succeeded(page));
  ASSERT_EQ(page->messages.size(), 2u);
  EXPECT_EQ(page->messages[1].content, "hello");
}

// Verifies concurrent retries of one key while the first is being written deliver it once.
TEST(NodeDurableMessages, ConcurrentRetriesDeliverOnce) {
  test::temp_dir dir;
  auto n = start_ok(durable_config(dir.str()));
  ASSERT_TRUE(n);
  ASSERT_TRUE(succeeded(n->introduce(as_admin, make_spec("a"))));
  ASSERT_TRUE(succeeded(n->introduce(as_admin, make_spec("b"))));
  for (int round = 0; round < 5; ++round) {
    const auto id = "same-" + std::to_string(round);
    std::vector<std::thread> senders;
    std::vector<expected<message>> results(8, unexpected{errc::internal, "not run"});
    for (size_t i = 0; i < results.size(); ++i)
      senders.emplace_back([&, i] { results[i] = n->send(as_admin, keyed("a", "b", "x", id)); });
    for (auto& t : senders)
      t.join();
    std::set<timestamp> times;
    for (auto& r : results) {
      ASSERT_TRUE(succeeded(r));
      times.insert(r->sent_at);
    }
    EXPECT_EQ(times.size(), 1u) << "every retry answers the first send";
  }
  EXPECT_EQ(history_size(*n, "a", "b"), 5u);
}

// Verifies durability is pipelined: an agent takes further messages while
// its last one is being written, so messages from many senders to one agent
// share the storage writer's group commits (on a slow disk, 8 sends cost
// about 2 writes, not 8), and all of them arrive, each sender's in order.
TEST(NodeDurableMessages, AnAgentTakesMessagesWhileItsLastIsWritten) {
  test::temp_dir dir;
  auto faults = std::make_shared<storage::disk_faults>();
  auto n = start_ok(durable_config(dir.str(), faults));
  ASSERT_TRUE(n);
  ASSERT_TRUE(succeeded(n->introduce(as_admin, make_spec("hub", behavior_spec::kind::external))));
  constexpr int senders = 8, each = 3;
  for (int i = 0; i < senders; ++i)
    ASSERT_TRUE(succeeded(n->introduce(as_admin, make_spec("s" + std::to_string(i)))));
  faults->slow_syncs(std::chrono::milliseconds(200));
  const auto before = n->stats();
  std::vector<std::thread> threads;
  std::atomic<int> failed{0};
  for (int i = 0; i < senders; ++i)
    threads.emplace_back([&, i] {
      for (int k = 0; k < each; ++k)
        if (!n->send(as_admin, keyed("s" + std::to_string(i), "hub", std::to_string(k), "x" + std::to_string(k))))
          ++failed;
    });
  for (auto& t : threads)
    t.join();
  faults->slow_syncs(std::chrono::milliseconds(0));
  const auto after = n->stats();
  EXPECT_EQ(failed.load(), 0);
  const auto writes = after.storage_writes - before.storage_writes;
  const auto batches = after.storage_batches - before.storage_batches;
  EXPECT_GE(batches, uint64_t{senders * each});
  // Holding the agent during each write needs one write per message.
  EXPECT_LE(writes, uint64_t{senders * each / 2}) << batches << " batches took " << writes << " writes";
  auto inbox = n->inbox(as_admin, "hub", max_page_size);
  ASSERT_TRUE(succeeded(inbox));
  ASSERT_EQ(inbox->size(), size_t{senders * each});
  std::map<agent_id, std::vector<std::string>> per_sender;
  for (auto& m : *inbox)
    per_sender[m.from].push_back(m.content);
  for (auto& [from, got] : per_sender)
    EXPECT_EQ(got, (std::vector<std::string>{"0", "1", "2"})) << from;
}

// Verifies a retry that would now be refused (the turn passed, the
// recipient retired) answers the first send's outcome, not the refusal: the
// refusal looks the key up before it answers.
TEST(NodeDurableMessages, ARetryRefusedNowAnswersTheFirstOutcome) {
  test::temp_dir dir;
  auto cfg = durable_config(dir.str());
  auto* clock = const_cast<manual_clock*>(static_cast<const manual_clock*>(cfg.time_source.get()));
  auto n = start_ok(cfg);
  ASSERT_TRUE(n);
  // Agents that keep a granted turn (silent ones give it back).
  ASSERT_TRUE(introduce_turn_keepers(*n, {"a", "b", "c"}));
  ASSERT_TRUE(succeeded(n->create_group(as_admin, "a", {"stage", "", moderated(speaker_policy::fifo), room_access::open})));
  ASSERT_TRUE(succeeded(n->join(as_admin, "stage", "b")));
  ASSERT_TRUE(succeeded(n->request_turn(as_admin, "stage", "a")));
  ASSERT_TRUE(succeeded(n->request_turn(as_admin, "stage", "b")));
  auto post = room_message("a", "stage", "mine");
  post.id = "p-1";
  auto posted = n->send(as_admin, post);
  ASSERT_TRUE(succeeded(posted));
  auto direct = n->send(as_admin, keyed("a", "c", "hello", "d-1"));
  ASSERT_TRUE(succeeded(direct));

  // Now a new post by a and a new message to c are refused...
  ASSERT_TRUE(succeeded(n->yield_turn(as_admin, "stage", "a")));
  ASSERT_TRUE(succeeded(n->retire(as_admin, "c")));
  clock->advance(1000);
  auto other = room_message("a", "stage", "new");
  other.id = "p-2";
  EXPECT_TRUE(fails_with(n->send(as_admin, other), errc::failed_precondition));
  EXPECT_FALSE(succeeded(n->send(as_admin, keyed("a", "c", "new", "d-2"))));
  // ...but their retries answer the first outcome.
  auto again = n->send(as_admin, post);
  ASSERT_TRUE(succeeded(again));
  EXPECT_EQ(again->status, message_status::delivered);
  EXPECT_EQ(again->sent_at, posted->sent_at);
  auto direct_again = n->send(as_admin, keyed("a", "c", "hello", "d-1"));
  ASSERT_TRUE(succeeded(direct_again));
  EXPECT_EQ(direct_again->sent_at, direct->sent_at);
  history_query q;
  q.limit = max_page_size;
  auto page = n->room_history(as_admin, "stage", q);
  ASSERT_TRUE(succeeded(page));
  EXPECT_EQ(page->messages.size(), 1u);
}

// Verifies a send refused by a failing disk is not recorded: nothing delivered, and a retry under the same key succeeds once.
TEST(NodeDurableMessages, FailedWriteDeliversNothingAndRetrySucceeds) {
  test::temp_dir dir;
  auto faults = std::make_shared<storage::disk_faults>();
  auto n = start_ok(durable_config(dir.str(), faults));
  ASSERT_TRUE(n);
  ASSERT_TRUE(succeeded(n->introduce(as_admin, make_spec("a"))));
  ASSERT_TRUE(succeeded(n->introduce(as_admin, make_spec("b"))));
  ASSERT_TRUE(succeeded(n->create_group(as_admin, "a", {"hall", "", unmoderated(), room_access::open})));
  ASSERT_TRUE(succeeded(n->join(as_admin, "hall", "b")));
  faults->fail_writes(true);
  EXPECT_TRUE(fails_with(n->send(as_admin, keyed("a", "b", "lost?", "k-9")), errc::storage_failure));
  auto in_room = room_message("a", "hall", "lost too?");
  in_room.id = "k-10";
  EXPECT_TRUE(fails_with(n->send(as_admin, in_room), errc::storage_failure));
  EXPECT_EQ(n->stats().deliveries, 0u);
  faults->fail_writes(false);
  // Reads kept working; nothing of the failed sends is stored.
  EXPECT_EQ(history_size(*n, "a", "b"), 0u);
  ASSERT_TRUE(succeeded(n->send(as_admin, keyed("a", "b", "now", "k-9"))));
  ASSERT_TRUE(succeeded(n->send(as_admin, in_room)));
  EXPECT_EQ(history_size(*n, "a", "b"), 1u);
  auto room_page = n->room_history(as_admin, "hall", {});
  ASSERT_TRUE(succeeded(room_page));
  EXPECT_EQ(contents(room_page->messages), (std::vector<std::string>{"lost too?"}));
  EXPECT_TRUE(test_support::eventually([&] { return n->stats().deliveries == 2; }));
}

// Verifies ids the node generates never repeat after a restart (they are idempotency keys).
TEST(NodeDurableMessages, GeneratedIdsDoNotRepeatAfterRestart) {
  test::temp_dir dir;
  auto cfg = durable_config(dir.str());
  std::set<message_id> ids;
  for (int start = 0; start < 2; ++start) {
    auto n = start_ok(cfg);
    ASSERT_TRUE(n);
    if (start == 0) {
      ASSERT_TRUE(succeeded(n->introduce(as_admin, make_spec("a"))));
      ASSERT_TRUE(succeeded(n->introduce(as_admin, make_spec("b", behavior_spec::kind::echo))));
    }
    for (int i = 0; i < 3; ++i) {
      auto sent = n->send(as_admin, direct_message("a", "b", "ping"));
      ASSERT_TRUE(succeeded(sent));
      EXPECT_TRUE(ids.insert(sent->id).second) << sent->id << " was generated twice";
    }
    // b's echoes carry ids b generated: 3 pings and 3 echoes per start.
    ASSERT_TRUE(test_support::eventually(
      [&] { return history_size(*n, "a", "b") == static_cast<size_t>(6 * (start + 1)); }));
  }
}

// Verifies undelivered messages come back after a restart, in their order, and leave the inbox once served.
TEST(NodeDurableMessages, UndeliveredMessagesAreRedeliveredInOrder) {
  test::temp_dir dir;
  auto cfg = durable_config(dir.str());
  {
    auto n = start_ok(cfg);
    ASSERT_TRUE(n);
    ASSERT_TRUE(succeeded(n->introduce(as_admin, make_spec("a"))));
    ASSERT_TRUE(succeeded(n->introduce(as_admin, make_spec("slow"))));
    ASSERT_TRUE(succeeded(n->create_group(as_admin, "a", {"hall", "", unmoderated(), room_access::open})));
    ASSERT_TRUE(succeeded(n->join(as_admin, "hall", "slow")));
  }
  // What a node killed between accepting and serving leaves behind: the
  // messages and their inbox entries (written as the node writes them).
  std::vector<std::string> expected_order;
  {
    auto s = open_stopped(dir.str());
    ASSERT_TRUE(s);
    storage::write_batch b;
    uint64_t delivery = 7;
    for (int i = 0; i < 4; ++i) {
      auto m = keyed("a", "slow", "d" + std::to_string(i), "d" + std::to_string(i));
      m.sent_at = 1000 + i;
      storage::add_message(b, m, {"slow"}, delivery++);
      expected_order.push_back("a/" + m.id);
    }
    auto post = room_message("a", "hall", "to the hall");
    post.id = "r0";
    post.sent_at = 2000;
    storage::add_message(b, post, {"slow"}, delivery++);
    expected_order.push_back("a/r0");
    ASSERT_TRUE(succeeded(s->write(b)));
    auto inbox = storage::read_inbox(*s, "slow", 10);
    ASSERT_TRUE(succeeded(inbox));
    EXPECT_EQ(contents(*inbox), (std::vector<std::string>{"d0", "d1", "d2", "d3", "to the hall"}));
  }
  auto recorder = std::make_shared<recording_behavior>();
  cfg.behavior_factory = [recorder](const agent_id& id, const behavior_spec&)
    -> std::shared_ptr<agent_behavior> { return id == "slow" ? recorder : nullptr; };
  {
    auto n = start_ok(cfg);
    ASSERT_TRUE(n);
    ASSERT_TRUE(recorder->wait_served(expected_order.size()));
    EXPECT_EQ(recorder->served(), expected_order);
    // Served: gone from the inbox (the removals are written behind).
    EXPECT_TRUE(test_support::eventually([&] {
      auto inbox = n->inbox(as_admin, "slow", 10);
      return inbox && inbox->empty();
    }));
    // New deliveries are numbered after every earlier one.
    ASSERT_TRUE(succeeded(n->send(as_admin, direct_message("a", "slow", "new"))));
    // Served before the stop (else the next start rightly offers it again).
    ASSERT_TRUE(recorder->wait_served(expected_order.size() + 1));
    EXPECT_TRUE(test_support::eventually([&] {
      auto inbox = n->inbox(as_admin, "slow", 10);
      return inbox && inbox->empty();
    }));
  }
  // Served messages are not offered again by the next start.
  auto again = std::make_shared<recording_behavior>();
  cfg.behavior_factory = [again](const agent_id& id, const behavior_spec&)
    -> std::shared_ptr<agent_behavior> { return id == "slow" ? again : nullptr; };
  auto n = start_ok(cfg);
  ASSERT_TRUE(n);
  ASSERT_TRUE(succeeded(n->send(as_admin, keyed("a", "slow", "marker", "marker"))));
  ASSERT_TRUE(again->wait_served(1));
  EXPECT_EQ(again->served(), (std::vector<std::string>{"a/marker"}));
}

// Verifies room and direct history pages: newest first with cursors, oldest first since a time, and bad queries.
TEST(NodeDurableMessages, HistoryPagesThroughRoomsAndPairs) {
  test::temp_dir dir;
  auto cfg = durable_config(dir.str());
  auto* clock = const_cast<manual_clock*>(
    static_cast<const manual_clock*>(cfg.time_source.get()));
  auto n = start_ok(cfg);
  ASSERT_TRUE(n);
  for (auto id : {"a", "b", "c"})
    ASSERT_TRUE(succeeded(n->introduce(as_admin, make_spec(id))));
  ASSERT_TRUE(succeeded(n->create_group(as_admin, "a", {"hall", "", unmoderated(), room_access::open})));
  ASSERT_TRUE(succeeded(n->join(as_admin, "hall", "b")));
  const auto t0 = clock->now();
  for (int i = 0; i < 25; ++i) {
    clock->advance(10);
    ASSERT_TRUE(succeeded(n->send(as_admin, room_message(i % 2 ? "a" : "b", "hall", std::to_string(i)))));
  }
  history_query q;
  q.limit = 10;
  std::vector<std::string> seen;
  for (int page_no = 0;; ++page_no) {
    auto page = n->room_history(as_admin, "hall", q);
    ASSERT_TRUE(succeeded(page));
    for (auto& m : page->messages)
      seen.push_back(m.content);
    if (page->next_cursor.empty())
      break;
    ASSERT_LT(page_no, 3);
    q.cursor = page->next_cursor;
  }
  ASSERT_EQ(seen.size(), 25u);
  for (int i = 0; i < 25; ++i)
    EXPECT_EQ(seen[static_cast<size_t>(i)], std::to_string(24 - i));
  // Oldest first from a time: messages 20..24 were sent at t0 + 210 and later.
  history_query since;
  since.direction = history_query::order::oldest_first;
  since.since = t0 + 210;
  since.limit = 3;
  auto first = n->room_history(as_admin, "hall", since);
  ASSERT_TRUE(succeeded(first));
  EXPECT_EQ(contents(first->messages), (std::vector<std::string>{"20", "21", "22"}));
  since.cursor = first->next_cursor;
  auto rest = n->room_history(as_admin, "hall", since);
  ASSERT_TRUE(succeeded(rest));
  EXPECT_EQ(contents(rest->messages), (std::vector<std::string>{"23", "24"}));
  EXPECT_TRUE(rest->next_cursor.empty());
  // Direct history holds both directions of a pair and nothing else.
  ASSERT_TRUE(succeeded(n->send(as_admin, direct_message("a", "b", "ab"))));
  ASSERT_TRUE(succeeded(n->send(as_admin, direct_message("b", "a", "ba"))));
  ASSERT_TRUE(succeeded(n->send(as_admin, direct_message("c", "a", "ca"))));
  auto pair = n->direct_history(as_admin, "b", "a", {});
  ASSERT_TRUE(succeeded(pair));
  EXPECT_EQ(contents(pair->messages), (std::vector<std::string>{"ba", "ab"}));
  // Bad queries.
  history_query bad;
  bad.limit = 0;
  EXPECT_TRUE(fails_with(n->room_history(as_admin, "hall", bad), errc::invalid_argument, {"limit"}));
  bad.limit = max_page_size + 1;
  EXPECT_TRUE(fails_with(n->room_history(as_admin, "hall", bad), errc::invalid_argument, {"limit"}));
  bad.limit = 10;
  bad.cursor = "zz";
  EXPECT_TRUE(fails_with(n->room_history(as_admin, "hall", bad), errc::invalid_argument, {"cursor"}));
  bad.cursor = q.cursor; // a cursor of the hall, used for a pair
  EXPECT_TRUE(fails_with(n->direct_history(as_admin, "a", "b", bad), errc::invalid_argument, {"cursor"}));
  EXPECT_TRUE(fails_with(n->room_history(as_admin, "nowhere", {}), errc::not_found, {"nowhere"}));
  EXPECT_TRUE(fails_with(n->direct_history(as_admin, "a", "ghost", {}), errc::not_found, {"ghost"}));
  EXPECT_TRUE(fails_with(n->inbox(as_admin, "a", 0), errc::invalid_argument, {"limit"}));
}

// Verifies a node without a store says plainly that history needs one.
TEST(NodeDurableMessages, MemoryNodeHasNoHistory) {
  node_config cfg;
  auto n = start_ok(cfg);
  ASSERT_TRUE(n);
  ASSERT_TRUE(succeeded(n->introduce(as_admin, make_spec("a"))));
  ASSERT_TRUE(succeeded(n->introduce(as_admin, make_spec("b"))));
  EXPECT_TRUE(fails_with(n->direct_history(as_admin, "a", "b", {}), errc::failed_precondition,
                         {"durable", "memory"}));
  EXPECT_TRUE(fails_with(n->inbox(as_admin, "a", 10), errc::failed_precondition, {"durable"}));
}

// Verifies the current turn and the queue survive a restart; the speaker gets a fresh slot.
TEST(NodeDurableMessages, TurnsSurviveRestartWithFreshSlot) {
  test::temp_dir dir;
  auto cfg = durable_config(dir.str());
  auto* clock = const_cast<manual_clock*>(
    static_cast<const manual_clock*>(cfg.time_source.get()));
  auto rules = moderated(speaker_policy::fifo);
  rules.turn_slot_ms = 1000;
  rules.max_messages_per_turn = 5;
  // Agents that keep a granted turn (recording ignores grants).
  cfg.behavior_factory = [](const agent_id&, const behavior_spec&)
    -> std::shared_ptr<agent_behavior> { return std::make_shared<recording_behavior>(); };
  turn_state before;
  {
    auto n = start_ok(cfg);
    ASSERT_TRUE(n);
    ASSERT_TRUE(introduce_turn_keepers(*n, {"a", "b", "c"}));
    ASSERT_TRUE(succeeded(n->create_group(as_admin, "a", {"stage", "", rules, room_access::open})));
    ASSERT_TRUE(succeeded(n->join(as_admin, "stage", "b")));
    ASSERT_TRUE(succeeded(n->join(as_admin, "stage", "c")));
    for (auto id : {"b", "c", "a"})
      ASSERT_TRUE(succeeded(n->request_turn(as_admin, "stage", id)));
    ASSERT_TRUE(succeeded(n->send(as_admin, room_message("b", "stage", "one"))));
    ASSERT_TRUE(succeeded(n->send(as_admin, room_message("b", "stage", "two"))));
    before = n->turns(as_admin, "stage").value();
    ASSERT_TRUE(before.current);
    EXPECT_EQ(before.current->speaker, "b");
    EXPECT_EQ(before.messages_in_turn, 2u);
    clock->advance(900); // the slot has 100 ms left
  }
  auto n = start_ok(cfg);
  ASSERT_TRUE(n);
  auto after = n->turns(as_admin, "stage");
  ASSERT_TRUE(succeeded(after));
  ASSERT_TRUE(after->current);
  EXPECT_EQ(after->current->speaker, "b");
  EXPECT_EQ(after->current->turn, before.current->turn);
  EXPECT_EQ(after->current->granted_at, clock->now());
  EXPECT_EQ(after->messages_in_turn, 2u);
  EXPECT_EQ(after->turns_granted, before.turns_granted);
  ASSERT_EQ(after->waiting.size(), 2u);
  EXPECT_EQ(after->waiting[0].who, "c");
  EXPECT_EQ(after->waiting[1].who, "a");
  // A fresh slot: 500 ms later b still speaks; after the full slot, c does.
  clock->advance(500);
  EXPECT_EQ(n->turns(as_admin, "stage").value().current->speaker, "b");
  EXPECT_TRUE(succeeded(n->send(as_admin, room_message("b", "stage", "three"))));
  EXPECT_TRUE(fails_with(n->send(as_admin, room_message("c", "stage", "early")), errc::failed_precondition));
  clock->advance(500);
  EXPECT_EQ(n->turns(as_admin, "stage").value().current->speaker, "c");
  // And that hand-over was written too.
  n.reset();
  auto again = start_ok(cfg);
  ASSERT_TRUE(again);
  auto last = again->turns(as_admin, "stage");
  ASSERT_TRUE(succeeded(last));
  ASSERT_TRUE(last->current);
  EXPECT_EQ(last->current->speaker, "c");
  EXPECT_EQ(last->waiting.size(), 1u);
}

// Verifies attention knobs are stored before they apply and come back with the agent.
TEST(NodeDurableMessages, AttentionKnobsAreStored) {
  test::temp_dir dir;
  auto cfg = durable_config(dir.str());
  {
    auto n = start_ok(cfg);
    ASSERT_TRUE(n);
    // a is external with no link: what it is sent waits in its inbox.
    ASSERT_TRUE(succeeded(n->introduce(as_admin, make_spec("a", behavior_spec::kind::external))));
    for (auto id : {"stranger", "friend"})
      ASSERT_TRUE(succeeded(n->introduce(as_admin, make_spec(id))));
    ASSERT_TRUE(succeeded(n->set_importance(as_admin, "a", dialogue_key::room("hall"), 3.5)));
    ASSERT_TRUE(succeeded(n->set_relationship(as_admin, "a", "friend", 2.0)));
    ASSERT_TRUE(succeeded(n->set_relationship(as_admin, "a", "friend", 4.0)));
    // The stranger's first, so that only the knob can put the friend's first.
    ASSERT_TRUE(succeeded(n->send(as_admin, keyed("stranger", "a", "2", "s1"))));
    ASSERT_TRUE(succeeded(n->send(as_admin, keyed("friend", "a", "3", "fr1"))));
  }
  {
    auto s = open_stopped(dir.str());
    ASSERT_TRUE(s);
    auto raw = s->get(storage::column::attention, storage::agent_key("a"));
    ASSERT_TRUE(succeeded(raw));
    ASSERT_TRUE(raw->has_value());
    auto rec = storage::decode_attention(**raw);
    ASSERT_TRUE(succeeded(rec));
    EXPECT_EQ(rec->importance, (std::map<std::string, double>{{"room:hall", 3.5}}));
    EXPECT_EQ(rec->relationships, (std::map<agent_id, double>{{"friend", 4.0}}));
  }
  // The recovered agent (now served by a recording behaviour) gets both
  // waiting messages at once and weighs its peers as before: with "friend"
  // worth 4, its message is served before the stranger's, sent first.
  auto recorder = std::make_shared<recording_behavior>();
  cfg.behavior_factory = [recorder](const agent_id& id, const behavior_spec&)
    -> std::shared_ptr<agent_behavior> { return id == "a" ? recorder : nullptr; };
  auto n = start_ok(cfg);
  ASSERT_TRUE(n);
  ASSERT_TRUE(recorder->wait_served(2));
  EXPECT_EQ(recorder->served(), (std::vector<std::string>{"friend/fr1", "stranger/s1"}));
}

} // namespace
} // namespace parley
