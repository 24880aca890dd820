#include "parley/storage/records.hpp"

#include <gtest/gtest.h>

using namespace parley;
using namespace parley::storage;

// Verifies an agent record with every field set survives encode/decode.
TEST(Records, AgentRoundTrip) {
  agent_record a;
  a.man.id = "alice";
  a.man.display_name = "Alice";
  a.man.bio = "Plans things.";
  a.man.status = agent_status::busy;
  a.man.activities = {"reading", "writing"};
  a.man.rooms = {"room-1", "dm-00ff"};
  a.man.skills = {{"plan", "Plan", {"reasoning", "x"}, "Breaks goals down."}, {"s2", "", {}, ""}};
  a.man.capacity = 17;
  a.man.last_updated = 1700000000123;
  a.man.online = false;
  a.man.last_seen = 1700000000456;
  a.behavior.k = behavior_spec::kind::scripted;
  a.behavior.script = {{"hi", "hello"}, {"bye", "ciao"}};
  a.behavior.seed = 99;
  a.behavior.reply_probability = 0.25;
  a.behavior.messages_per_turn = 3;
  a.behavior.rerequest_after_yield = true;
  a.next_message = 12345;
  auto back = decode_agent(encode(a));
  ASSERT_TRUE(back.has_value()) << to_string(back.error());
  EXPECT_EQ(*back, a);
}

// Verifies a room record with members, rules, transitions and invitations survives.
TEST(Records, RoomRoundTrip) {
  room_record r;
  r.r.id = "room-7";
  r.r.kind = room_kind::group;
  r.r.topic = "Design review";
  r.r.created_by = "alice";
  r.r.members = {{"alice", room_role::owner, 10}, {"bob", room_role::guest, 20}};
  r.r.rules.policy = speaker_policy::round_robin;
  r.r.rules.max_messages_per_turn = 4;
  r.r.rules.turn_slot_ms = 1500;
  r.r.rules.max_rounds = 9;
  r.r.rules.transitions = {{"alice", {"bob"}}, {"bob", {"alice", "carol"}}};
  r.r.rules.seed = 5;
  r.r.access = room_access::invite_only;
  r.r.created_at = 1;
  r.r.last_activity = 2;
  r.r.open = false;
  r.invitations = {{"carol", room_role::admin}};
  r.r.pair = {"alice", "bob"};
  auto back = decode_room(encode(r));
  ASSERT_TRUE(back.has_value()) << to_string(back.error());
  // Members and invitations are member records (schema 2), not part of it.
  auto want = r;
  want.r.members.clear();
  want.invitations.clear();
  EXPECT_EQ(*back, want);
  member_record m{room_role::admin, 42, 7, true};
  auto mb = decode_member(encode(m));
  ASSERT_TRUE(mb.has_value()) << to_string(mb.error());
  EXPECT_EQ(*mb, m);
}

// Verifies a tombstone of an erasure survives encoding.
TEST(Records, ErasureRoundTrip) {
  erasure_record e{"alice", 123, "admin:dpo", {"bio", "skills"}, 4, 2, 9};
  auto back = decode_erasure(encode(e));
  ASSERT_TRUE(back.has_value()) << to_string(back.error());
  EXPECT_EQ(*back, e);
}

// Verifies messages (agent and room recipients), events and outcomes survive.
TEST(Records, MessageEventOutcomeRoundTrip) {
  message m;
  m.id = "m1";
  m.from = "alice";
  m.to = address::room("room-1");
  m.sent_at = 42;
  m.type = content_type::json;
  m.content = R"({"a":1})";
  m.reply_to = "m0";
  m.status = message_status::read;
  m.deadline = 77;
  m.receipt = true;
  EXPECT_EQ(decode_message(encode(m)).value(), m);
  m.to = address::agent("bob");
  EXPECT_EQ(decode_message(encode(m)).value(), m);

  event e{17, event_kind::turn_expired, 99, "bob", "room-1", "turn 3: time slot expired", {}};
  EXPECT_EQ(decode_event(encode(e)).value(), e);

}

// Verifies a moderator's turn state and an agent's attention knobs survive.
TEST(Records, ModeratorAndAttentionRoundTrip) {
  moderator_record idle;
  idle.rng_state = 9;
  EXPECT_EQ(decode_moderator(encode(idle)).value(), idle);

  moderator_record busy;
  busy.state.current = turn_grant{"bob", 4, 1000, 0, 2};
  busy.state.messages_in_turn = 3;
  busy.state.waiting = {{"carol", 1001}, {"dave", 1002}};
  busy.state.turns_granted = 4;
  busy.state.rounds = 1;
  busy.state.closed = true;
  busy.last_speaker = "alice";
  busy.spoken_this_round = {"alice", "bob"};
  busy.rng_state = 0xfeedbeefcafe;
  busy.rr_last = 0; // index 0 is a position, not "none"
  EXPECT_EQ(decode_moderator(encode(busy)).value(), busy);

  attention_record knobs;
  knobs.importance = {{"room:hall", 2.5}, {"direct:bob", 0.25}};
  knobs.relationships = {{"bob", 3.0}};
  EXPECT_EQ(decode_attention(encode(knobs)).value(), knobs);
}

// Verifies garbage bytes decode to storage_failure, not a crash or a default value.
TEST(Records, GarbageIsStorageFailure) {
  std::string junk = "\xff\xff\xff\xff\x0f garbage";
  for (auto r : {decode_agent(junk).has_value(), decode_room(junk).has_value(),
                 decode_message(junk).has_value(), decode_event(junk).has_value(),
                 decode_moderator(junk).has_value(), decode_attention(junk).has_value()})
    EXPECT_FALSE(r);
  auto e = decode_event(junk);
  ASSERT_FALSE(e.has_value());
  EXPECT_EQ(e.error().code, errc::storage_failure);
}

// Verifies big-endian keys sort numerically and inbox keys group by agent.
TEST(Records, KeysSortNumerically) {
  EXPECT_LT(u64_key(255), u64_key(256));
  EXPECT_LT(u64_key(1), u64_key(1ull << 40));
  EXPECT_EQ(parse_u64_key(u64_key(0x0123456789abcdefull)), 0x0123456789abcdefull);
  EXPECT_LT(inbox_key("bob", 2), inbox_key("bob", 10));
  EXPECT_EQ(inbox_key("bob", 1).substr(0, inbox_prefix("bob").size()), inbox_prefix("bob"));
  // "bo" must not be a prefix match for "bob"'s inbox.
  EXPECT_NE(inbox_key("bob", 1).substr(0, inbox_prefix("bo").size()), inbox_prefix("bo"));
}

// Verifies the shard function is xxHash64 (seed 0) mod 1024: part of the
// storage format, so it must never change. The empty input's hash is the
// reference value of the xxHash specification (0xEF46DB3751D8E999).
TEST(Shards, ShardOfIsXxHash64ModShardCount) {
  EXPECT_EQ(shard_count, 1024u);
  EXPECT_EQ(shard_of(""), 0xEF46DB3751D8E999ull % 1024);
  EXPECT_EQ(shard_of("ada"), 720);
  EXPECT_EQ(shard_of("bob"), 59);
  EXPECT_EQ(shard_of("room-1"), 256);
}

// Verifies every key of an owner starts with its shard and lies inside the
// shard's range, so a shard is one contiguous range per column family.
TEST(Shards, KeysStartWithTheirOwnersShard) {
  message post;
  post.from = "bob";
  post.to = address::room("room-1");
  post.id = "m1";
  post.sent_at = 1'790'000'000'000;
  message direct = post;
  direct.to = address::agent("ada");
  const std::vector<std::pair<std::string, std::string>> keys{
    {agent_key("ada"), "ada"},
    {room_key("room-1"), "room-1"},
    {member_key("room-1", "bob"), "room-1"},
    {inbox_key("ada", 7), "ada"},
    {message_key(post.to, post.from, post.id), "room-1"},
    {message_key(direct.to, direct.from, direct.id), "ada"},
    {index_key(post), "room-1"},
    {index_key(direct), "ada"},
  };
  for (auto& [key, owner] : keys) {
    const auto s = shard_of(owner);
    EXPECT_EQ(shard_of_key(key), s) << owner;
    EXPECT_GE(key, shard_begin(s)) << owner;
    EXPECT_LT(key, shard_begin(s + 1u)) << owner;
  }
  EXPECT_EQ(owner_of_key(agent_key("ada")), "ada");
  // The last shard's range ends before any key without a shard (ids start
  // at '-'): the schema 2 keys a migration removes.
  EXPECT_LT(shard_begin(shard_count), std::string{"-"});
}

// Verifies message and index keys parse back, tell an agent from a room of
// the same name, and that a room's index sorts by time, then sender.
TEST(Shards, MessageAndIndexKeysParseBack) {
  message m;
  m.from = "bob";
  m.to = address::agent("hall");
  m.id = "k.1";
  m.sent_at = 5000;
  const auto direct_key = message_key(m.to, m.from, m.id);
  auto mk = parse_message_key(direct_key); // views into direct_key
  ASSERT_TRUE(mk.has_value());
  EXPECT_EQ(mk->to, m.to);
  EXPECT_EQ(mk->from, "bob");
  EXPECT_EQ(mk->id, "k.1");
  EXPECT_NE(message_key(address::room("hall"), "bob", "k.1"), message_key(m.to, m.from, m.id));
  const auto direct_index = index_key(m);
  auto ik = parse_index_key(direct_index);
  ASSERT_TRUE(ik.has_value());
  EXPECT_EQ(ik->to, m.to);
  EXPECT_EQ(ik->from, "bob");
  EXPECT_EQ(ik->at, 5000);
  EXPECT_EQ(ik->id, "k.1");
  m.to = address::room("hall");
  const auto room_index = index_key(m);
  auto rk = parse_index_key(room_index);
  ASSERT_TRUE(rk.has_value());
  EXPECT_EQ(rk->to, m.to);
  EXPECT_EQ(rk->at, 5000);
  auto later = m;
  later.sent_at = 6000;
  later.from = "ann";
  EXPECT_LT(index_key(m), index_key(later));
  EXPECT_FALSE(parse_message_key("ab").has_value());
  EXPECT_FALSE(parse_index_key(std::string{"\x01\x02r"} + "hall").has_value());
}
