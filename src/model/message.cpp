#include "parley/model/message.hpp"

#include <nlohmann/json.hpp>

#include "enum_names.hpp"
#include "parley/model/limits.hpp"

namespace parley {

namespace {

constexpr detail::enum_table<content_type, 2> type_names{{
  {content_type::text, "text"},
  {content_type::json, "json"},
}};

constexpr detail::enum_table<message_status, 3> status_names{{
  {message_status::sent, "sent"},
  {message_status::delivered, "delivered"},
  {message_status::read, "read"},
}};

} // namespace

std::string_view to_string(content_type x) noexcept {
  return detail::enum_name(type_names, x);
}
std::string_view to_string(message_status x) noexcept {
  return detail::enum_name(status_names, x);
}
expected<content_type> parse_content_type(std::string_view text) {
  // The media types clients send mean the same.
  if (text == "text/plain")
    return content_type::text;
  if (text == "application/json")
    return content_type::json;
  return detail::enum_parse(type_names, text, "content type");
}
expected<message_status> parse_message_status(std::string_view text) {
  return detail::enum_parse(status_names, text, "message status");
}

expected<void> validate(const message& m) {
  auto bad = [&](std::string why) {
    return unexpected{errc::invalid_argument, "message '" + m.id + "' from '" + m.from + "': " + why};
  };
  if (!m.id.empty())
    if (auto ok = validate_id(m.id, "message id"); !ok)
      return bad(ok.error().message);
  if (auto ok = validate_agent_id(m.from); !ok)
    return bad("sender: " + ok.error().message);
  if (auto ok = validate_id(m.to.id, m.to.is_room() ? "room id" : "agent id"); !ok)
    return bad("recipient: " + ok.error().message);
  if (!m.reply_to.empty())
    if (auto ok = validate_id(m.reply_to, "reply_to"); !ok)
      return bad(ok.error().message);
  if (m.content.size() > limits::max_content)
    return bad("content is " + std::to_string(m.content.size()) + " bytes, the limit is "
               + std::to_string(limits::max_content));
  if (m.type == content_type::json) {
    auto doc = nlohmann::json::parse(m.content, nullptr, false);
    if (doc.is_discarded() || !(doc.is_object() || doc.is_array()))
      return bad("content of type json is not a JSON object or array");
  }
  return {};
}

} // namespace parley
