#include "parley/model/ids.hpp"

#include <string>

#include <gtest/gtest.h>

#include "parley/error.hpp"
#include "parley/model/limits.hpp"

namespace parley {
namespace {

// The rule as the error message states it; every id failure must repeat it.
constexpr std::string_view id_rule = "1-128 characters of [A-Za-z0-9._:-]";

bool mentions(const error& e, std::string_view text) {
  return e.message.find(text) != std::string::npos;
}

// Verifies an empty agent id is refused as invalid_argument naming the field and the rule.
TEST(AgentId, RejectsEmpty) {
  auto r = validate_agent_id("");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, errc::invalid_argument);
  EXPECT_TRUE(mentions(r.error(), "agent id")) << r.error().message;
  EXPECT_TRUE(mentions(r.error(), "empty")) << r.error().message;
  EXPECT_TRUE(mentions(r.error(), id_rule)) << r.error().message;
}

// Verifies the length limit is inclusive: 128 characters pass, 129 fail with the length named.
TEST(AgentId, AcceptsExactly128AndRejects129Characters) {
  ASSERT_EQ(limits::max_id_len, 128u);
  EXPECT_TRUE(validate_agent_id(std::string(128, 'a')));
  auto r = validate_agent_id(std::string(129, 'a'));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, errc::invalid_argument);
  EXPECT_TRUE(mentions(r.error(), "129")) << r.error().message;
  EXPECT_TRUE(mentions(r.error(), id_rule)) << r.error().message;
}

// Verifies a space, a slash and a non-ASCII byte are each refused and shown in the error.
TEST(AgentId, RejectsCharactersOutsideTheAlphabet) {
  auto space = validate_agent_id("alice bob");
  ASSERT_FALSE(space);
  EXPECT_EQ(space.error().code, errc::invalid_argument);
  EXPECT_TRUE(mentions(space.error(), "' '")) << space.error().message;
  EXPECT_TRUE(mentions(space.error(), id_rule)) << space.error().message;

  auto slash = validate_agent_id("alice/bob");
  ASSERT_FALSE(slash);
  EXPECT_EQ(slash.error().code, errc::invalid_argument);
  EXPECT_TRUE(mentions(slash.error(), "'/'")) << slash.error().message;

  // "é" in UTF-8 is 0xC3 0xA9; the first offending byte (195) is reported.
  auto utf8 = validate_agent_id("caf\xC3\xA9");
  ASSERT_FALSE(utf8);
  EXPECT_EQ(utf8.error().code, errc::invalid_argument);
  EXPECT_TRUE(mentions(utf8.error(), "byte 195")) << utf8.error().message;

  // A NUL inside the view must not be mistaken for the end of the id.
  auto nul = validate_agent_id(std::string_view{"ab\0c", 4});
  ASSERT_FALSE(nul);
  EXPECT_TRUE(mentions(nul.error(), "byte 0")) << nul.error().message;
}

// Verifies every allowed character class and punctuation mark is accepted, alone and mixed.
TEST(AgentId, AcceptsEveryAllowedCharacter) {
  for (char c : std::string_view{"._:-"}) {
    EXPECT_TRUE(validate_agent_id(std::string(1, c))) << "punctuation '" << c << "'";
  }
  EXPECT_TRUE(validate_agent_id("abcdefghijklmnopqrstuvwxyz"));
  EXPECT_TRUE(validate_agent_id("ABCDEFGHIJKLMNOPQRSTUVWXYZ"));
  EXPECT_TRUE(validate_agent_id("0123456789"));
  EXPECT_TRUE(validate_agent_id("node-1:agent_7.v2"));
}

// Verifies the neighbours of the allowed punctuation in ASCII are refused (no off-by-one ranges).
TEST(AgentId, RejectsAsciiNeighboursOfAllowedRanges) {
  for (char c : std::string_view{"/@[`{,;+*~!#$%&'\"()<=>?\\^|"}) {
    EXPECT_FALSE(validate_agent_id(std::string{"a"} + c + "b")) << "character '" << c << "'";
  }
}

// Verifies validate_id puts the caller's field name into the message.
TEST(Id, NamesTheFieldInTheError) {
  auto r = validate_id("", "skill id");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message.rfind("skill id", 0), 0u) << r.error().message;
  auto room = validate_room_id("a b");
  ASSERT_FALSE(room);
  EXPECT_TRUE(mentions(room.error(), "room id")) << room.error().message;
}

// Verifies errc names and the "code: message" rendering of an error.
TEST(Error, RendersCodeAndMessage) {
  EXPECT_EQ(to_string(errc::not_found), "not_found");
  EXPECT_EQ(to_string(errc::failed_precondition), "failed_precondition");
  EXPECT_EQ(to_string(error{errc::not_found, "agent 'bob' does not exist"}),
            "not_found: agent 'bob' does not exist");
}

} // namespace
} // namespace parley
