// Exporting a shard from one store and importing it into another: what a
// shard move between nodes carries (docs/federation.md, "Moving shards").
// Both stores, RocksDB and memory.

#include "parley/storage/records.hpp"
#include "parley/storage/state_store.hpp"

#include <filesystem>
#include <fstream>
#include <map>

#include <gtest/gtest.h>

#include "support/temp_dir.hpp"

using namespace parley;
using namespace parley::storage;
namespace fs = std::filesystem;
using namespace std::string_literals;

namespace {

using contents = std::map<std::pair<int, std::string>, std::string>;

std::string key(uint32_t shard, const std::string& rest) {
  return shard_begin(shard) + rest;
}

class ShardMove : public ::testing::TestWithParam<durability> {
protected:
  std::unique_ptr<state_store> open(const std::string& name) {
    store_options o;
    o.path = dir_.sub(name);
    o.mode = GetParam();
    o.node_id = name;
    auto s = open_store(o);
    EXPECT_TRUE(s.has_value()) << (s ? "" : s.error().message);
    return s ? std::move(*s) : nullptr;
  }

  static void put(state_store& s, column c, const std::string& k, const std::string& v) {
    write_batch b;
    b.put(c, k, v);
    ASSERT_TRUE(s.write(b).has_value());
  }

  // Every key and value of every family (of one shard when `only` is set).
  static contents all(const state_store& s, std::optional<uint32_t> only = std::nullopt) {
    contents out;
    for (int i = 0; i < column_count; ++i) {
      auto c = static_cast<column>(i);
      if (only && !is_sharded(c))
        continue;
      auto prefix = only ? shard_begin(*only) : std::string{};
      EXPECT_TRUE(s.scan(c, prefix, {}, [&](std::string_view k, std::string_view v) {
                     out[{i, std::string{k}}] = std::string{v};
                     return true;
                   }).has_value());
    }
    return out;
  }

  test::temp_dir dir_;
};


TEST_P(ShardMove, AShardMovesWholeAndReplacesWhatTheReceiverHad) {
  auto a = open("a");
  auto b = open("b");
  ASSERT_TRUE(a && b);
  for (int n = 0; n < 200; ++n) {
    put(*a, column::agents, key(5, "agent-" + std::to_string(n)), "record " + std::to_string(n));
    put(*a, column::messages, key(5, "aagent-" + std::to_string(n) + std::string(1, '\0') + "x"), "m");
    put(*a, column::inbox, key(5, "agent-" + std::to_string(n) + std::string(1, '\0') + "1"), "k");
  }
  put(*a, column::members, key(5, "room-1" + std::string(1, '\0') + "agent-1"), "member");
  put(*a, column::agents, key(6, "agent-of-6"), "a's six");
  put(*a, column::events, std::string(8, '\1'), "an event of a");
  put(*b, column::agents, key(5, "gone-agent"), "stale");
  put(*b, column::inbox, key(5, "gone-agent" + std::string(1, '\0') + "1"), "stale");
  put(*b, column::agents, key(6, "b-agent"), "b's six");
  put(*b, column::events, std::string(8, '\2'), "an event of b");
  const auto b_before = all(*b);

  auto files = a->export_shard(5, dir_.sub("out"));
  ASSERT_TRUE(files.has_value()) << files.error().message;
  EXPECT_EQ(files->size(), 4u); // agents, messages, inbox, members
  ASSERT_TRUE(b->import_shard(5, *files).has_value());

  EXPECT_EQ(all(*b, 5), all(*a, 5)); // the stale agent and its inbox are gone
  EXPECT_EQ(all(*b, 5).size(), 601u);
  // Nothing outside the shard changed.
  auto rest = all(*b);
  for (auto i = rest.begin(); i != rest.end();)
    i = i->first.second.compare(0, 2, shard_begin(5)) == 0 && is_sharded(static_cast<column>(i->first.first))
          ? rest.erase(i)
          : std::next(i);
  auto expected_rest = b_before;
  std::erase_if(expected_rest, [](auto& kv) {
    return kv.first.second.compare(0, 2, shard_begin(5)) == 0 && is_sharded(static_cast<column>(kv.first.first));
  });
  EXPECT_EQ(rest, expected_rest);

  // The files went into the store (moved, not copied).
  for (auto& f : *files)
    EXPECT_FALSE(fs::exists(f.path)) << f.path;
  // Importing again changes nothing (a resumed move sends the files again).
  auto resent = a->export_shard(5, dir_.sub("again"));
  ASSERT_TRUE(resent.has_value());
  auto again = b->import_shard(5, *resent);
  ASSERT_TRUE(again.has_value()) << again.error().message;
  EXPECT_EQ(all(*b, 5), all(*a, 5));
  // A newer write to the moved shard at b survives a later import of
  // another shard.
  put(*b, column::agents, key(5, "new-at-b"), "new");
  auto six = a->export_shard(6, dir_.sub("six"));
  ASSERT_TRUE(six.has_value());
  ASSERT_TRUE(b->import_shard(6, *six).has_value());
  EXPECT_EQ(b->get(column::agents, key(5, "new-at-b"))->value_or(""), "new");
  EXPECT_EQ(b->get(column::agents, key(6, "agent-of-6"))->value_or(""), "a's six");
  EXPECT_FALSE(b->get(column::agents, key(6, "b-agent"))->has_value());
}

TEST_P(ShardMove, TheRoomPostsItsInboxNamesGoWithTheShard) {
  auto a = open("a");
  auto b = open("b");
  ASSERT_TRUE(a && b);
  // Agent of shard 5 with an inbox entry for a post of a room of shard 9
  // (stored under the room's shard), one of shard 2 and a direct message.
  const auto post9 = key(9, "rroom\0x\0p1"s);
  const auto post2 = key(2, "rroom2\0x\0p2"s);
  const auto direct = key(5, "aagent\0x\0d1"s);
  put(*a, column::messages, post9, "post of nine");
  put(*a, column::messages, post2, "post of two");
  put(*a, column::messages, key(9, "rroom\0x\0other"s), "not named");
  put(*a, column::messages, direct, "direct");
  put(*a, column::inbox, key(5, "agent" + std::string(1, '\0') + "1"), post9);
  put(*a, column::inbox, key(5, "agent" + std::string(1, '\0') + "2"), post2);
  put(*a, column::inbox, key(5, "agent" + std::string(1, '\0') + "3"), direct);
  auto files = a->export_shard(5, dir_.sub("out"));
  ASSERT_TRUE(files.has_value()) << files.error().message;
  ASSERT_TRUE(b->import_shard(5, *files).has_value());
  EXPECT_EQ(b->get(column::messages, post9)->value_or(""), "post of nine");
  EXPECT_EQ(b->get(column::messages, post2)->value_or(""), "post of two");
  EXPECT_EQ(b->get(column::messages, direct)->value_or(""), "direct");
  EXPECT_FALSE(b->get(column::messages, key(9, "rroom\0x\0other"s))->has_value());
}

TEST_P(ShardMove, AnImportedShardSurvivesAReopen) {
  if (GetParam() == durability::memory)
    GTEST_SKIP() << "a memory store keeps nothing across a reopen";
  auto a = open("a");
  ASSERT_TRUE(a);
  put(*a, column::agents, key(9, "agent"), "record");
  auto files = a->export_shard(9, dir_.sub("out"));
  ASSERT_TRUE(files.has_value());
  {
    auto b = open("b");
    ASSERT_TRUE(b->import_shard(9, *files).has_value());
  }
  fs::remove_all(dir_.sub("out")); // the store keeps its own copy of the files
  auto b = open("b");
  EXPECT_EQ(b->get(column::agents, key(9, "agent"))->value_or(""), "record");
}

TEST_P(ShardMove, ADamagedFileIsRefusedAndChangesNothing) {
  auto a = open("a");
  auto b = open("b");
  ASSERT_TRUE(a && b);
  put(*a, column::agents, key(7, "agent"), "record");
  put(*a, column::inbox, key(7, "agent" + std::string(1, '\0') + "1"), "k");
  put(*b, column::agents, key(7, "old"), "old");
  auto files = a->export_shard(7, dir_.sub("out"));
  ASSERT_TRUE(files.has_value());
  ASSERT_EQ(files->size(), 2u);
  const auto before = all(*b);
  {
    // One byte changed in the middle of the second file.
    std::fstream f((*files)[1].path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(static_cast<std::streamoff>((*files)[1].size / 2));
    char c = 0;
    f.read(&c, 1);
    f.seekp(static_cast<std::streamoff>((*files)[1].size / 2));
    c = static_cast<char>(c ^ 0x5a);
    f.write(&c, 1);
  }
  auto r = b->import_shard(7, *files);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, errc::storage_failure);
  EXPECT_NE(r.error().message.find("damaged"), std::string::npos) << r.error().message;
  EXPECT_EQ(all(*b), before);

  // A truncated file, and a family named twice or not sharded.
  auto truncated = *files;
  truncated[0].size += 1;
  EXPECT_NE(b->import_shard(7, truncated).error().message.find("bytes"), std::string::npos);
  auto twice = *files;
  twice[1].col = twice[0].col;
  EXPECT_EQ(b->import_shard(7, twice).error().code, errc::invalid_argument);
  auto events = *files;
  events[0].col = column::events;
  EXPECT_EQ(b->import_shard(7, events).error().code, errc::invalid_argument);
  EXPECT_EQ(all(*b), before);
}

TEST_P(ShardMove, AnEmptyShardHasNoFilesAndEmptiesTheReceiver) {
  auto a = open("a");
  auto b = open("b");
  ASSERT_TRUE(a && b);
  put(*b, column::rooms, key(3, "room"), "old room");
  auto files = a->export_shard(3, dir_.sub("out"));
  ASSERT_TRUE(files.has_value());
  EXPECT_TRUE(files->empty());
  ASSERT_TRUE(b->import_shard(3, *files).has_value());
  EXPECT_TRUE(all(*b, 3).empty());
  // The directory must be empty: a second export into it is refused.
  put(*a, column::rooms, key(3, "room"), "a room");
  ASSERT_TRUE(a->export_shard(3, dir_.sub("out")).has_value());
  EXPECT_EQ(a->export_shard(3, dir_.sub("out")).error().code, errc::failed_precondition);
}

INSTANTIATE_TEST_SUITE_P(Stores, ShardMove, ::testing::Values(durability::sync, durability::memory),
                         [](const auto& info) { return std::string{to_string(info.param)}; });

} // namespace
