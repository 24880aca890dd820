#include "parley/storage/state_store.hpp"
#include "parley/storage/records.hpp"

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <rocksdb/db.h>

#include "parley/v1/storage.pb.h"
#include "support/temp_dir.hpp"

using namespace parley;
using namespace parley::storage;
namespace fs = std::filesystem;

namespace {

std::unique_ptr<state_store> open_ok(const std::string& path, durability mode = durability::sync,
                                     std::shared_ptr<disk_faults> faults = nullptr) {
  store_options o;
  o.path = path;
  o.mode = mode;
  o.node_id = "node-a";
  o.faults = std::move(faults);
  auto s = open_store(o);
  if (!s) {
    ADD_FAILURE() << to_string(s.error());
    return nullptr;
  }
  return std::move(*s);
}

expected<std::unique_ptr<state_store>> try_open(const std::string& path) {
  store_options o;
  o.path = path;
  return open_store(o);
}

std::map<std::string, fs::file_time_type> listing(const fs::path& dir) {
  std::map<std::string, fs::file_time_type> out;
  for (auto& e : fs::recursive_directory_iterator(dir))
    out[e.path().string()] = fs::last_write_time(e.path());
  return out;
}

std::vector<std::string> keys(const state_store& s, column c, std::string_view prefix = {}) {
  std::vector<std::string> out;
  auto ok = s.scan(c, prefix, {}, [&](std::string_view k, std::string_view) {
    out.emplace_back(k);
    return true;
  });
  EXPECT_TRUE(ok.has_value());
  return out;
}

// Opening `dir` must fail as "not a Parley store" and leave every file as it was.
void expect_refused_untouched(const test::temp_dir& dir) {
  auto before = listing(dir.path());
  auto s = try_open(dir.str());
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error().code, errc::invalid_argument);
  EXPECT_NE(s.error().message.find("not a Parley store"), std::string::npos) << s.error().message;
  EXPECT_EQ(listing(dir.path()), before);
}

class StateStoreModes : public ::testing::TestWithParam<durability> {};

} // namespace

// Verifies a batch is applied whole and survives closing and reopening.
TEST(StateStore, BatchSurvivesReopen) {
  test::temp_dir dir;
  {
    auto s = open_ok(dir.str());
    write_batch b;
    b.put(column::agents, "alice", "A");
    b.put(column::agents, "bob", "B");
    b.put(column::events, "e1", "E");
    ASSERT_TRUE(s->write(b).has_value());
    write_batch del;
    del.erase(column::agents, "bob");
    ASSERT_TRUE(s->write(del).has_value());
  }
  auto s = open_ok(dir.str());
  ASSERT_TRUE(s);
  EXPECT_EQ(s->node_id(), "node-a");
  EXPECT_EQ(*s->get(column::agents, "alice").value(), "A");
  EXPECT_FALSE(s->get(column::agents, "bob").value().has_value());
  EXPECT_EQ(*s->get(column::events, "e1").value(), "E");
  // Columns are separate key spaces.
  EXPECT_FALSE(s->get(column::rooms, "alice").value().has_value());
  EXPECT_GT(s->disk_bytes(), 0u);
}

// Verifies scans honour prefix and start, forwards and backwards, in both implementations.
TEST_P(StateStoreModes, ScansHonourPrefixAndBounds) {
  test::temp_dir dir;
  auto s = open_ok(dir.sub("db"), GetParam());
  ASSERT_TRUE(s);
  write_batch b;
  b.put(column::inbox, std::string{"b\0" "1", 3}, "v1");
  b.put(column::inbox, std::string{"b\0" "2", 3}, "v2");
  b.put(column::inbox, std::string{"b\0" "3", 3}, "v3");
  b.put(column::inbox, "c", "vc");
  b.put(column::inbox, std::string{"a\0x", 3}, "va");
  ASSERT_TRUE(s->write(b).has_value());
  std::string prefix{"b\0", 2};
  std::vector<std::string> seen;
  ASSERT_TRUE(s->scan(column::inbox, prefix, {}, [&](std::string_view, std::string_view v) {
                 seen.emplace_back(v);
                 return true;
               }).has_value());
  EXPECT_EQ(seen, (std::vector<std::string>{"v1", "v2", "v3"}));
  seen.clear();
  ASSERT_TRUE(s->scan(column::inbox, prefix, std::string{"b\0" "2", 3},
                      [&](std::string_view, std::string_view v) {
                        seen.emplace_back(v);
                        return seen.size() < 1;
                      })
                .has_value());
  EXPECT_EQ(seen, (std::vector<std::string>{"v2"}));
  seen.clear();
  ASSERT_TRUE(s->scan_reverse(column::inbox, prefix, {}, [&](std::string_view, std::string_view v) {
                 seen.emplace_back(v);
                 return true;
               }).has_value());
  EXPECT_EQ(seen, (std::vector<std::string>{"v3", "v2", "v1"}));
  seen.clear();
  ASSERT_TRUE(s->scan_reverse(column::inbox, prefix, std::string{"b\0" "3", 3},
                              [&](std::string_view, std::string_view v) {
                                seen.emplace_back(v);
                                return true;
                              })
                .has_value());
  EXPECT_EQ(seen, (std::vector<std::string>{"v2", "v1"}));
}

INSTANTIATE_TEST_SUITE_P(SyncAndMemory, StateStoreModes,
                         ::testing::Values(durability::sync, durability::memory));

// Verifies a store written by a newer schema version is refused and left untouched.
TEST(StateStore, RefusesNewerSchemaVersion) {
  test::temp_dir dir;
  {
    auto s = open_ok(dir.str());
    v1::storage::StoreMeta meta;
    meta.set_schema_version(schema_version + 1);
    meta.set_node_id("future");
    meta.set_magic("parley");
    write_batch b;
    b.put(column::meta, "store", meta.SerializeAsString());
    ASSERT_TRUE(s->write(b).has_value());
  }
  auto before = listing(dir.path());
  auto s = try_open(dir.str());
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error().code, errc::failed_precondition);
  EXPECT_NE(s.error().message.find("schema version " + std::to_string(schema_version + 1)),
            std::string::npos)
    << s.error().message;
  EXPECT_EQ(listing(dir.path()), before);
}

// Verifies a directory with other files is refused and nothing is written to it.
TEST(StateStore, RefusesForeignDirectory) {
  test::temp_dir dir;
  { std::ofstream{dir.sub("notes.txt")} << "not a database"; }
  expect_refused_untouched(dir);
}

// Verifies a RocksDB database that is not a Parley store is refused untouched.
TEST(StateStore, RefusesForeignRocksDb) {
  test::temp_dir dir;
  {
    rocksdb::Options o;
    o.create_if_missing = true;
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(o, dir.str(), &raw).ok());
    std::unique_ptr<rocksdb::DB> db{raw};
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions{}, "k", "v").ok());
    ASSERT_TRUE(db->Close().ok());
  }
  expect_refused_untouched(dir);
}

// Verifies opening a missing store without create_if_missing is not_found.
TEST(StateStore, MissingStoreWithoutCreateIsNotFound) {
  test::temp_dir dir;
  store_options o;
  o.path = dir.sub("absent");
  o.create_if_missing = false;
  auto s = open_store(o);
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error().code, errc::not_found);
}

// Verifies a corrupted table file gives a clean storage_failure naming the file.
TEST(StateStore, CorruptedFileIsACleanError) {
  test::temp_dir dir;
  {
    auto s = open_ok(dir.str());
    write_batch b;
    for (int i = 0; i < 1000; ++i)
      b.put(column::messages, "key-" + std::to_string(i), std::string(100, 'x'));
    ASSERT_TRUE(s->write(b).has_value());
    // A checkpoint flushes the memtable into table files.
    ASSERT_TRUE(s->checkpoint(dir.sub("cp")).has_value());
  }
  fs::path sst;
  for (auto& e : fs::directory_iterator(dir.path()))
    if (e.path().extension() == ".sst")
      sst = e.path();
  ASSERT_FALSE(sst.empty()) << "no table file was written";
  {
    // Overwrite the middle of the file, keeping its size.
    std::fstream f{sst, std::ios::in | std::ios::out | std::ios::binary};
    f.seekp(static_cast<std::streamoff>(fs::file_size(sst) / 2));
    std::string junk(64, '\x5a');
    f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
  }
  auto s = try_open(dir.str());
  if (s) {
    // Opening may not read the block; reading every key must then fail cleanly.
    std::optional<error> failure;
    auto scanned = (*s)->scan(column::messages, {}, {}, [](std::string_view, std::string_view) {
      return true;
    });
    if (!scanned)
      failure = scanned.error();
    ASSERT_TRUE(failure.has_value()) << "corruption went unnoticed";
    EXPECT_EQ(failure->code, errc::storage_failure);
    EXPECT_NE(failure->message.find("orrupt"), std::string::npos) << failure->message;
    return;
  }
  EXPECT_EQ(s.error().code, errc::storage_failure);
  EXPECT_NE(s.error().message.find(sst.filename().string()), std::string::npos) << s.error().message;
}

// Verifies a failing disk fails the write whole, keeps reads working, and writes resume after.
TEST(StateStore, WriteFailureLeavesStateConsistent) {
  test::temp_dir dir;
  auto faults = std::make_shared<disk_faults>();
  auto s = open_ok(dir.str(), durability::sync, faults);
  ASSERT_TRUE(s);
  write_batch first;
  first.put(column::agents, "alice", "1");
  ASSERT_TRUE(s->write(first).has_value());

  faults->fail_writes(true);
  write_batch second;
  second.put(column::agents, "alice", "2");
  second.put(column::agents, "bob", "1");
  auto failed = s->write(second);
  ASSERT_FALSE(failed.has_value());
  EXPECT_EQ(failed.error().code, errc::storage_failure);
  // Reads still work and show none of the failed batch.
  EXPECT_EQ(*s->get(column::agents, "alice").value(), "1");
  EXPECT_FALSE(s->get(column::agents, "bob").value().has_value());
  // A second write while the disk still fails cannot reopen the database;
  // reads must keep working all the same.
  ASSERT_FALSE(s->write(second).has_value());
  auto still = s->get(column::agents, "alice");
  ASSERT_TRUE(still.has_value()) << to_string(still.error());
  EXPECT_EQ(**still, "1");

  faults->fail_writes(false);
  write_batch third;
  third.put(column::agents, "carol", "1");
  auto resumed = s->write(third);
  ASSERT_TRUE(resumed.has_value()) << "writes did not resume after the disk recovered: "
                                   << to_string(resumed.error());
  s.reset();
  auto again = open_ok(dir.str());
  ASSERT_TRUE(again);
  EXPECT_EQ(*again->get(column::agents, "alice").value(), "1");
  EXPECT_FALSE(again->get(column::agents, "bob").value().has_value());
  EXPECT_EQ(*again->get(column::agents, "carol").value(), "1");
}

// Verifies backup -> verify -> restore yields the same data, and a damaged backup fails verify.
TEST(StateStore, BackupRestoreRoundTrip) {
  test::temp_dir dir;
  auto s = open_ok(dir.sub("db"));
  ASSERT_TRUE(s);
  write_batch b;
  for (int i = 0; i < 200; ++i)
    b.put(column::messages, "m" + std::to_string(i), "payload-" + std::to_string(i));
  ASSERT_TRUE(s->write(b).has_value());
  ASSERT_TRUE(create_backup(*s, dir.sub("backup")).has_value());
  ASSERT_TRUE(verify_backups(dir.sub("backup")).has_value());
  auto original = keys(*s, column::messages);
  s.reset();

  ASSERT_TRUE(restore_latest_backup(dir.sub("backup"), dir.sub("restored")).has_value());
  auto r = open_ok(dir.sub("restored"));
  ASSERT_TRUE(r);
  EXPECT_EQ(keys(*r, column::messages), original);
  EXPECT_EQ(*r->get(column::messages, "m42").value(), "payload-42");
  EXPECT_EQ(r->node_id(), "node-a");

  // Damage one backed-up file: verification must notice.
  fs::path victim;
  for (auto& e : fs::recursive_directory_iterator(dir.sub("backup")))
    if (e.is_regular_file() && e.path().extension() == ".sst")
      victim = e.path();
  ASSERT_FALSE(victim.empty());
  fs::resize_file(victim, fs::file_size(victim) - 1);
  auto v = verify_backups(dir.sub("backup"));
  ASSERT_FALSE(v.has_value());
  EXPECT_EQ(v.error().code, errc::storage_failure);
}

// Verifies memory stores refuse backups and checkpoints with a clear error.
TEST(StateStore, MemoryStoreHasNoFiles) {
  auto s = open_ok("", durability::memory);
  ASSERT_TRUE(s);
  auto b = create_backup(*s, "/nonexistent");
  ASSERT_FALSE(b.has_value());
  EXPECT_EQ(b.error().code, errc::failed_precondition);
  EXPECT_EQ(s->disk_bytes(), 0u);
}

// Verifies durability names parse and unknown ones are rejected.
TEST(StateStore, DurabilityNames) {
  EXPECT_EQ(parse_durability("async").value(), durability::async);
  EXPECT_EQ(to_string(durability::sync), "sync");
  auto bad = parse_durability("eventually");
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code, errc::invalid_argument);
}

// -- the outcome of a failed write is certain ---------------------------------------------------

namespace {

write_batch one_put(const std::string& key, const std::string& value) {
  write_batch b;
  b.put(column::messages, key, value);
  return b;
}

std::optional<std::string> value_of(const state_store& s, const std::string& key) {
  auto v = s.get(column::messages, key);
  EXPECT_TRUE(v.has_value()) << (v ? "" : to_string(v.error()));
  return v ? *v : std::nullopt;
}

} // namespace

// Verifies a write whose log record was appended but whose sync failed is
// settled before the store answers: the store reopens, finds the write's
// marker, makes it durable and answers success; it is there after a
// restart. Before, it answered storage_failure and the reopen brought the
// write back anyway.
TEST(StateStore, SyncFailingAfterTheAppendIsSettledAsWritten) {
  test::temp_dir dir;
  auto faults = std::make_shared<disk_faults>();
  {
    auto s = open_ok(dir.str(), durability::sync, faults);
    ASSERT_TRUE(s);
    faults->fail_next_syncs(1);
    auto w = s->write(one_put("k", "v"));
    ASSERT_TRUE(w.has_value()) << to_string(w.error());
    EXPECT_EQ(value_of(*s, "k"), std::optional<std::string>{"v"});
  }
  auto again = open_ok(dir.str());
  ASSERT_TRUE(again);
  EXPECT_EQ(value_of(*again, "k"), std::optional<std::string>{"v"});
}

// Verifies a write whose append failed answers storage_failure only when it
// is certain nothing of it was stored: not after the disk is back, not after
// a restart.
TEST(StateStore, FailedAppendIsCertainlyNotWritten) {
  test::temp_dir dir;
  auto faults = std::make_shared<disk_faults>();
  {
    auto s = open_ok(dir.str(), durability::sync, faults);
    ASSERT_TRUE(s);
    faults->fail_writes(true);
    auto w = s->write(one_put("k", "v"));
    ASSERT_FALSE(w.has_value());
    EXPECT_EQ(w.error().code, errc::storage_failure) << to_string(w.error());
    faults->fail_writes(false);
    ASSERT_TRUE(s->write(one_put("other", "x")).has_value());
    EXPECT_EQ(value_of(*s, "k"), std::nullopt);
  }
  auto again = open_ok(dir.str());
  ASSERT_TRUE(again);
  EXPECT_EQ(value_of(*again, "k"), std::nullopt);
  EXPECT_EQ(value_of(*again, "other"), std::optional<std::string>{"x"});
}

// Verifies that when the sync keeps failing after the append (the store
// cannot reopen to check), the answer is deadline_exceeded, "unknown", not
// a storage_failure that a later reopen would contradict; and the write is
// indeed there once the disk is back.
TEST(StateStore, SyncFailingForGoodLeavesTheOutcomeUnknown) {
  test::temp_dir dir;
  auto faults = std::make_shared<disk_faults>();
  auto s = open_ok(dir.str(), durability::sync, faults);
  ASSERT_TRUE(s);
  faults->fail_syncs(true);
  auto w = s->write(one_put("k", "v"));
  ASSERT_FALSE(w.has_value());
  EXPECT_EQ(w.error().code, errc::deadline_exceeded) << to_string(w.error());
  faults->fail_syncs(false);
  ASSERT_TRUE(s->write(one_put("next", "n")).has_value());
  EXPECT_EQ(value_of(*s, "k"), std::optional<std::string>{"v"});
}

// Verifies a schema 1 store (members and invitations inside the room
// record) opens migrated: one member record per member in join order, one
// per invitation, the room record without them, schema version 2.
TEST(StateStore, MigratesASchemaOneStore) {
  test::temp_dir dir;
  {
    auto s = open_ok(dir.str());
    ASSERT_TRUE(s);
    parley::v1::storage::RoomRecord old;
    old.set_id("hall");
    old.set_kind("group");
    old.set_created_by("ada");
    for (auto [who, role] : {std::pair{"ada", "owner"}, std::pair{"bob", "member"}, std::pair{"cy", "guest"}}) {
      auto* m = old.add_members();
      m->set_id(who);
      m->set_role(role);
      m->set_joined_at(7);
    }
    old.mutable_rules()->set_policy("fifo");
    old.set_access("invite_only");
    old.set_open(true);
    (*old.mutable_invitations())["dan"] = "admin";
    write_batch b;
    b.put(column::rooms, "hall", old.SerializeAsString());
    auto meta = s->get(column::meta, "store");
    ASSERT_TRUE(meta.has_value() && meta->has_value());
    parley::v1::storage::StoreMeta m;
    ASSERT_TRUE(m.ParseFromString(**meta));
    m.set_schema_version(1);
    b.put(column::meta, "store", m.SerializeAsString());
    ASSERT_TRUE(s->write(b).has_value());
  }
  auto s = open_ok(dir.str());
  ASSERT_TRUE(s);
  EXPECT_EQ(keys(*s, column::members, member_prefix("hall")),
            (std::vector<std::string>{member_key("hall", "ada"), member_key("hall", "bob"),
                                      member_key("hall", "cy"), member_key("hall", "dan")}));
  auto bob = s->get(column::members, member_key("hall", "bob"));
  ASSERT_TRUE(bob.has_value() && bob->has_value());
  EXPECT_EQ(decode_member(**bob).value(), (member_record{room_role::member, 7, 1, false}));
  auto dan = s->get(column::members, member_key("hall", "dan"));
  ASSERT_TRUE(dan.has_value() && dan->has_value());
  EXPECT_EQ(decode_member(**dan).value(), (member_record{room_role::admin, 0, 0, true}));
  auto room = s->get(column::rooms, room_key("hall"));
  ASSERT_TRUE(room.has_value() && room->has_value());
  auto r = decode_room(**room);
  ASSERT_TRUE(r.has_value());
  EXPECT_TRUE(r->r.members.empty());
  EXPECT_TRUE(r->invitations.empty());
  auto meta = s->get(column::meta, "store");
  parley::v1::storage::StoreMeta m;
  ASSERT_TRUE(m.ParseFromString(**meta));
  EXPECT_EQ(m.schema_version(), schema_version);
}
