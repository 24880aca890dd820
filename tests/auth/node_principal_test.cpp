// The node principal: written node:<id> (an id is required), and allowed to
// open federation links and nothing else; no other principal but an admin
// may open one.

#include <gtest/gtest.h>

#include "parley/auth/access.hpp"

namespace parley {
namespace {

// Verifies node:<id> parses and prints back, and a node without a valid id is refused.
TEST(NodePrincipal, IsWrittenWithItsNodeId) {
  auto p = parse_principal("node:node-a");
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(*p, principal::node("node-a"));
  EXPECT_EQ(to_string(*p), "node:node-a");
  for (const char* bad : {"node", "node:", "node:bad id"}) {
    auto got = parse_principal(bad);
    ASSERT_FALSE(got) << bad;
    EXPECT_EQ(got.error().code, errc::invalid_argument) << bad;
  }
}

// Verifies a node may federate and nothing else (reads included), and only nodes and admins federate.
TEST(NodePrincipal, FederatesAndNothingElse) {
  const auto node = principal::node("node-a");
  EXPECT_TRUE(authorize(node, action::federate));
  for (auto a : {action::read_manifest, action::list_agents, action::node_info, action::subscribe, action::send,
                 action::introduce, action::drain, action::erase, action::move_shards, action::remove_node}) {
    auto r = authorize(node, a, {"alice"});
    ASSERT_FALSE(r) << to_string(a);
    EXPECT_EQ(r.error().code, errc::permission_denied);
    EXPECT_NE(r.error().message.find("only opens federation links"), std::string::npos) << r.error().message;
  }
  EXPECT_TRUE(authorize(principal::admin("ops"), action::federate));
  // Moving shards and removing a lost node: admins only (the coordinator
  // asks as admin:<its name>).
  EXPECT_TRUE(authorize(principal::admin("node-a"), action::move_shards));
  EXPECT_TRUE(authorize(principal::admin("ops"), action::remove_node));
  for (auto a : {action::move_shards, action::remove_node})
    for (auto who : {principal::operator_("oncall"), principal::observer(), principal::agent("alice")})
      EXPECT_FALSE(authorize(who, a)) << to_string(who) << " " << to_string(a);
  for (auto who : {principal::operator_("oncall"), principal::observer(), principal::agent("alice")}) {
    auto r = authorize(who, action::federate);
    ASSERT_FALSE(r) << to_string(who);
    EXPECT_NE(r.error().message.find("only the nodes of the network"), std::string::npos) << r.error().message;
  }
}

} // namespace
} // namespace parley
