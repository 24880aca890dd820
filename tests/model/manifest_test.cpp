#include "parley/model/manifest.hpp"

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "parley/model/limits.hpp"

namespace parley {
namespace {

manifest valid_manifest() {
  manifest m;
  m.id = "alice";
  m.display_name = "Alice";
  m.bio = "Answers questions about trains.";
  m.activities = {"reading timetables"};
  m.skills.push_back(skill{"timetables", "Timetables", {"rail", "travel"}, "Knows departures."});
  return m;
}

// Asserts `m` fails with invalid_argument and a message naming the agent and every `words`.
void expect_rejected(const manifest& m, std::vector<std::string> words) {
  auto r = validate(m);
  ASSERT_FALSE(r) << "expected a failure mentioning " << words.front();
  EXPECT_EQ(r.error().code, errc::invalid_argument);
  EXPECT_NE(r.error().message.find("'" + m.id + "'"), std::string::npos) << r.error().message;
  for (auto& w : words)
    EXPECT_NE(r.error().message.find(w), std::string::npos)
      << "'" << w << "' missing from: " << r.error().message;
}

// Verifies a manifest with typical values passes, as do fields exactly at their limits.
TEST(Manifest, AcceptsValuesUpToEveryLimit) {
  EXPECT_TRUE(validate(valid_manifest()));

  auto m = valid_manifest();
  m.display_name = std::string(limits::max_display_name, 'd');
  m.bio = std::string(limits::max_bio, 'b');
  m.activities.assign(limits::max_activities, std::string(limits::max_activity_len, 'a'));
  skill s{"s", std::string(limits::max_skill_name, 'n'),
          std::vector<std::string>(limits::max_tags, std::string(limits::max_tag_len, 't')),
          std::string(limits::max_skill_description, 'x')};
  m.skills.assign(limits::max_skills, s);
  m.capacity = limits::max_capacity;
  auto r = validate(m);
  EXPECT_TRUE(r) << (r ? "" : r.error().message);

  m.display_name.clear(); // may be empty
  m.capacity = 1;
  EXPECT_TRUE(validate(m));
}

// Verifies an invalid agent id is refused with the id rule.
TEST(Manifest, RejectsInvalidAgentId) {
  auto m = valid_manifest();
  m.id = "alice smith";
  auto r = validate(m);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, errc::invalid_argument);
  EXPECT_NE(r.error().message.find("agent id"), std::string::npos) << r.error().message;
}

// Verifies display_name over 128 bytes is refused naming the field and the limit.
TEST(Manifest, RejectsLongDisplayName) {
  auto m = valid_manifest();
  m.display_name = std::string(limits::max_display_name + 1, 'd');
  expect_rejected(m, {"display_name", "129", "128"});
}

// Verifies bio over 2 KiB is refused naming the field.
TEST(Manifest, RejectsLongBio) {
  auto m = valid_manifest();
  m.bio = std::string(limits::max_bio + 1, 'b');
  expect_rejected(m, {"bio", "2049", "2048"});
}

// Verifies more than 16 activities are refused naming the field and the count.
TEST(Manifest, RejectsTooManyActivities) {
  auto m = valid_manifest();
  m.activities.assign(limits::max_activities + 1, "x");
  expect_rejected(m, {"activities", "17", "16"});
}

// Verifies one activity over 256 bytes is refused.
TEST(Manifest, RejectsLongActivity) {
  auto m = valid_manifest();
  m.activities.push_back(std::string(limits::max_activity_len + 1, 'a'));
  expect_rejected(m, {"activity", "257", "256"});
}

// Verifies more than 32 skills are refused naming the field.
TEST(Manifest, RejectsTooManySkills) {
  auto m = valid_manifest();
  m.skills.assign(limits::max_skills + 1, m.skills.front());
  expect_rejected(m, {"skills", "33", "32"});
}

// Verifies a skill with an empty or malformed id is refused, naming "skill id".
TEST(Manifest, RejectsInvalidSkillId) {
  auto m = valid_manifest();
  m.skills.front().id = "";
  expect_rejected(m, {"skill id"});
  m.skills.front().id = "time tables";
  expect_rejected(m, {"skill id", "time tables"});
}

// Verifies a skill name over 128 bytes and a description over 1 KiB are refused naming the skill.
TEST(Manifest, RejectsLongSkillNameAndDescription) {
  auto m = valid_manifest();
  m.skills.front().name = std::string(limits::max_skill_name + 1, 'n');
  expect_rejected(m, {"timetables", "name", "129"});

  m = valid_manifest();
  m.skills.front().description = std::string(limits::max_skill_description + 1, 'x');
  expect_rejected(m, {"timetables", "description", "1025"});
}

// Verifies more than 16 tags, a tag over 64 bytes and an empty tag are each refused.
TEST(Manifest, RejectsBadTags) {
  auto m = valid_manifest();
  m.skills.front().tags.assign(limits::max_tags + 1, "t");
  expect_rejected(m, {"timetables", "tags", "17"});

  m = valid_manifest();
  m.skills.front().tags.push_back(std::string(limits::max_tag_len + 1, 't'));
  expect_rejected(m, {"timetables", "tag", "65"});

  m = valid_manifest();
  m.skills.front().tags.push_back("");
  expect_rejected(m, {"timetables", "tag", "1-64"});
}

// Verifies capacity 0 and capacity above 10000 are refused; the bounds are 1..10000.
TEST(Manifest, RejectsCapacityOutsideRange) {
  auto m = valid_manifest();
  m.capacity = 0;
  expect_rejected(m, {"capacity", "1-10000"});
  m.capacity = limits::max_capacity + 1;
  expect_rejected(m, {"capacity", "10001"});
}

// Verifies agent_status names round-trip and an unknown name lists the valid ones.
TEST(AgentStatus, ParsesEveryNameAndRejectsUnknown) {
  for (auto s :
       {agent_status::active, agent_status::busy, agent_status::idle, agent_status::retired}) {
    auto parsed = parse_agent_status(to_string(s));
    ASSERT_TRUE(parsed) << to_string(s);
    EXPECT_EQ(*parsed, s);
  }
  EXPECT_EQ(to_string(agent_status::busy), "busy");
  auto bad = parse_agent_status("asleep");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, errc::invalid_argument);
  EXPECT_NE(bad.error().message.find("asleep"), std::string::npos);
  EXPECT_NE(bad.error().message.find("active busy idle retired"), std::string::npos)
    << bad.error().message;
  EXPECT_FALSE(parse_agent_status("Active")); // names are case-sensitive
  EXPECT_FALSE(parse_agent_status(""));
}

} // namespace
} // namespace parley
