#include "parley/model/event_cursor.hpp"

#include <charconv>

#include "parley/model/ids.hpp"

namespace parley {

namespace {

constexpr std::string_view version = "1|";

unexpected bad(std::string why) {
  return unexpected{errc::invalid_argument,
                    "resume_token: " + std::move(why) + " (use a token exactly as an event or trailer gave it)"};
}

} // namespace

std::optional<uint64_t> event_cursor::next(const std::string& node) const {
  auto it = next_.find(node);
  if (it == next_.end())
    return std::nullopt;
  return it->second;
}

std::string event_cursor::token() const {
  std::string out{version};
  bool first = true;
  for (auto& [node, next] : next_) {
    if (!first)
      out += ',';
    first = false;
    out.append(node).append(1, '=').append(std::to_string(next));
  }
  return out;
}

expected<event_cursor> event_cursor::parse(std::string_view token) {
  if (!token.starts_with(version))
    return bad("not a resume token of this version");
  token.remove_prefix(version.size());
  event_cursor out;
  bool more = !token.empty(); // an entry follows (also after a last ',')
  while (more) {
    auto comma = token.find(',');
    auto entry = token.substr(0, comma);
    more = comma != std::string_view::npos;
    token = more ? token.substr(comma + 1) : std::string_view{};
    auto eq = entry.find('=');
    if (eq == std::string_view::npos)
      return bad("entry '" + std::string{entry} + "' is not node=offset");
    auto node = entry.substr(0, eq);
    if (auto ok = validate_id(node, "node id"); !ok)
      return bad(ok.error().message);
    auto digits = entry.substr(eq + 1);
    uint64_t next = 0;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), next);
    if (ec != std::errc{} || end != digits.data() + digits.size() || digits.empty())
      return bad("offset '" + std::string{digits} + "' of node '" + std::string{node} + "' is not a number");
    if (!out.next_.try_emplace(std::string{node}, next).second)
      return bad("node '" + std::string{node} + "' is named twice");
  }
  return out;
}

} // namespace parley
