// The event log of a node with a store: offsets survive a restart and
// continue without a gap; retention by count; readers resume from disk.

#include <fstream>

#include "support/node_fixture.hpp"
#include "support/temp_dir.hpp"

namespace parley {
namespace {

using test_support::as_admin;

using test_support::durable_config;
using test_support::start_ok;

using test_support::make_spec;

std::vector<uint64_t> seqs(const std::vector<event>& es) {
  std::vector<uint64_t> out;
  for (auto& e : es)
    out.push_back(e.seq);
  return out;
}

// Verifies events written before a restart are read back after it, and new offsets continue.
TEST(NodeDurableEvents, OffsetsContinueAcrossRestart) {
  test::temp_dir dir;
  std::vector<event> before;
  {
    auto n = start_ok(durable_config(dir.str()));
    ASSERT_TRUE(n);
    ASSERT_TRUE(n->introduce(as_admin, make_spec("alice")).has_value());
    ASSERT_TRUE(n->introduce(as_admin, make_spec("bob")).has_value());
    ASSERT_TRUE(n->create_group(as_admin, "alice", {"lobby", "t", {}, room_access::open}).has_value());
    auto es = n->events_since(as_admin, 1, 100);
    ASSERT_TRUE(es.has_value());
    before = *es;
    ASSERT_GE(before.size(), 4u); // 2 introduced, room_created, member_joined
  }
  auto n = start_ok(durable_config(dir.str()));
  ASSERT_TRUE(n);
  auto after = n->events_since(as_admin, 1, 100);
  ASSERT_TRUE(after.has_value());
  EXPECT_EQ(*after, before);
  ASSERT_TRUE(n->introduce(as_admin, make_spec("carol")).has_value());
  auto all = n->events_since(as_admin, 1, 100);
  ASSERT_TRUE(all.has_value());
  ASSERT_EQ(all->size(), before.size() + 1);
  EXPECT_EQ(all->back().seq, before.back().seq + 1);
  EXPECT_EQ(all->back().kind, event_kind::agent_introduced);
  EXPECT_EQ(all->back().agent, "carol");
}

// Verifies a subscriber resumes from an offset older than the memory ring, from disk, without gaps.
TEST(NodeDurableEvents, SubscribeResumesFromDisk) {
  test::temp_dir dir;
  auto cfg = durable_config(dir.str());
  cfg.event_retention = 3; // memory keeps only the newest 3
  auto n = start_ok(cfg);
  ASSERT_TRUE(n);
  for (int i = 0; i < 10; ++i)
    ASSERT_TRUE(n->introduce(as_admin, make_spec("a" + std::to_string(i))).has_value());
  test_support::event_recorder rec;
  ASSERT_TRUE(rec.attach(*n, all_topics, 2).has_value());
  ASSERT_TRUE(n->introduce(as_admin, make_spec("late")).has_value());
  ASSERT_TRUE(rec.wait_count([](const event&) { return true; }, 10));
  auto got = seqs(rec.events());
  std::vector<uint64_t> want;
  for (uint64_t s = 2; s <= 11; ++s)
    want.push_back(s);
  EXPECT_EQ(got, want);
}

// Verifies the durable log keeps only the newest event_log_retention events.
TEST(NodeDurableEvents, RetentionByCount) {
  test::temp_dir dir;
  auto cfg = durable_config(dir.str());
  cfg.event_retention = 2;
  cfg.event_log_retention = 5;
  auto n = start_ok(cfg);
  ASSERT_TRUE(n);
  for (int i = 0; i < 12; ++i)
    ASSERT_TRUE(n->introduce(as_admin, make_spec("a" + std::to_string(i))).has_value());
  n->stop(); // closes the store: the directory can be opened again
  n = start_ok(cfg);
  ASSERT_TRUE(n);
  auto es = n->events_since(as_admin, 1, 100);
  ASSERT_TRUE(es.has_value());
  EXPECT_EQ(seqs(*es), (std::vector<uint64_t>{8, 9, 10, 11, 12}));
}

// Verifies a durable node needs a data directory and refuses a foreign one.
TEST(NodeDurableEvents, BadStoreConfigIsRefused) {
  node_config cfg;
  cfg.durability = durability::sync;
  auto no_dir = node::start(cfg);
  ASSERT_FALSE(no_dir.has_value());
  EXPECT_EQ(no_dir.error().code, errc::invalid_argument);
  EXPECT_NE(no_dir.error().message.find("data_dir"), std::string::npos);

  test::temp_dir dir;
  { std::ofstream{dir.sub("README")} << "mine"; }
  cfg.data_dir = dir.str();
  auto foreign = node::start(cfg);
  ASSERT_FALSE(foreign.has_value());
  EXPECT_EQ(foreign.error().code, errc::invalid_argument);
}

} // namespace
} // namespace parley
