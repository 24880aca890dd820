// The etcd key layout and its JSON values: what parses, and what is refused.

#include <gtest/gtest.h>

#include "coordination/etcd_keys.hpp"

namespace parley::coordination::etcd_keys {
namespace {

// Verifies keys are built under one prefix and parse back; foreign and malformed keys do not.
TEST(EtcdKeys, KeysRoundTripUnderTheirPrefix) {
  layout k{"/net/"};
  EXPECT_EQ(k.root(), "/net/");
  EXPECT_EQ(k.root_end(), "/net0");
  EXPECT_EQ(k.member("alpha"), "/net/members/alpha");
  EXPECT_EQ(k.shard(7), "/net/shards/0007");
  EXPECT_EQ(k.shard(1023), "/net/shards/1023");

  auto m = k.parse("/net/members/alpha");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->what, parsed_key::kind::member);
  EXPECT_EQ(m->node, "alpha");
  auto s = k.parse(k.shard(42));
  ASSERT_TRUE(s);
  EXPECT_EQ(s->shard, 42);
  EXPECT_EQ(k.parse("/net/coordinator")->what, parsed_key::kind::coordinator);

  for (auto bad : {"/other/members/alpha", "/net/members/", "/net/shards/1024", "/net/shards/12x",
                   "/net/shards/", "/net/unknown", "/netmembers/alpha"})
    EXPECT_FALSE(k.parse(bad)) << bad;
}

// Verifies member and owner values round-trip and junk is refused rather than guessed.
TEST(EtcdKeys, ValuesRoundTripAndJunkIsRefused) {
  member m{"alpha", "10.0.0.1:7000", 4, member_state::leaving};
  auto back = decode_member("alpha", encode_member(m));
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, m);
  shard_owner o{"beta", 0, "gamma"};
  auto owner = decode_owner(encode_owner(o), 77);
  ASSERT_TRUE(owner);
  EXPECT_EQ(*owner, (shard_owner{"beta", 77, "gamma"}));

  for (auto junk : {"", "not json", "[]", R"({"address":"x","incarnation":1})",
                    R"({"address":"x","incarnation":-1,"state":"up"})",
                    R"({"address":"x","incarnation":1,"state":"dozing"})"})
    EXPECT_FALSE(decode_member("alpha", junk)) << junk;
  for (auto junk : {"", "{}", R"({"node":3})"})
    EXPECT_FALSE(decode_owner(junk, 1)) << junk;
}

} // namespace
} // namespace parley::coordination::etcd_keys
