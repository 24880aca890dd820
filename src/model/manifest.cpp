#include "parley/model/manifest.hpp"

#include "enum_names.hpp"
#include "parley/model/limits.hpp"

namespace parley {

namespace {

constexpr detail::enum_table<agent_status, 4> status_names{{
  {agent_status::active, "active"},
  {agent_status::busy, "busy"},
  {agent_status::idle, "idle"},
  {agent_status::retired, "retired"},
}};

unexpected too_long(const manifest& m, std::string_view field, size_t size, size_t limit) {
  return unexpected{errc::invalid_argument, "manifest of agent '" + m.id + "': " + std::string{field}
                                              + " is " + std::to_string(size)
                                              + " bytes, the limit is " + std::to_string(limit)};
}

unexpected too_many(const manifest& m, std::string_view field, size_t n, size_t limit) {
  return unexpected{errc::invalid_argument, "manifest of agent '" + m.id + "': " + std::string{field}
                                              + " has " + std::to_string(n)
                                              + " entries, the limit is " + std::to_string(limit)};
}

} // namespace

std::string_view to_string(agent_status x) noexcept {
  return detail::enum_name(status_names, x);
}

expected<agent_status> parse_agent_status(std::string_view text) {
  return detail::enum_parse(status_names, text, "agent status");
}

expected<void> validate(const manifest& m) {
  if (auto ok = validate_agent_id(m.id); !ok)
    return unexpected{ok.error()};
  if (m.display_name.size() > limits::max_display_name)
    return too_long(m, "display_name", m.display_name.size(), limits::max_display_name);
  if (m.bio.size() > limits::max_bio)
    return too_long(m, "bio", m.bio.size(), limits::max_bio);
  if (m.activities.size() > limits::max_activities)
    return too_many(m, "activities", m.activities.size(), limits::max_activities);
  for (auto& a : m.activities)
    if (a.size() > limits::max_activity_len)
      return too_long(m, "an activity", a.size(), limits::max_activity_len);
  if (m.skills.size() > limits::max_skills)
    return too_many(m, "skills", m.skills.size(), limits::max_skills);
  for (auto& s : m.skills) {
    if (auto ok = validate_id(s.id, "skill id"); !ok)
      return unexpected{errc::invalid_argument,
                        "manifest of agent '" + m.id + "': " + ok.error().message};
    if (s.name.size() > limits::max_skill_name)
      return too_long(m, "skill '" + s.id + "' name", s.name.size(), limits::max_skill_name);
    if (s.description.size() > limits::max_skill_description)
      return too_long(m, "skill '" + s.id + "' description", s.description.size(),
                      limits::max_skill_description);
    if (s.tags.size() > limits::max_tags)
      return too_many(m, "skill '" + s.id + "' tags", s.tags.size(), limits::max_tags);
    for (auto& t : s.tags)
      if (t.empty() || t.size() > limits::max_tag_len)
        return unexpected{errc::invalid_argument, "manifest of agent '" + m.id + "': skill '" + s.id
                                                    + "' has a tag of " + std::to_string(t.size())
                                                    + " bytes, tags must be 1-64 bytes"};
  }
  if (m.capacity == 0 || m.capacity > limits::max_capacity)
    return unexpected{errc::invalid_argument, "manifest of agent '" + m.id + "': capacity "
                                                + std::to_string(m.capacity)
                                                + " is outside 1-10000"};
  return {};
}

} // namespace parley
