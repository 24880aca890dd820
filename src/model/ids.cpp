#include "parley/model/ids.hpp"

#include <cctype>

#include "parley/model/limits.hpp"

namespace parley {

namespace {

bool id_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.'
         || c == '_' || c == ':' || c == '-';
}

} // namespace

expected<void> validate_id(std::string_view id, std::string_view what) {
  auto fail = [&](std::string why) {
    std::string msg{what};
    msg += ' ';
    msg += why;
    msg += ": must be 1-128 characters of [A-Za-z0-9._:-]";
    return unexpected{errc::invalid_argument, std::move(msg)};
  };
  if (id.empty())
    return fail("is empty");
  if (id.size() > limits::max_id_len)
    return fail("'" + std::string{id.substr(0, 32)} + "...' is " + std::to_string(id.size())
                + " characters long");
  for (char c : id)
    if (!id_char(c)) {
      // Built with append: g++ 12 warns (-Wrestrict, a false positive) on
      // "literal" + std::string&& here at -O3.
      std::string why = "'";
      why.append(id).append("' contains ");
      if (std::isprint(static_cast<unsigned char>(c)))
        why.append(1, '\'').append(1, c).append(1, '\'');
      else
        why.append("byte ").append(std::to_string(static_cast<unsigned char>(c)));
      return fail(std::move(why));
    }
  return {};
}

namespace {

// <digits> or <digits>.<digits>
bool counter_form(std::string_view s) noexcept {
  if (s.empty())
    return false;
  bool dot = false;
  bool digit_before = false;
  for (char c : s) {
    if (c >= '0' && c <= '9') {
      digit_before = true;
    } else if (c == '.' && !dot && digit_before) {
      dot = true;
      digit_before = false;
    } else {
      return false;
    }
  }
  return digit_before;
}

} // namespace

bool is_generated_room_id(std::string_view id) noexcept {
  return id.starts_with("room-") && counter_form(id.substr(5));
}

bool is_generated_message_id(std::string_view id) noexcept {
  return (id.starts_with("m") && counter_form(id.substr(1)))
         || (id.starts_with("api-") && counter_form(id.substr(4)));
}

} // namespace parley
