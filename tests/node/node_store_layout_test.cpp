// The store's layout (schema 3, docs/storage-format.md) as a real node
// writes it: every key of an agent's or room's data lies in its owner's
// shard, so that a shard is one key range per column family; a direct
// dialogue's history merges its two directions in order across pages; and
// a schema 2 store (keys without shards, a separate idempotency family)
// migrates to exactly what this build writes, also after a migration that
// was cut short.

#include <map>

#include <rocksdb/db.h>

#include "parley/storage/message_log.hpp"
#include "parley/storage/records.hpp"
#include "parley/v1/storage.pb.h"
#include "support/node_fixture.hpp"
#include "support/temp_dir.hpp"

namespace parley {
namespace {

using namespace test_support;
using storage::column;

// column -> key -> value
using store_image = std::map<std::string, std::map<std::string, std::string>>;

const std::vector<column> sharded{column::agents,        column::attention, column::erasures,
                                  column::rooms,         column::moderators, column::members,
                                  column::messages,      column::message_index, column::inbox};

// Runs a node that leaves a record in every column family: agents (one
// external, whose inbox keeps what it is sent), knobs, a moderated room
// with members and turn state, room and direct messages both ways (one
// under a client's idempotency key), and an erased agent.
void populate(const std::string& dir, const std::shared_ptr<manual_clock>& clk) {
  auto cfg = durable_config(dir);
  cfg.time_source = clk;
  auto n = start_ok(cfg);
  ASSERT_TRUE(n);
  for (auto id : {"ada", "bob", "gone"})
    ASSERT_TRUE(succeeded(n->introduce(as_admin, make_spec(id))));
  ASSERT_TRUE(succeeded(n->introduce(as_admin, make_spec("ext", behavior_spec::kind::external))));
  ASSERT_TRUE(succeeded(n->set_importance(as_admin, "ada", dialogue_key::room("hall"), 2.0)));
  ASSERT_TRUE(succeeded(n->create_group(as_admin, "ada", {"hall", "t", unmoderated(), room_access::open})));
  ASSERT_TRUE(succeeded(n->create_group(as_admin, "ada", {"stage", "t", moderated(speaker_policy::fifo),
                                                          room_access::open})));
  for (auto id : {"bob", "ext"}) {
    ASSERT_TRUE(succeeded(n->join(as_admin, "hall", id)));
    ASSERT_TRUE(succeeded(n->join(as_admin, "stage", id)));
  }
  ASSERT_TRUE(succeeded(n->request_turn(as_admin, "stage", "bob")));
  for (int i = 0; i < 3; ++i) {
    clk->advance(10);
    ASSERT_TRUE(succeeded(n->send(as_admin, room_message("ada", "hall", "h" + std::to_string(i)))));
    ASSERT_TRUE(succeeded(n->send(as_admin, direct_message("ada", "ext", "to-ext" + std::to_string(i)))));
    ASSERT_TRUE(succeeded(n->send(as_admin, direct_message("ext", "ada", "to-ada" + std::to_string(i)))));
  }
  auto keyed = direct_message("bob", "ext", "keyed");
  keyed.id = "k-1";
  ASSERT_TRUE(succeeded(n->send(as_admin, keyed)));
  ASSERT_TRUE(succeeded(n->send(as_admin, direct_message("gone", "ext", "from gone"))));
  ASSERT_TRUE(succeeded(n->erase(as_admin, "gone")));
  n->stop();
}

store_image image_of(const storage::state_store& s) {
  store_image out;
  for (int i = 0; i < storage::column_count; ++i) {
    auto c = static_cast<column>(i);
    auto& part = out[std::string{to_string(c)}];
    EXPECT_TRUE(succeeded(s.scan(c, {}, {}, [&](std::string_view k, std::string_view v) {
      part.emplace(k, v);
      return true;
    })));
  }
  // Every write bumps it: not part of the data.
  out["meta"].erase("write_seq");
  return out;
}

std::vector<std::string> families(const std::string& dir) {
  std::vector<std::string> names;
  EXPECT_TRUE(rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions{}, dir, &names).ok());
  return names;
}

// The owner whose shard a key of column `c` must be in.
std::string owner_in(column c, std::string_view key, std::string_view value) {
  switch (c) {
    case column::members:
    case column::inbox: {
      auto rest = key.substr(2);
      return std::string{rest.substr(0, rest.find('\0'))};
    }
    case column::messages: {
      auto parts = storage::parse_message_key(key);
      EXPECT_TRUE(parts.has_value());
      auto m = storage::decode_message(value);
      EXPECT_TRUE(succeeded(m));
      if (parts && m) {
        EXPECT_EQ(parts->to, m->to) << "a message is stored under its recipient or room";
      }
      return parts ? parts->to.id : std::string{};
    }
    case column::message_index: {
      auto e = storage::parse_index_key(key);
      EXPECT_TRUE(e.has_value());
      return e ? e->to.id : std::string{};
    }
    default:
      return std::string{storage::owner_of_key(key)};
  }
}

// Verifies every key of every sharded column family starts with its
// owner's shard (the agent or room whose data it is), so that a shard's
// data is one key range per family; and that schema 3 has no idempotency
// family (the message record is the idempotency record).
TEST(StoreLayout, EveryKeyLiesInItsOwnersShard) {
  test::temp_dir dir;
  populate(dir.str(), std::make_shared<manual_clock>());
  auto s = open_stopped(dir.str());
  ASSERT_TRUE(s);
  auto img = image_of(*s);
  for (auto c : sharded) {
    auto& part = img[std::string{to_string(c)}];
    EXPECT_FALSE(part.empty()) << to_string(c) << " holds nothing: the test would prove nothing";
    for (auto& [k, v] : part) {
      auto owner = owner_in(c, k, v);
      ASSERT_FALSE(owner.empty()) << to_string(c);
      const auto shard = shard_of(owner);
      EXPECT_EQ(storage::shard_of_key(k), shard) << to_string(c) << " key of '" << owner << "'";
      EXPECT_GE(k, storage::shard_begin(shard));
      EXPECT_LT(k, storage::shard_begin(shard + 1u));
    }
  }
  for (auto& [k, v] : img["inbox"])
    EXPECT_TRUE(storage::parse_message_key(v).has_value()) << "an inbox entry points at a message key";
  auto names = families(dir.str());
  EXPECT_EQ(std::count(names.begin(), names.end(), "idempotency"), 0);
}

// Verifies a direct dialogue's history (two index ranges, one per sender)
// comes in (time, sender, id) order without gaps or repeats when read in
// pages of every size, both ways, including messages sent at the same time.
TEST(StoreLayout, DirectHistoryMergesBothDirectionsAcrossPages) {
  test::temp_dir dir;
  auto clk = std::make_shared<manual_clock>();
  auto cfg = durable_config(dir.str());
  cfg.time_source = clk;
  auto n = start_ok(cfg);
  ASSERT_TRUE(n);
  ASSERT_TRUE(succeeded(n->introduce(as_admin, make_spec("ada"))));
  ASSERT_TRUE(succeeded(n->introduce(as_admin, make_spec("bob"))));
  ASSERT_TRUE(succeeded(n->create_group(as_admin, "ada", {"hall", "t", unmoderated(), room_access::open})));
  for (int i = 0; i < 7; ++i) {
    if (i % 3 == 0)
      clk->advance(5); // some share a time stamp
    auto from = i % 2 ? "bob" : "ada";
    auto to = i % 2 ? "ada" : "bob";
    auto m = direct_message(from, to, "m" + std::to_string(i));
    m.id = "x" + std::to_string(i);
    ASSERT_TRUE(succeeded(n->send(as_admin, m)));
  }
  history_query all;
  all.limit = max_page_size;
  all.direction = history_query::order::oldest_first;
  auto whole = n->direct_history(as_admin, "ada", "bob", all);
  ASSERT_TRUE(succeeded(whole));
  ASSERT_EQ(whole->messages.size(), 7u);
  std::vector<std::string> oldest_first;
  for (size_t i = 0; i < whole->messages.size(); ++i) {
    auto& m = whole->messages[i];
    oldest_first.push_back(m.content);
    if (i > 0) {
      auto& p = whole->messages[i - 1];
      EXPECT_LE(std::tie(p.sent_at, p.from, p.id), std::tie(m.sent_at, m.from, m.id)) << "out of order at " << i;
    }
  }
  for (auto dir_ : {history_query::order::oldest_first, history_query::order::newest_first}) {
    auto expect = oldest_first;
    if (dir_ == history_query::order::newest_first)
      std::reverse(expect.begin(), expect.end());
    for (size_t page = 1; page <= 8; ++page) {
      history_query q;
      q.limit = page;
      q.direction = dir_;
      std::vector<std::string> got;
      for (int guard = 0; guard < 20; ++guard) {
        auto p = n->direct_history(as_admin, guard % 2 ? "bob" : "ada", guard % 2 ? "ada" : "bob", q);
        ASSERT_TRUE(succeeded(p));
        for (auto& m : p->messages)
          got.push_back(m.content);
        if (p->next_cursor.empty())
          break;
        q.cursor = p->next_cursor;
      }
      EXPECT_EQ(got, expect) << "pages of " << page;
    }
  }
  // A cursor of the dialogue does not serve another one.
  history_query q;
  q.limit = 1;
  auto first = n->direct_history(as_admin, "ada", "bob", q);
  ASSERT_TRUE(succeeded(first));
  q.cursor = first->next_cursor;
  EXPECT_TRUE(fails_with(n->room_history(as_admin, "hall", q), errc::invalid_argument));
}

// -- schema 2 ------------------------------------------------------------------

// The schema 2 key of a schema 3 record (docs/storage-format.md, "Schema
// 2"), or nullopt for the meta and event families, which did not change.
std::string v2_key(column c, std::string_view k, std::string_view v) {
  auto without_shard = std::string{k.substr(2)};
  switch (c) {
    case column::messages: {
      auto p = storage::parse_message_key(k);
      return std::string{p->from} + '\0' + std::string{p->id};
    }
    case column::message_index: {
      auto e = storage::parse_index_key(k);
      std::string dialogue;
      if (e->to.is_room()) {
        dialogue = "room:" + e->to.id;
      } else {
        auto a = std::string{e->from}, b = e->to.id;
        if (b < a)
          std::swap(a, b);
        dialogue = "direct:" + a + "|" + b;
      }
      return dialogue + '\0' + storage::u64_key(static_cast<uint64_t>(e->at)) + '\0' + std::string{e->from}
             + '\0' + std::string{e->id};
    }
    default:
      (void)v;
      return without_shard; // the rest only gained the shard prefix
  }
}

// Rewrites a schema 3 store as schema 2 wrote it, with RocksDB directly:
// unsharded keys, inbox entries pointing at from \0 id, an idempotency
// family, version 2. `keep_v3`: v3 keys of these families stay too, as a
// migration cut short would have left them.
void downgrade_to_v2(const std::string& dir, const store_image& img, const std::vector<column>& keep_v3) {
  std::vector<rocksdb::ColumnFamilyDescriptor> descs{{rocksdb::kDefaultColumnFamilyName, {}}};
  for (int i = 0; i < storage::column_count; ++i)
    descs.emplace_back(std::string{to_string(static_cast<column>(i))}, rocksdb::ColumnFamilyOptions{});
  std::vector<rocksdb::ColumnFamilyHandle*> h;
  rocksdb::DB* raw = nullptr;
  ASSERT_TRUE(rocksdb::DB::Open(rocksdb::Options{}, dir, descs, &h, &raw).ok());
  std::unique_ptr<rocksdb::DB> db{raw};
  rocksdb::ColumnFamilyHandle* idem = nullptr;
  ASSERT_TRUE(db->CreateColumnFamily({}, "idempotency", &idem).ok());
  rocksdb::WriteBatch wb;
  for (auto c : sharded) {
    auto* cf = h[static_cast<size_t>(c) + 1];
    const bool keep = std::find(keep_v3.begin(), keep_v3.end(), c) != keep_v3.end();
    for (auto& [k, v] : img.at(std::string{to_string(c)})) {
      std::string value = v;
      if (c == column::inbox) {
        auto p = storage::parse_message_key(v);
        value = std::string{p->from} + '\0' + std::string{p->id};
      }
      if (c == column::messages) {
        ASSERT_TRUE(wb.Put(idem, v2_key(c, k, v), "first outcome").ok());
      }
      ASSERT_TRUE(wb.Put(cf, v2_key(c, k, v), value).ok());
      if (!keep) {
        ASSERT_TRUE(wb.Delete(cf, k).ok());
      }
    }
  }
  auto* meta_cf = h[static_cast<size_t>(column::meta) + 1];
  std::string meta;
  ASSERT_TRUE(db->Get({}, meta_cf, "store", &meta).ok());
  parley::v1::storage::StoreMeta m;
  ASSERT_TRUE(m.ParseFromString(meta));
  ASSERT_EQ(m.schema_version(), parley::storage::schema_version);
  m.set_schema_version(2);
  ASSERT_TRUE(wb.Put(meta_cf, "store", m.SerializeAsString()).ok());
  ASSERT_TRUE(db->Write(rocksdb::WriteOptions{}, &wb).ok());
  for (auto* x : h)
    ASSERT_TRUE(db->DestroyColumnFamilyHandle(x).ok());
  ASSERT_TRUE(db->DestroyColumnFamilyHandle(idem).ok());
  ASSERT_TRUE(db->Close().ok());
}

class SchemaTwo : public ::testing::TestWithParam<bool> {};

// Verifies a schema 2 store migrates, when opened, to exactly the records
// this build writes for the same history (every key and value of every
// family), its idempotency family is dropped, and a node then serves it:
// history both ways, the waiting inbox, and a retry under a key sent
// before the migration is answered with the first outcome. With the
// parameter, the store also holds schema 3 keys of a migration that was
// cut short.
TEST_P(SchemaTwo, MigratesToWhatThisBuildWrites) {
  test::temp_dir dir;
  auto clk = std::make_shared<manual_clock>();
  populate(dir.str(), clk);
  store_image before;
  {
    auto s = open_stopped(dir.str());
    ASSERT_TRUE(s);
    before = image_of(*s);
  }
  std::vector<column> keep;
  if (GetParam())
    keep = {column::agents, column::messages, column::inbox};
  downgrade_to_v2(dir.str(), before, keep);
  auto v2_families = families(dir.str());
  ASSERT_EQ(std::count(v2_families.begin(), v2_families.end(), "idempotency"), 1);
  {
    auto s = open_stopped(dir.str());
    ASSERT_TRUE(s);
    auto after = image_of(*s);
    for (auto& [name, part] : before)
      EXPECT_EQ(after[name], part) << "column family " << name << " differs after the migration";
  }
  auto names = families(dir.str());
  EXPECT_EQ(std::count(names.begin(), names.end(), "idempotency"), 0);

  auto cfg = durable_config(dir.str());
  cfg.time_source = clk;
  auto n = start_ok(cfg);
  ASSERT_TRUE(n);
  history_query q;
  q.limit = max_page_size;
  auto hall = n->room_history(as_admin, "hall", q);
  ASSERT_TRUE(succeeded(hall));
  EXPECT_EQ(hall->messages.size(), 3u);
  auto pair = n->direct_history(as_admin, "ada", "ext", q);
  ASSERT_TRUE(succeeded(pair));
  EXPECT_EQ(pair->messages.size(), 6u);
  auto inbox = n->inbox(as_admin, "ext", max_page_size);
  ASSERT_TRUE(succeeded(inbox));
  EXPECT_GE(inbox->size(), 3u);
  auto first = n->direct_history(as_admin, "bob", "ext", q);
  ASSERT_TRUE(succeeded(first));
  ASSERT_EQ(first->messages.size(), 1u);
  clk->advance(1000);
  auto retry = direct_message("bob", "ext", "keyed (retry)");
  retry.id = "k-1";
  auto again = n->send(as_admin, retry);
  ASSERT_TRUE(succeeded(again));
  EXPECT_EQ(again->sent_at, first->messages[0].sent_at) << "the retry was taken as a new message";
  EXPECT_EQ(n->direct_history(as_admin, "bob", "ext", q)->messages.size(), 1u);
}

INSTANTIATE_TEST_SUITE_P(Migration, SchemaTwo, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "AfterAnInterruptedRun" : "Whole"; });

} // namespace
} // namespace parley
