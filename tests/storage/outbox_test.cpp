// The durable outbox's records (parley/storage/outbox.hpp): what a node
// reads back after a crash, in order, and what it refuses to guess at.

#include "parley/storage/outbox.hpp"

#include <gtest/gtest.h>
#include <rocksdb/db.h>

#include "parley/v1/storage.pb.h"
#include "support/temp_dir.hpp"

using namespace parley;
using namespace parley::storage;

namespace {

outbox_entry entry(uint64_t seq, outbox_entry::kind k) {
  outbox_entry e;
  e.seq = seq;
  e.what = k;
  e.msg.id = "m" + std::to_string(seq);
  e.msg.from = "alice";
  e.msg.to = k == outbox_entry::kind::direct ? address::agent("bob") : address::room("hall");
  e.msg.content = "text " + std::to_string(seq);
  e.msg.sent_at = 1000 + static_cast<timestamp>(seq);
  e.msg.hops = 2;
  if (k == outbox_entry::kind::room_delivery)
    e.members = {"bob", "carol"};
  return e;
}

store_options options_in(const parley::test::temp_dir& dir) {
  store_options o;
  o.path = dir.sub("store");
  o.mode = durability::sync;
  o.node_id = "node-a";
  return o;
}

// Verifies an entry survives encoding whole, and a record that is not one is a storage_failure naming it.
TEST(OutboxRecords, RoundTripAndCorruptRecordsAreRefused) {
  for (auto k : {outbox_entry::kind::direct, outbox_entry::kind::room_delivery}) {
    auto e = entry(7, k);
    auto back = decode_outbox(outbox_key(7), encode(e));
    ASSERT_TRUE(back.has_value()) << back.error().message;
    EXPECT_EQ(*back, e);
  }
  auto bad = decode_outbox(outbox_key(3), "\xff\xff not a record");
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code, errc::storage_failure);
  EXPECT_NE(bad.error().message.find("outbox entry 3"), std::string::npos) << bad.error().message;
  EXPECT_FALSE(decode_outbox("short", encode(entry(1, outbox_entry::kind::direct))).has_value());
}

// Verifies a RocksDB store gives the outbox back after a reopen, oldest first whatever the write order, without the entries removed; and that a shard move does not carry it.
TEST(OutboxRecords, AReopenedStoreGivesTheEntriesBackInOrder) {
  parley::test::temp_dir dir;
  const auto o = options_in(dir);
  {
    auto s = open_store(o);
    ASSERT_TRUE(s.has_value()) << s.error().message;
    write_batch b;
    for (uint64_t seq : {300, 2, 70000, 5})
      b.put(column::outbox, outbox_key(seq), encode(entry(seq, outbox_entry::kind::direct)));
    ASSERT_TRUE((*s)->write(b).has_value());
    write_batch drop;
    drop.erase(column::outbox, outbox_key(5));
    ASSERT_TRUE((*s)->write(drop).has_value());
    EXPECT_FALSE(is_sharded(column::outbox));
  }
  auto s = open_store(o);
  ASSERT_TRUE(s.has_value()) << s.error().message;
  auto got = load_outbox(**s);
  ASSERT_TRUE(got.has_value()) << got.error().message;
  std::vector<uint64_t> seqs;
  for (auto& e : *got)
    seqs.push_back(e.seq);
  EXPECT_EQ(seqs, (std::vector<uint64_t>{2, 300, 70000}));
  EXPECT_EQ(got->at(1), entry(300, outbox_entry::kind::direct));
}

// Verifies a store of schema version 3 (no outbox family) opens as version 4 with an empty outbox it can write, its data kept.
TEST(OutboxRecords, AVersionThreeStoreGainsTheOutbox) {
  parley::test::temp_dir dir;
  const auto o = options_in(dir);
  {
    auto s = open_store(o);
    ASSERT_TRUE(s.has_value()) << s.error().message;
    write_batch b;
    b.put(column::agents, "\x00\x01alice", "record");
    ASSERT_TRUE((*s)->write(b).has_value());
  }
  // Make it what version 3 wrote: no outbox family, version 3.
  {
    std::vector<std::string> names;
    ASSERT_TRUE(rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions{}, o.path, &names).ok());
    std::vector<rocksdb::ColumnFamilyDescriptor> descs;
    for (auto& n : names)
      descs.emplace_back(n, rocksdb::ColumnFamilyOptions{});
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(rocksdb::DBOptions{}, o.path, descs, &handles, &raw).ok());
    std::unique_ptr<rocksdb::DB> db{raw};
    rocksdb::ColumnFamilyHandle* meta = nullptr;
    for (auto* h : handles) {
      if (h->GetName() == "outbox") {
        ASSERT_TRUE(db->DropColumnFamily(h).ok());
      }
      if (h->GetName() == "meta")
        meta = h;
    }
    std::string bytes;
    ASSERT_TRUE(db->Get({}, meta, "store", &bytes).ok());
    parley::v1::storage::StoreMeta m;
    ASSERT_TRUE(m.ParseFromString(bytes));
    m.set_schema_version(3);
    ASSERT_TRUE(db->Put({}, meta, "store", m.SerializeAsString()).ok());
    for (auto* h : handles)
      ASSERT_TRUE(db->DestroyColumnFamilyHandle(h).ok());
  }
  auto s = open_store(o);
  ASSERT_TRUE(s.has_value()) << s.error().message;
  auto meta = (*s)->get(column::meta, "store");
  ASSERT_TRUE(meta.has_value() && meta->has_value());
  parley::v1::storage::StoreMeta m;
  ASSERT_TRUE(m.ParseFromString(**meta));
  EXPECT_EQ(m.schema_version(), 4u);
  auto kept = (*s)->get(column::agents, "\x00\x01alice");
  ASSERT_TRUE(kept.has_value() && kept->has_value());
  EXPECT_EQ(**kept, "record");
  write_batch b;
  b.put(column::outbox, outbox_key(1), encode(entry(1, outbox_entry::kind::direct)));
  ASSERT_TRUE((*s)->write(b).has_value());
  auto got = load_outbox(**s);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->size(), 1u);
}

} // namespace
