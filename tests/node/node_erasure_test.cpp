// Erasure of an agent's personal data on request (privacy law): what goes,
// what stays (the tombstone, other agents' data), that it survives a
// restart and the restore of a later backup, and that the bytes leave the
// disk.

#include <filesystem>
#include <fstream>
#include <iterator>

#include <rocksdb/options.h>
#include <rocksdb/sst_file_reader.h>

#include "parley/storage/state_store.hpp"
#include "support/node_fixture.hpp"
#include "support/temp_dir.hpp"

namespace parley {
namespace {

using namespace test_support;
namespace fs = std::filesystem;

constexpr const char* secret = "secret-of-alice-7f3a9";

// Whether any file under `dir` holds `needle`: in the raw bytes (the
// write-ahead log, manifests), or in a key or value of a table file, read
// with RocksDB's own reader (table blocks are compressed, so their raw
// bytes need not show it).
bool any_file_contains(const fs::path& dir, std::string_view needle) {
  for (auto& e : fs::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file())
      continue;
    std::ifstream in{e.path(), std::ios::binary};
    std::string bytes{std::istreambuf_iterator<char>{in}, {}};
    if (bytes.find(needle) != std::string::npos)
      return true;
    if (e.path().extension() != ".sst")
      continue;
    rocksdb::SstFileReader reader{rocksdb::Options{}};
    if (!reader.Open(e.path().string()).ok())
      continue;
    std::unique_ptr<rocksdb::Iterator> it{reader.NewIterator(rocksdb::ReadOptions{})};
    for (it->SeekToFirst(); it->Valid(); it->Next())
      if (it->key().ToStringView().find(needle) != std::string_view::npos
          || it->value().ToStringView().find(needle) != std::string_view::npos)
        return true;
  }
  return false;
}

std::vector<message> all_history(node& n, const room_id& r) {
  history_query q;
  q.limit = max_page_size;
  auto page = n.room_history(as_admin, r, q);
  EXPECT_TRUE(succeeded(page));
  return page ? page->messages : std::vector<message>{};
}

std::vector<message> pair_history(node& n, const agent_id& a, const agent_id& b) {
  history_query q;
  q.limit = max_page_size;
  auto page = n.direct_history(as_admin, a, b, q);
  EXPECT_TRUE(succeeded(page));
  return page ? page->messages : std::vector<message>{};
}

// Checks everything an erasure of alice promises, on `n`. Events up to
// offset `last_before` were published before the erasure.
void expect_alice_erased(node& n, uint64_t last_before) {
  auto m = n.get_manifest(as_admin, "alice");
  ASSERT_TRUE(succeeded(m));
  EXPECT_EQ(m->status, agent_status::retired);
  EXPECT_TRUE(m->display_name.empty());
  EXPECT_TRUE(m->bio.empty());
  EXPECT_TRUE(m->activities.empty());
  EXPECT_TRUE(m->skills.empty());
  EXPECT_TRUE(m->rooms.empty());
  for (auto& msg : all_history(n, "hall")) {
    if (msg.from != "alice")
      continue;
    EXPECT_TRUE(msg.erased) << msg.id;
    EXPECT_TRUE(msg.content.empty()) << msg.id;
  }
  bool bobs_kept = false;
  for (auto& msg : pair_history(n, "alice", "bob")) {
    if (msg.from == "alice")
      EXPECT_TRUE(msg.erased && msg.content.empty()) << msg.id;
    else
      bobs_kept = bobs_kept || msg.content == "bob's own words";
  }
  EXPECT_TRUE(bobs_kept) << "what bob sent is bob's, not alice's: it stays";
  auto inbox = n.inbox(as_admin, "alice", 100);
  ASSERT_TRUE(succeeded(inbox));
  EXPECT_TRUE(inbox->empty());
  auto events = n.events_since(as_admin, 1, 100000);
  ASSERT_TRUE(succeeded(events));
  for (auto& e : *events) {
    if (e.seq <= last_before && (e.agent == "alice" || e.detail.starts_with("alice/"))) {
      EXPECT_TRUE(e.detail.empty()) << to_string(e.kind) << " " << e.detail;
    }
    EXPECT_EQ(e.detail.find(secret), std::string::npos);
  }
  auto tomb = n.erasure_of(as_admin, "alice");
  ASSERT_TRUE(succeeded(tomb));
  EXPECT_EQ(tomb->agent, "alice");
  EXPECT_EQ(tomb->erased_by, "admin:dpo");
}

// Verifies the whole erasure: manifest fields, inbox, the content of what
// alice sent (rooms and direct), the detail of events about her; bob's data
// stays; the tombstone says what was erased; it all survives a restart and
// the restore of a backup taken after the erasure; the bytes are gone from
// the store's files and the backup's; and only an admin may erase.
TEST(NodeErasure, ErasesPersonalDataAndLeavesATombstone) {
  test::temp_dir dir;
  auto cfg = durable_config(dir.sub("data"));
  cfg.record_message_events = true;
  uint64_t last_before = 0;
  {
    auto n = start_ok(cfg);
    ASSERT_TRUE(n);
    auto alice = make_spec("alice", behavior_spec::kind::external);
    alice.man.display_name = "Alice Example";
    alice.man.bio = std::string{"bio with "} + secret;
    alice.man.activities = {"planning a trip"};
    alice.man.skills = {{"cook", "Cooking", {"food"}, "makes soup"}};
    ASSERT_TRUE(succeeded(n->introduce(as_admin, alice)));
    ASSERT_TRUE(succeeded(n->introduce(as_admin, make_spec("bob"))));
    ASSERT_TRUE(succeeded(n->create_group(as_admin, "bob", {"hall", "t", unmoderated(), room_access::open})));
    ASSERT_TRUE(succeeded(n->join(as_admin, "hall", "alice")));
    ASSERT_TRUE(succeeded(n->send(as_admin, room_message("alice", "hall", std::string{"room: "} + secret))));
    ASSERT_TRUE(succeeded(n->send(as_admin, direct_message("alice", "bob", std::string{"direct: "} + secret))));
    ASSERT_TRUE(succeeded(n->send(as_admin, direct_message("bob", "alice", "bob's own words"))));
    ASSERT_TRUE(succeeded(n->send(as_admin, room_message("bob", "hall", "bob in the hall"))));
    ASSERT_EQ(n->inbox(as_admin, "alice", 10)->size(), 2u); // bob's direct message and room post
  }
  // A restart flushes everything into the store's table files: the erasure
  // must remove the bytes from there, not only from memory and the log.
  ASSERT_TRUE(any_file_contains(dir.sub("data"), secret));
  {
    auto n = start_ok(cfg);
    ASSERT_TRUE(n);

    EXPECT_TRUE(fails_with(n->erase(principal::operator_("ops"), "alice"), errc::permission_denied));
    EXPECT_TRUE(fails_with(n->erase(principal::agent("alice"), "alice"), errc::permission_denied));
    EXPECT_TRUE(fails_with(n->erasure_of(as_admin, "alice"), errc::not_found));
    auto log = n->events_since(as_admin, 1, 100000);
    ASSERT_TRUE(succeeded(log) && !log->empty());
    last_before = log->back().seq;
    auto e = n->erase(principal::admin("dpo"), "alice");
    ASSERT_TRUE(succeeded(e));
    EXPECT_EQ(e->fields, (std::vector<std::string>{"display_name", "bio", "activities", "skills"}));
    EXPECT_EQ(e->messages, 2u);
    EXPECT_EQ(e->inbox_entries, 2u);
    EXPECT_GE(e->events, 1u);
    // Right away, not only after some later compaction.
    EXPECT_FALSE(any_file_contains(dir.sub("data"), secret)) << "the store's files still hold the erased bytes";
    expect_alice_erased(*n, last_before);
    ASSERT_TRUE(succeeded(n->backup(as_admin, dir.sub("backups"))));
    EXPECT_FALSE(any_file_contains(dir.sub("backups"), secret)) << "the backup holds the erased bytes";
  }
  {
    auto n = start_ok(cfg);
    ASSERT_TRUE(n);
    expect_alice_erased(*n, last_before);
  }
  ASSERT_TRUE(succeeded(storage::restore_latest_backup(dir.sub("backups"), dir.sub("restored"))));
  auto restored = cfg;
  restored.data_dir = dir.sub("restored");
  auto n = start_ok(restored);
  ASSERT_TRUE(n);
  expect_alice_erased(*n, last_before);
}

// Verifies erasure on a node without a store: the agent's page and memory
// go, and the tombstone is kept for the process's life.
TEST(NodeErasure, MemoryNodeKeepsTheTombstone) {
  node_config cfg;
  auto n = start_ok(cfg);
  ASSERT_TRUE(n);
  auto alice = make_spec("alice");
  alice.man.bio = secret;
  ASSERT_TRUE(succeeded(n->introduce(as_admin, alice)));
  ASSERT_TRUE(succeeded(n->erase(as_admin, "alice")));
  auto m = n->get_manifest(as_admin, "alice");
  ASSERT_TRUE(succeeded(m));
  EXPECT_TRUE(m->bio.empty());
  EXPECT_EQ(m->status, agent_status::retired);
  EXPECT_TRUE(succeeded(n->erasure_of(as_admin, "alice")));
  EXPECT_TRUE(fails_with(n->erase(as_admin, "nobody"), errc::not_found));
}

} // namespace
} // namespace parley
